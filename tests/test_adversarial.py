"""Bad inputs and faults that used to give silently wrong results, raw NumPy errors or hangs:
each is now a clear error naming what to fix, or the right result (the adversarial review's
findings, one test each). The atomic-file cases (umask, SIGTERM, stale temporaries, forged
headers) are in tests/test_files.py."""
from __future__ import annotations

import os
import pickle
import tarfile
import threading
import zipfile

import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from autodiff import nn
from autodiff.nn import functional as F
from minioptim import data
from minioptim.data import files as data_files
from minioptim.data import images
from minioptim.models import LSTMLanguageModel


def _first_backend_only(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("host-side files; checked once")


# -- 1. gradients after an in-place change -------------------------------------------------------
def test_an_optimizer_step_between_forward_and_backward_is_refused():
    w = ad.Tensor([1.0, 1.0], requires_grad=True)
    y = (w * w).sum()
    w.grad = ad.backend.asarray(np.ones(2, np.float32))
    mo.SGD([w], lr=1.0).step()
    with pytest.raises(RuntimeError, match=r"backward through 'mul': its input 0, the tensor of "
                                           r"shape \(2,\), was modified by an in-place operation "
                                           r"after it was used by 'mul' \(last changed by "
                                           r"SGD.step\(\)\)"):
        y.backward()


def test_an_item_assignment_to_a_constant_used_in_the_graph_is_refused():
    c = ad.Tensor([2.0, 3.0])
    x = ad.Tensor([1.0, 1.0], requires_grad=True)
    y = (x * c).sum()
    c[:] = 100.0
    with pytest.raises(RuntimeError, match=r"input 1.*item assignment"):
        y.backward()


def test_a_view_of_a_changed_parameter_is_refused_too():
    w = ad.Tensor([[1.0, 2.0]], requires_grad=True)
    v = w.reshape(-1)
    y = (v * v).sum()
    w.grad = w.data * 0
    mo.Adam([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_ops_that_saved_nothing_of_the_changed_tensor_still_backpropagate():
    a = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = (a + 1.0).sum()                           # addition keeps nothing of a
    a.grad = a.data * 0 + 1
    mo.SGD([a], lr=0.1).step()
    a.grad = None
    y.backward()
    np.testing.assert_array_equal(ad.backend.to_numpy(a.grad), [1.0, 1.0])


def test_the_usual_loop_is_not_disturbed_and_the_version_counts():
    w = ad.Tensor([1.0, -1.0], requires_grad=True)
    opt = mo.SGD([w], lr=0.1)
    for step in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        assert w.version == step + 1


# -- 2. optimizer state loads --------------------------------------------------------------------
@pytest.mark.parametrize("change, words", [
    ({"lr": -5}, "lr must be a finite number >= 0"),
    ({"betas": (1.5, 2.0)}, "betas must be a pair"),
    ({"eps": float("nan")}, "eps must be a finite number >= 0"),
    ({"weight_decay_mode": "decoupeld"}, "weight_decay_mode must be one of"),
    ({"lr": float("inf")}, "lr must be a finite number >= 0"),
])
def test_a_loaded_state_dict_passes_the_constructors_checks(change, words):
    p = mo.Point([1.0, 2.0])
    saved = mo.Adam([p], lr=0.1).state_dict()
    saved["param_groups"][0].update(change)
    fresh = mo.Adam([mo.Point([1.0, 2.0])], lr=0.1)
    with pytest.raises(ValueError, match=words):
        fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["betas"] == (0.9, 0.999)


def test_a_failed_load_leaves_every_parameters_state_as_it_was():
    ps = [mo.Point([1.0, 2.0]), mo.Point([3.0]), mo.Point([4.0, 5.0, 6.0])]
    opt = mo.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = p.data * 0 + 1
    opt.step()
    before = {k: {n: np.copy(ad.backend.to_numpy(v)) if ad.backend.is_array(v) else v
                  for n, v in s.items()} for k, s in opt.state_dict()["state"].items()}
    broken = opt.state_dict()
    for s in broken["state"].values():
        s["m"] = s["m"] * 0 + 7                       # would replace the moments ...
    broken["state"][2]["v"] = ad.backend.asarray(np.ones(2))   # ... but parameter 2 is wrong
    with pytest.raises(ValueError, match=r"state 'v' of parameter 2 has shape \(2,\)"):
        opt.load_state_dict(broken)
    after = opt.state_dict()["state"]
    for k, s in before.items():
        np.testing.assert_array_equal(ad.backend.to_numpy(after[k]["m"]), s["m"])


@pytest.mark.parametrize("state_dict, words", [
    ({}, "expects a dict with 'param_groups'"),
    ({"param_groups": [], "state": {}}, "has 0 parameter groups"),
    ("not a dict", "expects a dict"),
])
def test_malformed_state_dicts_are_named(state_dict, words):
    opt = mo.SGD([mo.Point([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=words):
        opt.load_state_dict(state_dict)


def test_state_for_a_parameter_that_does_not_exist_is_refused():
    opt = mo.Adam([mo.Point([1.0])], lr=0.1)
    saved = opt.state_dict()
    saved["state"] = {5: {"step": 1}}
    with pytest.raises(ValueError, match=r"state for parameter 5.*parameters 0 \.\. 0"):
        opt.load_state_dict(saved)


def test_gradients_of_the_wrong_shape_or_kind_are_refused_in_step():
    p = mo.Point([1.0, 2.0, 3.0])
    opt = mo.SGD([p], lr=0.1)
    p.grad = ad.backend.asarray(np.ones(1))
    with pytest.raises(ValueError, match=r"gradient of parameter 0 of SGD \(shape \(3,\)\) has "
                                         r"shape \(1,\).*never broadcast"):
        opt.step()
    p.grad = ad.backend.asarray(np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match="holds int64 data; gradients are floating point"):
        opt.step()
    np.testing.assert_array_equal(ad.backend.to_numpy(p.data), [1.0, 2.0, 3.0])


def test_integer_parameters_are_refused_at_construction():
    with pytest.raises(TypeError, match="holds int64 data; an optimizer updates floating-point"):
        mo.SGD([ad.Tensor([1, 2])], lr=0.1)


# -- 3. checkpoint files and state dicts ---------------------------------------------------------
def test_a_header_claiming_a_trillion_floats_fails_fast(tmp_path, backend_name):
    _first_backend_only(backend_name)
    real = tmp_path / "w.npy"
    np.save(real, np.zeros(6, np.float32))
    forged = real.read_bytes().replace(b"(6,)", b"(1000000000000,)")
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as z:
        z.writestr("weight.npy", forged)
    with pytest.raises(ValueError, match="is not a minioptim checkpoint"):
        nn.load(nn.Linear(3, 2), tmp_path / "forged.npz")


def test_a_zip_bomb_is_refused_by_its_shape_before_it_is_read(tmp_path, backend_name):
    _first_backend_only(backend_name)
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, weight=np.zeros((4000, 4000), np.float32),
                        bias=np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"'weight' has shape \(4000, 4000\) in .*bomb.npz but "
                                         r"\(2, 3\) in the model"):
        nn.load(nn.Linear(3, 2), path)


@pytest.mark.parametrize("content, words", [(b"hello\n", "not a zip archive"),
                                            (None, "a single .npy array")])
def test_files_that_are_not_checkpoints_are_named_plainly(tmp_path, content, words, backend_name):
    _first_backend_only(backend_name)
    path = tmp_path / "x.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        nn.load(nn.Linear(3, 2), path)
    assert words in str(info.value) and "allow_pickle" not in str(info.value)


@pytest.mark.parametrize("value, words", [
    (np.full((2, 3), 1e300), "not finite as float32"),
    (np.ones((2, 3), dtype=bool), "holds bool data"),
    (np.ones((2, 3), dtype=np.int8), "holds int8 data"),
    (np.ones((2, 3), dtype=np.complex64), "holds complex64 data"),
])
def test_load_state_dict_refuses_values_that_would_change_in_the_cast(value, words):
    layer = nn.Linear(3, 2)
    before = layer.weight.numpy()
    with pytest.raises((ValueError, TypeError), match=f"'weight'.*{words}|'weight' {words}|"
                                                      f"{words}"):
        layer.load_state_dict({"weight": value, "bias": np.zeros(2, np.float32)})
    np.testing.assert_array_equal(layer.weight.numpy(), before)


def test_a_buffer_that_is_not_an_array_is_named_at_save(tmp_path, backend_name):
    _first_backend_only(backend_name)
    bn = nn.BatchNorm1d(2)
    bn.running_mean = "zeros"                      # rebinding a buffer by mistake
    with pytest.raises(TypeError, match="'running_mean' is a str, not an array"):
        nn.save(bn, tmp_path / "bn.npz")
    assert not os.listdir(tmp_path)


# -- 4. data -------------------------------------------------------------------------------------
def test_a_forged_cifar_cache_is_not_trusted(tmp_path, monkeypatch, backend_name):
    _first_backend_only(backend_name)
    folder = tmp_path / "cifar10"
    folder.mkdir()
    x = np.zeros((3, 3, 32, 32), np.uint8)
    np.savez(folder / "cifar-10.npz", train_images=x, train_labels=np.array([99, -5, 7]),
             test_images=x, test_labels=np.array([0, 1, 2]),
             classes=np.array([str(i) for i in range(10)]),
             source_md5=np.array(data.CIFAR10.md5))
    with pytest.raises(data.DataNotFoundError, match="cifar-10-python.tar.gz"):
        data.cifar10(root=tmp_path, download=False)


def test_a_trickling_download_gives_up_at_its_deadline(tmp_path, monkeypatch, backend_name):
    _first_backend_only(backend_name)
    import time
    import urllib.request

    class Trickle:
        headers = {"Content-Length": "100000"}

        def read1(self, n):
            time.sleep(0.05)
            return b"x"
        read = read1

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Trickle())
    start = time.monotonic()
    with pytest.raises(data.DataError, match=r"gave up the download.*more than 0.5 s"):
        data.download("https://example.invalid/x", str(tmp_path / "x"), "0" * 32,
                      progress=False, deadline=0.5)
    assert time.monotonic() - start < 5 and not os.listdir(tmp_path)


def test_a_data_folder_that_is_a_file_is_named(tmp_path, monkeypatch, backend_name):
    _first_backend_only(backend_name)
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("x")
    monkeypatch.setenv("MINIOPTIM_DATA", str(not_a_folder))
    with pytest.raises(data.DataError, match=r"data.txt \(from \$MINIOPTIM_DATA\) is a file"):
        data.ptb(download=False)


def test_a_truncated_tarball_is_a_data_error(tmp_path, backend_name):
    _first_backend_only(backend_name)
    archive = tmp_path / "cifar.tar.gz"
    member = tmp_path / "data_batch_1"
    member.write_bytes(np.random.default_rng(0).bytes(200_000))
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(member, arcname="cifar-10-batches-py/data_batch_1")
    archive.write_bytes(archive.read_bytes()[:100_000])        # cut short mid-member
    with pytest.raises(data.DataError, match="not a readable tar archive"):
        images.read_tarball(str(archive))


def test_a_ptb_file_that_is_not_utf8_is_a_data_error(tmp_path, backend_name):
    _first_backend_only(backend_name)
    from minioptim.data import text
    path = tmp_path / "ptb.train.txt"
    path.write_bytes(b"the cat \xff\xfe sat\n")
    with pytest.raises(data.DataError, match="is not UTF-8 text"):
        text.read_lines(str(path))


def test_a_pickle_asking_for_terabytes_is_a_data_error(backend_name):
    _first_backend_only(backend_name)
    # a small pickle whose array header claims 2**40 float64 values (8 TiB) and holds 16 bytes
    forged = pickle.dumps(np.zeros(2), protocol=2)
    shape, huge = b"K\x01K\x02\x85", b"K\x01\x8a\x06\x00\x00\x00\x00\x00\x01\x85"
    assert forged.count(shape) == 1                            # (1, (2,), ...): the state's shape
    forged = forged.replace(shape, huge)
    with pytest.raises(data.DataError):
        data_files.load_pickle(forged)


# -- 5. random state -----------------------------------------------------------------------------
def test_a_resumed_lm_with_dropout_draws_the_same_masks():
    x = ad.Tensor(np.random.default_rng(0).integers(0, 30, (6, 3)))

    def steps(model, n):
        out = []
        for _ in range(n):
            logits, _ = model(x)
            out.append(logits.numpy())
        return out
    ad.manual_seed(1)
    model = LSTMLanguageModel(30, 8, 8, 2, dropout=0.5)
    straight = steps(model, 4)
    ad.manual_seed(1)
    model = LSTMLanguageModel(30, 8, 8, 2, dropout=0.5)
    first = steps(model, 2)
    state = ad.get_rng_state()
    ad.manual_seed(12345)                                      # another run in between
    ad.randn(100)
    ad.set_rng_state(state)
    resumed = first + steps(model, 2)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


def test_threads_that_each_seed_build_the_same_model():
    results = {}

    def build(k):
        ad.manual_seed(7)
        for _ in range(20):
            layer = nn.Linear(16, 16)
        results[k] = layer.weight.numpy()
    workers = [threading.Thread(target=build, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for k in range(1, 4):
        np.testing.assert_array_equal(results[0], results[k])


def test_a_bad_rng_state_is_named():
    with pytest.raises(ValueError, match="set_rng_state expects a state from get_rng_state"):
        ad.set_rng_state({"seed": 3})


# -- 6. smaller ----------------------------------------------------------------------------------
def test_a_cast_to_integers_leaves_the_graph():
    x = ad.Tensor([1.4, 2.6], requires_grad=True)
    y = x.astype("int64")
    assert y.dtype == np.int64 and not y.requires_grad and y.is_leaf


def test_a_failed_batch_norm_forward_counts_no_batch():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ad.Tensor(np.ones((1, 3), np.float32)))
    assert bn.num_batches_tracked.item() == 0


@pytest.mark.parametrize("call, error, words", [
    (lambda: ad.Tensor(np.zeros((0, 2))).max(), ad.ShapeError, "empty along the reduced"),
    (lambda: ad.Tensor(np.zeros(0)).min(), ad.ShapeError, "has no minimum"),
    (lambda: ad.Tensor("abc"), TypeError, "not strings"),
    (lambda: ad.Tensor([1 + 2j]), TypeError, "not complex numbers"),
    (lambda: nn.Linear(-3, 4), ValueError, "in_features must be a positive int, got -3"),
    (lambda: F.cross_entropy(ad.Tensor([[1, 2]]), [0]), TypeError, "logits hold int64"),
    (lambda: nn.LSTMCell(2, 3)(ad.Tensor(np.ones((4, 2))), (ad.Tensor(np.ones((4, 2))),
                                                           ad.Tensor(np.ones((4, 3))))),
     ad.ShapeError, r"h must have shape \(batch, hidden_size\) = \(4, 3\)"),
])
def test_errors_the_library_can_name(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_min_is_right_for_integers_and_booleans():
    assert ad.Tensor(np.array([0, 128, 255], np.uint8)).min().item() == 0
    assert ad.Tensor(np.array([0, -2 ** 31], np.int32)).min().item() == -2 ** 31
    assert not bool(ad.Tensor(np.array([True, False])).min())


# -- PyTorch parity: what code written for PyTorch expects to catch or find ----------------------

def test_shape_errors_are_runtime_errors_and_a_dimension_out_of_range_an_index_error():
    x = ad.Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="axis 5 is out of range for a tensor with 2 dimensions"):
        x.sum(dim=5)
    with pytest.raises(RuntimeError, match="cannot be broadcast together"):
        x + ad.Tensor(np.ones((4,)))
    with pytest.raises(ValueError, match="cannot be broadcast together"):      # as before
        x + ad.Tensor(np.ones((4,)))
    assert issubclass(ad.DimensionError, ad.ShapeError)


def test_clip_needs_a_bound_and_a_biasless_cell_has_none_biases():
    x = ad.Tensor(np.array([-2.0, 0.5, 3.0]))
    with pytest.raises(ValueError, match="clip: at least one of min and max must be given"):
        x.clip(None, None)
    np.testing.assert_array_equal(ad.backend.to_numpy(x.clip(None, 1.0).data), [-2.0, 0.5, 1.0])
    from autodiff.nn import LSTMCell
    cell = LSTMCell(2, 3, bias=False)
    assert cell.bias_ih is None and cell.bias_hh is None
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    h, c = cell(ad.Tensor(np.ones((4, 2), dtype=np.float32)))
    assert h.shape == c.shape == (4, 3)
    assert "bias_ih" not in cell.state_dict()


def test_integer_tensors_promote_as_in_pytorch():
    i = ad.Tensor(np.array([1, 2], dtype=np.int32))
    f = ad.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    assert (i + 1).dtype == (1 + i).dtype == (i * 2).dtype == (i ** 2).dtype == np.int32
    for y in (i * 2.5, i / i, i / 2, i ** 0.5, ad.maximum(i, 1.2), i * f, f / i, i + f):
        assert y.dtype == np.float32, y
    np.testing.assert_allclose(ad.backend.to_numpy((i / 2).data), [0.5, 1.0])
    (i * f).sum().backward()
    assert f.grad.dtype == np.float32
    np.testing.assert_array_equal(ad.backend.to_numpy(f.grad), [1.0, 2.0])
    b = ad.Tensor(np.array([True, False]))
    assert (b + 1).dtype == np.int64 and (b * 2.5).dtype == np.float32
    d = ad.Tensor([1.0], dtype="float64")
    assert (i + d).dtype == np.float64                           # the float tensor's dtype
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid"):       # float functions: float32
        y = getattr(i, name)()
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(ad.backend.to_numpy(y.data),
                                   getattr(ad, name)(ad.Tensor([1.0, 2.0])).numpy(), rtol=1e-6)
    assert i.abs().dtype == np.int32


def test_where_mean_and_softmax_of_integers_give_float32_as_the_other_float_functions():
    i = ad.Tensor(np.array([1, 2, 3], dtype=np.int32))
    f = ad.Tensor(np.array([10.0, 20.0, 30.0], dtype=np.float32), requires_grad=True)
    y = ad.where(i > 1, i, f)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [10.0, 2.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(ad.backend.to_numpy(f.grad), [1.0, 0.0, 0.0])
    assert ad.where(i > 1, i, 2.5).dtype == np.float32
    assert ad.where(i > 1, i, 0).dtype == np.int32
    assert i.mean().dtype == np.float32 and float(i.mean().item()) == 2.0
    assert (i > 1).mean().item() == pytest.approx(2 / 3)           # accuracy = (pred == y).mean()
    for name in ("softmax", "log_softmax"):
        y = getattr(i, name)()
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(y.numpy(), getattr(ad.Tensor([1.0, 2.0, 3.0]), name)().numpy(),
                                   rtol=1e-6)


def test_cat_of_numbers_and_integer_negative_powers_are_clear_errors_of_pytorchs_types():
    a, b = ad.Tensor(np.float32(1.0)), ad.Tensor(np.float32(2.0))
    with pytest.raises(RuntimeError, match="tensor 0 is zero-dimensional.*ad.stack"):
        ad.cat([a, b])
    np.testing.assert_array_equal(ad.stack([a, b]).numpy(), [1.0, 2.0])
    i = ad.Tensor(np.array([1, 2], dtype=np.int64))
    with pytest.raises(RuntimeError, match=r"x \*\* -2: .*integers.*x \*\* -2.0"):
        i ** -2
    with pytest.raises(ValueError):
        i ** -1
    assert issubclass(ad.DTypeError, ValueError)
    np.testing.assert_allclose((i ** -2.0).numpy(), [1.0, 0.25])
    assert (i ** -2.0).dtype == np.float32
