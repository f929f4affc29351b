"""Batch norm, layer norm and the losses, on both paths (kernels and reference): gradients
against finite differences (float64), forward values and running statistics against hand
computations in NumPy on the host, train/eval behaviour, PyTorch's state-dict names, and the
messages of bad targets and shapes. Kernel against reference: tests/test_kernels.py.
"""
import warnings

import numpy as np
import pytest

import autodiff as ad
from autodiff.nn.losses import (CrossEntropyLoss, MSELoss, NLLLoss, cross_entropy, log_softmax,
                                mse_loss, nll_loss, softmax)
from autodiff.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm, batch_norm, layer_norm

pytestmark = pytest.mark.usefixtures("layer_path")


def dev(host, requires_grad=True):
    return ad.Tensor(np.asarray(host, dtype=np.float64), dtype="float64",
                     requires_grad=requires_grad)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def host(a):
    return ad.backend.to_numpy(a.data if isinstance(a, ad.Tensor) else a)


def bn_reference(x, weight, bias, eps=1e-5):
    """Batch norm on the host, statistics per channel (axis 1), biased variance."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight.reshape(shape) + bias.reshape(shape)


BN_SHAPES = [(5, 3), (4, 2, 3), (3, 2, 2, 3)]


# -- batch norm: gradients and values -----------------------------------------------------------
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_training_gradcheck(shape):
    c = shape[1]
    x, w, b = dev(randn(*shape)), dev(1 + randn(c, seed=1)), dev(randn(c, seed=2))
    assert ad.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), x, w, b)
    assert ad.gradcheck(lambda x: batch_norm(x, None, None, training=True), x)


@pytest.mark.parametrize("module, shape", [(BatchNorm1d, (6, 3)), (BatchNorm1d, (3, 2, 4)),
                                           (BatchNorm2d, (3, 2, 2, 2))])
def test_batch_norm_modules_gradcheck_in_training_mode(module, shape):
    bn = module(shape[1])
    init_w = 1 + 0.5 * randn(shape[1], seed=3)
    bn.weight.data[...] = ad.backend.asarray(init_w, dtype="float32")
    assert ad.gradcheck(lambda x: bn(x), dev(randn(*shape)))


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_values_and_gradients_are_the_hand_derivation(shape):
    """y = gamma xhat + beta; dL/dx = gamma inv_std (g - mean(g) - xhat mean(g xhat)),
    dL/dgamma = sum(g xhat), dL/dbeta = sum(g), means and sums per channel."""
    c = shape[1]
    xh, wh, bh, gh = randn(*shape), 1 + randn(c, seed=1), randn(c, seed=2), randn(*shape, seed=4)
    x, w, b = dev(xh), dev(wh), dev(bh)
    y = batch_norm(x, None, None, w, b, training=True)
    y.backward(dev(gh, requires_grad=False))
    axes, cs = (0,) + tuple(range(2, xh.ndim)), (1, -1) + (1,) * (xh.ndim - 2)
    inv_std = 1 / np.sqrt(xh.var(axis=axes, keepdims=True) + 1e-5)
    xhat = (xh - xh.mean(axis=axes, keepdims=True)) * inv_std
    dx = wh.reshape(cs) * inv_std * (gh - gh.mean(axis=axes, keepdims=True)
                                     - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
    np.testing.assert_allclose(host(y), bn_reference(xh, wh, bh), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(x.grad), dx, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(host(w.grad), (gh * xhat).sum(axis=axes), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(b.grad), gh.sum(axis=axes), rtol=1e-10, atol=1e-12)


def test_batch_norm_float32_stays_float32():
    bn = BatchNorm2d(3)
    x = ad.Tensor(randn(4, 3, 2, 2), requires_grad=True)
    y = bn(x)
    (y * y).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert bn.weight.grad.dtype == np.float32 and bn.running_var.dtype == np.float32


# -- batch norm: statistics, modes, state dict ---------------------------------------------------
def test_running_statistics_after_two_steps_use_momentum_and_unbiased_variance():
    bn = BatchNorm2d(3)
    xs = [randn(4, 3, 2, 2, seed=s) * (s + 1) + s for s in (0, 1)]
    rm, rv = np.zeros(3), np.ones(3)
    for xh in xs:
        y = bn(ad.Tensor(xh))
        n = xh.size // 3
        mean, var = xh.mean(axis=(0, 2, 3)), xh.var(axis=(0, 2, 3))
        rm = 0.9 * rm + 0.1 * mean
        rv = 0.9 * rv + 0.1 * var * n / (n - 1)
        # training mode normalizes with the batch's (biased) statistics
        np.testing.assert_allclose(y.numpy(), bn_reference(xh, np.ones(3), np.zeros(3)),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(host(bn.running_mean), rm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(bn.running_var), rv, rtol=1e-5)
    assert int(host(bn.num_batches_tracked)) == 2


def test_eval_mode_uses_running_statistics_and_does_not_update_them():
    bn = BatchNorm1d(4)
    bn(ad.Tensor(randn(8, 4) * 3 + 1))
    bn.weight.data[...] = ad.backend.asarray(np.array([1.0, 2.0, 0.5, -1.0]), dtype="float32")
    bn.bias.data[...] = ad.backend.asarray(np.array([0.0, 1.0, -1.0, 2.0]), dtype="float32")
    rm, rv = host(bn.running_mean).copy(), host(bn.running_var).copy()
    assert not bn.eval().training
    xh = randn(5, 4, seed=9)
    y = bn(ad.Tensor(xh)).numpy()
    w, b = host(bn.weight), host(bn.bias)
    np.testing.assert_allclose(y, (xh - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(host(bn.running_mean), rm)
    assert int(host(bn.num_batches_tracked)) == 1
    # one sample is fine in eval mode (no batch statistics needed)
    assert bn(ad.Tensor(randn(1, 4))).shape == (1, 4)
    bn.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ad.Tensor(randn(1, 4)))


def test_eval_mode_gradcheck():
    rm = ad.backend.asarray(randn(3), dtype="float64")
    rv = ad.backend.asarray(1 + np.abs(randn(3, seed=1)), dtype="float64")
    x, w, b = dev(randn(4, 3, 2)), dev(randn(3, seed=2)), dev(randn(3, seed=3))
    assert ad.gradcheck(lambda x, w, b: batch_norm(x, rm, rv, w, b, training=False), x, w, b)


def test_momentum_none_is_the_cumulative_average():
    bn = BatchNorm1d(2, momentum=None)
    xs = [randn(6, 2, seed=s) + s for s in range(3)]
    for xh in xs:
        bn(ad.Tensor(xh))
    np.testing.assert_allclose(host(bn.running_mean),
                               np.mean([xh.mean(axis=0) for xh in xs], axis=0), rtol=1e-5)


def test_batch_norm_state_dict_names_match_pytorch():
    bn = BatchNorm2d(5)
    sd = bn.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [tuple(v.shape) for v in sd.values()] == [(5,)] * 4 + [()]
    assert sd["num_batches_tracked"].dtype == np.int64
    np.testing.assert_array_equal(host(sd["running_var"]), np.ones(5))
    assert list(BatchNorm2d(5, affine=False).state_dict()) == [
        "running_mean", "running_var", "num_batches_tracked"]
    assert list(BatchNorm2d(5, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert repr(bn) == "BatchNorm2d(5, eps=1e-05, momentum=0.1, affine=True, " \
                       "track_running_stats=True)"


def test_num_batches_tracked_stays_a_buffer_after_training():
    bn = BatchNorm1d(2)
    for _ in range(3):
        bn(ad.Tensor(randn(4, 2)))
    assert "num_batches_tracked" in bn.state_dict()
    assert int(host(bn.state_dict()["num_batches_tracked"])) == 3


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval():
    bn = BatchNorm1d(3, track_running_stats=False).eval()
    xh = randn(6, 3)
    np.testing.assert_allclose(bn(ad.Tensor(xh)).numpy(),
                               bn_reference(xh, np.ones(3), np.zeros(3)), rtol=1e-4, atol=1e-5)


def test_batch_norm_shape_errors():
    with pytest.raises(ad.ShapeError, match=r"expected 4D input.*\(2, 3\)"):
        BatchNorm2d(3)(ad.Tensor(randn(2, 3)))
    with pytest.raises(ad.ShapeError, match="expected 2D or 3D"):
        BatchNorm1d(3)(ad.Tensor(randn(2, 3, 1, 1)))
    with pytest.raises(ad.ShapeError, match=r"has 4 channels.*expected 3"):
        BatchNorm2d(3)(ad.Tensor(randn(2, 4, 2, 2)))


# -- layer norm --------------------------------------------------------------------------------
def test_layer_norm_values_names_and_gradcheck():
    ln = LayerNorm(4)
    assert list(ln.state_dict()) == ["weight", "bias"] and ln.weight.shape == (4,)
    xh = randn(3, 4) * 2 + 1
    mean, var = xh.mean(-1, keepdims=True), xh.var(-1, keepdims=True)
    np.testing.assert_allclose(ln(ad.Tensor(xh)).numpy(), (xh - mean) / np.sqrt(var + 1e-5),
                               rtol=1e-5, atol=1e-5)
    x, w, b = dev(randn(2, 2, 3)), dev(randn(2, 3, seed=1)), dev(randn(2, 3, seed=2))
    assert ad.gradcheck(lambda x, w, b: layer_norm(x, (2, 3), w, b), x, w, b)
    assert list(LayerNorm((2, 3), elementwise_affine=False).state_dict()) == []
    with pytest.raises(ad.ShapeError, match=r"\(2, 5\).*\(4,\)"):
        ln(ad.Tensor(randn(2, 5)))


# -- cross-entropy -----------------------------------------------------------------------------
def ce_reference(x, t):
    z = x - x.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(t)), t]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradcheck_and_values(reduction):
    xh, t = randn(5, 4), np.array([0, 3, 1, 1, 2])
    assert ad.gradcheck(lambda x: cross_entropy(x, t, reduction=reduction), dev(xh))
    per_sample = ce_reference(xh, t)
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}
    np.testing.assert_allclose(cross_entropy(dev(xh), t, reduction=reduction).numpy(),
                               expected[reduction], rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    xh, t = randn(4, 3), np.array([2, 0, 1, 2])
    x = dev(xh)
    cross_entropy(x, t).backward()
    p = np.exp(xh) / np.exp(xh).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(host(x.grad), (p - np.eye(3)[t]) / 4, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits_and_keeps_float32():
    xh = np.array([[1000.0, 0.0, -1000.0], [0.0, 1e4, 0.0]])
    x = ad.Tensor(xh, requires_grad=True)
    loss = cross_entropy(x, [1, 1])
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), 500.0)
    assert np.isfinite(host(x.grad)).all()


def test_cross_entropy_spatial_targets_and_scalar_form():
    xh = randn(2, 3, 2, 2)
    t = np.array([[[0, 1], [2, 2]], [[1, 1], [0, 2]]])
    assert ad.gradcheck(lambda x: cross_entropy(x, t), dev(xh))
    flat = ce_reference(xh.transpose(0, 2, 3, 1).reshape(-1, 3), t.reshape(-1))
    np.testing.assert_allclose(cross_entropy(dev(xh), t, reduction="none").numpy(),
                               flat.reshape(2, 2, 2), rtol=1e-12)
    one = cross_entropy(dev(xh[0, :, 0, 0]), np.array(2))
    np.testing.assert_allclose(one.numpy(), ce_reference(xh[:1, :, 0, 0], [2])[0], rtol=1e-12)


def test_cross_entropy_ignore_index():
    xh, t = randn(5, 4), np.array([0, -100, 3, -100, 1])
    keep = t != -100
    x = dev(xh)
    loss = cross_entropy(x, t)
    np.testing.assert_allclose(loss.numpy(), ce_reference(xh[keep], t[keep]).mean(), rtol=1e-12)
    loss.backward()
    assert np.all(host(x.grad)[~keep] == 0)
    assert ad.gradcheck(lambda x: cross_entropy(x, t, ignore_index=-100, reduction="none"),
                        dev(xh))
    per = cross_entropy(dev(xh), [0, 2, 3, 2, 1], ignore_index=2, reduction="none").numpy()
    assert per[1] == 0 and per[3] == 0 and per[0] > 0


def test_cross_entropy_target_out_of_range_names_value_position_and_classes():
    x = dev(randn(4, 3))
    with pytest.raises(ValueError, match=r"target 3 at position 2 is out of range for 3 classes"):
        cross_entropy(x, [0, 1, 3, 2])
    with pytest.raises(ValueError, match=r"target -1 at position 0 .*\[0, 3\)"):
        cross_entropy(x, [-1, 1, 2, 2])
    with pytest.raises(ValueError, match=r"target 7 at position \(1, 0\)"):
        cross_entropy(dev(randn(2, 3, 2)), [[0, 1], [7, 2]])
    with pytest.raises(ValueError, match="out of range"):
        nll_loss(x, [0, 1, 5, 2])


def test_cross_entropy_wrong_shapes_name_both_shapes():
    x = dev(randn(4, 3))
    with pytest.raises(ad.ShapeError, match=r"target has shape \(3,\).*input has shape \(4, 3\)"):
        cross_entropy(x, [0, 1, 2])
    with pytest.raises(ad.ShapeError, match=r"\(4, 1\).*\(4, 3\)"):
        cross_entropy(x, np.zeros((4, 1), dtype=np.int64))
    with pytest.raises(TypeError, match="integers"):
        cross_entropy(x, np.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(x, [0, 1, 2, 0], reduction="avg")


def test_loss_modules_and_nll():
    xh, t = randn(5, 4), np.array([0, 3, 1, 1, 2])
    ce = CrossEntropyLoss()(dev(xh), t).numpy()
    np.testing.assert_allclose(ce, ce_reference(xh, t).mean(), rtol=1e-12)
    np.testing.assert_allclose(CrossEntropyLoss(reduction="sum")(dev(xh), t).numpy(), 5 * ce,
                               rtol=1e-12)
    np.testing.assert_allclose(nll_loss(log_softmax(dev(xh), dim=1), t).numpy(), ce, rtol=1e-12)
    np.testing.assert_allclose(NLLLoss()(log_softmax(dev(xh), 1), t).numpy(), ce, rtol=1e-12)
    assert ad.gradcheck(lambda x: nll_loss(x, t, reduction="none"), dev(xh))
    np.testing.assert_allclose(softmax(dev(xh), dim=1).numpy().sum(axis=1), np.ones(5))


# -- mse ---------------------------------------------------------------------------------------
def test_mse_loss_values_gradcheck_and_module():
    a, b = randn(3, 4), randn(3, 4, seed=1)
    np.testing.assert_allclose(mse_loss(dev(a), dev(b)).numpy(), ((a - b) ** 2).mean(),
                               rtol=1e-12)
    np.testing.assert_allclose(MSELoss(reduction="sum")(dev(a), dev(b)).numpy(),
                               ((a - b) ** 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(mse_loss(dev(a), dev(b), reduction="none").numpy(), (a - b) ** 2,
                               rtol=1e-12)
    assert ad.gradcheck(lambda x, y: mse_loss(x, y), dev(a), dev(b))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mse_loss(dev(a), dev(b))                      # equal shapes: no warning
    with pytest.warns(UserWarning, match=r"\(3, 1\).*\(3,\)"):
        mse_loss(dev(a[:, 0]), dev(b[:, :1]))


def test_cross_entropy_backward_twice_with_the_graph_kept():
    """The kernel reuses its saved softmax for the gradient only on the last backward."""
    xh, t = randn(6, 5), np.array([4, 0, 0, 2, 1, 4])
    x = dev(xh)
    loss = cross_entropy(x, t)
    loss.backward(retain_graph=True)
    first = host(x.grad).copy()
    loss.backward()
    np.testing.assert_allclose(host(x.grad), 2 * first, rtol=1e-12)


def test_softmax_defaults_to_the_last_dimension_and_integer_logits_are_refused():
    x = ad.Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(ad.backend.to_numpy(softmax(x).sum(dim=-1).data), [1.0, 1.0])
    np.testing.assert_allclose(ad.backend.to_numpy(log_softmax(x).exp().sum(dim=-1).data),
                               [1.0, 1.0])
    with pytest.raises(TypeError, match="cross_entropy: the logits hold int64 numbers"):
        cross_entropy(ad.Tensor(np.ones((2, 3), dtype=np.int64)), ad.Tensor(np.array([0, 1])))


def test_running_statistics_start_and_reset_at_zero_mean_unit_variance():
    bn = BatchNorm1d(3)
    bn(ad.Tensor(np.random.default_rng(0).normal(5.0, 3.0, size=(8, 3)).astype(np.float32)))
    assert ad.backend.to_numpy(bn.running_var).min() > 1.0          # moved by the batch
    bn.reset_running_stats()
    np.testing.assert_array_equal(ad.backend.to_numpy(bn.running_mean), 0.0)
    np.testing.assert_array_equal(ad.backend.to_numpy(bn.running_var), 1.0)
    assert int(ad.backend.to_numpy(bn.num_batches_tracked)) == 0
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are needed "
                                         "when training=False"):
        batch_norm(ad.Tensor(np.ones((2, 3), dtype=np.float32)), None, None, training=False)
