"""The CIFAR ResNet, on both paths (kernels and reference): parameter counts from the
architecture, shapes after each stage, names, the batch-norm-free variant, that a ResNet-20 can
fit a small fixed batch, and that both paths give the same loss and gradients."""
import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from autodiff.nn.conv import Conv2d
from autodiff.nn.layers import Linear
from autodiff.nn.losses import cross_entropy
from autodiff.nn.normalization import BatchNorm2d
from minioptim.models import ResNet, resnet
from minioptim.models.resnet import shortcut_option_a

pytestmark = pytest.mark.usefixtures("layer_path")


def host(x):
    return np.asarray(ad.backend.to_numpy(x.data if isinstance(x, ad.Tensor) else x))


def n_params(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def expected_params(depth, batch_norm, num_classes=10, in_channels=3):
    """Count from the architecture: a 3x3 stem conv (+ BN), three stages of n blocks of two
    bias-free 3x3 convs (+ a BN, 2 numbers per channel, after each), the linear head."""
    n = (depth - 2) // 6
    bn = 2 if batch_norm else 0
    total = 9 * in_channels * 16 + bn * 16
    c_in = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += 9 * c_in * width + 9 * width * width + 2 * bn * width
            c_in = width
    return total + 64 * num_classes + num_classes


@pytest.mark.parametrize("depth,batch_norm,count", [
    (20, True, 269_722), (56, True, 853_018), (20, False, 268_346), (56, False, 848_954)])
def test_parameter_counts(depth, batch_norm, count):
    assert expected_params(depth, batch_norm) == count
    assert n_params(resnet(depth, batch_norm=batch_norm)) == count


def test_parameter_count_follows_classes_and_input_channels():
    model = resnet(32, num_classes=100, in_channels=1)
    assert n_params(model) == expected_params(32, True, num_classes=100, in_channels=1)
    assert model.linear.weight.shape == (100, 64) and model.conv1.weight.shape == (16, 1, 3, 3)


def test_output_shapes_after_each_stage():
    model = resnet(20)
    x = ad.Tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 32)))
    out = model.stem(x)
    assert out.shape == (2, 16, 32, 32)
    for stage, shape in [("layer1", (2, 16, 32, 32)), ("layer2", (2, 32, 16, 16)),
                         ("layer3", (2, 64, 8, 8))]:
        out = getattr(model, stage)(out)
        assert out.shape == shape, stage
    assert model(x).shape == (2, 10)


@pytest.mark.parametrize("depth", [21, 19, 2, 0, -4, 20.0, "20", True])
def test_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match=r"6n \+ 2.*20, 32, 44, 56, 110, 218"):
        resnet(depth)


@pytest.mark.parametrize("depth", [8, 14, 20, 44])
def test_blocks_per_stage(depth):
    model = resnet(depth)
    n = (depth - 2) // 6
    assert [len(getattr(model, f"layer{s}")) for s in (1, 2, 3)] == [n, n, n]
    convs = [m for m in model.modules() if isinstance(m, Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, Linear)]
    assert len(convs) + len(linears) == depth         # the weighted layers that give the depth


def test_state_dict_names_are_pytorchs():
    names = list(resnet(20).state_dict())
    for name in ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                 "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.conv2.weight",
                 "layer1.0.bn2.running_var", "layer2.0.conv1.weight", "layer3.2.bn2.bias",
                 "linear.weight", "linear.bias"]:
        assert name in names, name
    params = [n for n, _ in resnet(20).named_parameters()]
    expected = ["conv1.weight", "bn1.weight", "bn1.bias"]
    for s in (1, 2, 3):
        for b in range(3):
            for k in (1, 2):
                expected += [f"layer{s}.{b}.conv{k}.weight", f"layer{s}.{b}.bn{k}.weight",
                             f"layer{s}.{b}.bn{k}.bias"]
    assert params == expected + ["linear.weight", "linear.bias"]
    assert not any("shortcut" in n or n.endswith("conv1.bias") for n in names)


def test_without_batch_norm_only_the_bn_layers_go():
    with_bn, without = resnet(20), resnet(20, batch_norm=False)
    assert not any(isinstance(m, BatchNorm2d) for m in without.modules())
    assert list(without.named_buffers()) == []
    shapes = {n: p.shape for n, p in with_bn.named_parameters() if ".bn" not in n
              and not n.startswith("bn")}
    assert {n: p.shape for n, p in without.named_parameters()} == shapes
    x = ad.Tensor(np.random.default_rng(0).standard_normal((2, 3, 16, 16)))
    assert without(x).shape == (2, 10)


