"""The Module system (``autodiff.nn.module``) and checkpoints (``autodiff.nn.serialization``),
exercised through a small model with a ModuleList, a batch norm and a Sequential: PyTorch's dotted
names, traversal, train/eval, zero_grad, state-dict round trips, .npz checkpoints that are not
pickles, strict loading that names the offending key, and saves that are atomic.
"""
import pickle

import numpy as np
import pytest

import autodiff as ad
from autodiff import files
from autodiff import backend, nn
from autodiff.nn.layers import Linear, ReLU
from autodiff.nn.module import Module, ModuleList, Parameter, Sequential
from autodiff.nn.normalization import BatchNorm1d, BatchNorm2d


class Net(Module):
    def __init__(self):
        super().__init__()
        self.blocks = ModuleList([Linear(4, 8), Linear(8, 8)])
        self.norm = BatchNorm1d(8)
        self.head = Sequential(ReLU(), Linear(8, 3))
        self.scale = Parameter(np.ones(1))

    def forward(self, x):
        for block in self.blocks:
            x = block(x).relu()
        return self.head(self.norm(x)) * self.scale


# a module's own parameters come before its children's, as in PyTorch
PARAMS = ["scale", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
          "norm.weight", "norm.bias", "head.1.weight", "head.1.bias"]
BUFFERS = ["norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]


def data(seed=0):
    return ad.Tensor(np.random.default_rng(seed).standard_normal((6, 4)))


def trained(seed=0):
    """A model whose parameters and running statistics are not the initial ones."""
    ad.manual_seed(seed)
    model = Net()
    model(data(seed + 1)).sum().backward()
    with ad.no_grad():
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    return model


def outputs(model, x=None):
    return model.eval()(data(9) if x is None else x).numpy()


# -- names and traversal -----------------------------------------------------------------------
def test_dotted_names_follow_pytorch():
    model = Net()
    assert [n for n, _ in model.named_parameters()] == PARAMS
    assert [n for n, _ in model.named_buffers()] == BUFFERS
    assert set(model.state_dict()) == set(PARAMS) | set(BUFFERS)
    assert model.head[1] is model.head._modules["1"] and len(model.blocks) == 2
    assert [n for n, _ in model.named_modules()] == [
        "", "blocks", "blocks.0", "blocks.1", "norm", "head", "head.0", "head.1"]


def test_parameters_children_and_shapes():
    model = Net()
    params = list(model.parameters())
    assert len(params) == len(PARAMS) and all(isinstance(p, Parameter) for p in params)
    assert all(p.requires_grad for p in params)
    assert list(model.children()) == [model.blocks, model.norm, model.head]
    assert [n for n, _ in model.named_children()] == ["blocks", "norm", "head"]
    assert dict(model.named_parameters())["blocks.0.weight"].shape == (8, 4)


def test_shared_parameter_is_listed_once():
    model = Net()
    tied = Sequential(model.blocks[0], model.blocks[0])
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias"]


def test_train_and_eval_reach_every_module():
    model = Net()
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_every_gradient():
    model = Net()
    model(data()).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# -- state dicts -------------------------------------------------------------------------------
def test_state_dict_round_trip_gives_identical_outputs():
    source, fresh = trained(0), Net()
    assert not np.array_equal(outputs(source), outputs(fresh))
    fresh.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(outputs(fresh), outputs(source))
    for (name, a), b in zip(source.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b), err_msg=name)
    assert int(backend.to_numpy(fresh.norm.num_batches_tracked)) == 1


def test_load_state_dict_copies_into_the_existing_arrays():
    source, target = trained(0), Net()
    weight = target.blocks[0].weight
    array = weight.data
    target.load_state_dict(source.state_dict())
    assert target.blocks[0].weight is weight and weight.data is array  # optimizers keep working
    source.blocks[0].weight.data[...] = 0
    assert backend.to_numpy(weight.data).any()                          # a copy, not a view