def test_initialization_follows_the_reference_implementation():
    model = resnet(56)
    w = host(model.layer3[4].conv1.weight.data)               # kaiming_normal_, fan_in
    assert abs(w.std() / np.sqrt(2 / (64 * 9)) - 1) < 0.05 and abs(w.mean()) < 1e-3
    lw = host(model.linear.weight.data)
    assert abs(lw.std() / np.sqrt(2 / 64) - 1) < 0.15
    bn = model.layer2[0].bn1
    assert (host(bn.weight.data) == 1).all() and (host(bn.bias.data) == 0).all()
    assert all(m.bias is None for m in model.modules() if isinstance(m, Conv2d))


def test_same_seed_same_model():
    ad.manual_seed(3)
    a = resnet(8)
    ad.manual_seed(3)
    b = resnet(8)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(host(p.data), host(q.data), err_msg=n)


def test_option_a_shortcut_subsamples_and_pads_channels_with_zeros():
    xh = np.arange(2 * 2 * 4 * 4, dtype=np.float64).reshape(2, 2, 4, 4)
    x = ad.Tensor(xh, dtype="float64", requires_grad=True)
    y = shortcut_option_a(x, 4, 2)
    assert y.shape == (2, 4, 2, 2)
    out = host(y)
    np.testing.assert_array_equal(out[:, 1:3], xh[:, :, ::2, ::2])
    assert (out[:, 0] == 0).all() and (out[:, 3] == 0).all()
    y.sum().backward()
    expected = np.zeros_like(xh)
    expected[:, :, ::2, ::2] = 1
    np.testing.assert_array_equal(host(x.grad), expected)


def test_every_parameter_gets_a_gradient():
    model = resnet(8)
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.standard_normal((4, 3, 8, 8)))
    cross_entropy(model(x), ad.Tensor(rng.integers(0, 10, 4))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.isfinite(host(p.grad)).all() and np.abs(host(p.grad)).sum() > 0, name


def test_eval_mode_uses_running_statistics():
    model = resnet(8)
    x = ad.Tensor(np.random.default_rng(0).standard_normal((4, 3, 8, 8)))
    model(x)                                            # one training step of the statistics
    model.eval()
    with ad.no_grad():
        a, b = model(x), model(x[:2])
    np.testing.assert_allclose(host(a)[:2], host(b), rtol=1e-4, atol=1e-5)  # per-sample in eval


@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn", "no_bn"])
def test_resnet20_fits_a_small_fixed_batch(batch_norm):
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.standard_normal((16, 3, 8, 8)).astype(np.float32))
    y = ad.Tensor(rng.integers(0, 10, 16))
    model = resnet(20, batch_norm=batch_norm)
    assert isinstance(model, ResNet)
    opt = mo.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] <= 0.1 * losses[0], losses
    assert losses[-1] < 0.2, losses                      # memorized: far below ln(10) = 2.3


@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn", "no_bn"])
def test_resnet20_gives_the_same_loss_and_gradients_on_both_paths(batch_norm, layer_path):
    """One training step of ResNet-20 (float32, CIFAR-sized images): the kernels and the
    reference path agree to float32 rounding in the loss, every gradient and the running
    statistics. (Run under both settings of the fixture: the comparison itself switches.)"""
    if layer_path == "reference":
        pytest.skip("the comparison runs both paths itself")
    rng = np.random.default_rng(1)
    x = ad.Tensor(rng.standard_normal((6, 3, 32, 32)).astype(np.float32))
    y = ad.Tensor(rng.integers(0, 10, 6))
    results = []
    for kernels in (True, False):
        with ad.use_kernels(kernels):
            ad.manual_seed(3)
            model = resnet(20, batch_norm=batch_norm)
            loss = cross_entropy(model(x), y)
            loss.backward()
            results.append((loss.item(), {n: host(p.grad) for n, p in model.named_parameters()},
                            {n: host(b) for n, b in model.named_buffers()}))
    (loss_k, grads_k, bufs_k), (loss_r, grads_r, bufs_r) = results
    assert loss_k == pytest.approx(loss_r, rel=1e-5)
    for name in grads_k:
        scale = np.abs(grads_r[name]).max()
        np.testing.assert_allclose(grads_k[name], grads_r[name], rtol=0, atol=2e-4 * scale,
                                   err_msg=name)
    for name in bufs_k:
        np.testing.assert_allclose(bufs_k[name], bufs_r[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)