def test_load_state_dict_accepts_host_arrays():
    source = trained(0)
    on_host = {k: backend.to_numpy(v).copy() for k, v in source.state_dict().items()}
    fresh = Net()
    fresh.load_state_dict(on_host)
    np.testing.assert_array_equal(outputs(fresh), outputs(source))


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    sd = {k: backend.to_numpy(v).copy() for k, v in Net().state_dict().items()}
    missing = dict(sd)
    del missing["norm.running_var"]
    with pytest.raises(KeyError, match=r"missing keys: norm\.running_var"):
        Net().load_state_dict(missing)
    extra = dict(sd, **{"head.2.weight": np.zeros(3)})
    with pytest.raises(KeyError, match=r"unexpected keys: head\.2\.weight"):
        Net().load_state_dict(extra)
    Net().load_state_dict(extra, strict=False)
    bad = dict(sd, **{"blocks.1.weight": np.zeros((8, 5))})
    with pytest.raises(ValueError, match=r"'blocks\.1\.weight' has shape \(8, 5\).*\(8, 8\)"):
        Net().load_state_dict(bad)


# -- checkpoints -------------------------------------------------------------------------------
def test_save_and_load_round_trip(tmp_path):
    source, fresh = trained(0), Net()
    path = tmp_path / "model.npz"
    nn.save(source, path)
    nn.load(fresh, path)
    np.testing.assert_array_equal(outputs(fresh), outputs(source))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_checkpoint_is_a_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "model.npz"
    nn.save(trained(0), path)
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(PARAMS + BUFFERS)
        assert f["blocks.0.weight"].shape == (8, 4) and f["blocks.0.weight"].dtype == np.float32
        assert f["norm.num_batches_tracked"].shape == ()


def test_checkpoint_with_wrong_entries_raises_naming_the_key(tmp_path):
    good = {k: backend.to_numpy(v).copy() for k, v in Net().state_dict().items()}
    cases = {
        "missing": ({k: v for k, v in good.items() if k != "head.1.bias"},
                    KeyError, r"missing keys: head\.1\.bias"),
        "extra": (dict(good, **{"blocks.2.weight": np.ones(2)}),
                  KeyError, r"unexpected keys: blocks\.2\.weight"),
        "misshaped": (dict(good, **{"norm.running_mean": np.zeros(7, np.float32)}),
                      ValueError, r"'norm\.running_mean' has shape \(7,\).*\(8,\)"),
    }
    for name, (arrays, error, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        with pytest.raises(error, match=message):
            nn.load(Net(), path)


def test_pickled_content_is_refused(tmp_path):
    objects = tmp_path / "objects.npz"
    np.savez(objects, **{"blocks.0.weight": np.array([{"evil": 1}], dtype=object)})
    with pytest.raises(ValueError, match=r"not a minioptim checkpoint.*pickled Python objects.*"
                                         r"never unpickles"):
        nn.load(Net(), objects)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"blocks.0.weight": np.zeros((8, 4))}))
    with pytest.raises(ValueError, match=r"not a minioptim checkpoint.*not a zip archive"):
        nn.load(Net(), raw)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        nn.load(Net(), tmp_path / "absent.npz")


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    first = trained(0)
    nn.save(first, path)
    before = path.read_bytes()

    def write_half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04" + b"\0" * 1000)     # the start of a zip, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(files.np, "savez", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        nn.save(trained(1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]   # no temporary file left
    fresh = Net()
    nn.load(fresh, path)
    np.testing.assert_array_equal(outputs(fresh), outputs(first))


def test_reassigned_buffer_stays_in_the_state_dict():
    bn = BatchNorm2d(3)
    bn.running_mean = ad.backend.xp.ones(3, dtype="float32")   # rebinding, not writing into it
    assert "running_mean" in bn.state_dict()
    np.testing.assert_array_equal(ad.backend.to_numpy(bn.state_dict()["running_mean"]), np.ones(3))


def test_a_failed_load_changes_nothing():
    lin = Linear(3, 2)
    before = lin.weight.numpy()
    bad = {"weight": ad.backend.xp.zeros((2, 3), dtype="float32"),
           "bias": ad.backend.xp.zeros((5,), dtype="float32")}
    with pytest.raises(ValueError, match="'bias' has shape"):
        lin.load_state_dict(bad)
    np.testing.assert_array_equal(lin.weight.numpy(), before)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip"])
def test_a_corrupt_checkpoint_is_named(tmp_path, content):
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a minioptim checkpoint"):
        nn.load(Linear(3, 2), path)


def test_state_dict_goes_module_by_module_like_pytorch():
    model = nn.Sequential(Linear(2, 3), BatchNorm1d(3))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                        "1.running_mean", "1.running_var",
                                        "1.num_batches_tracked"]
