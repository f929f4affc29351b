"""Activations (GELU, SiLU, LeakyReLU, Softplus, ELU), cross-entropy's label smoothing and
probability targets, and scaled dot-product attention: gradients against finite differences on
Hypothesis shapes, values against NumPy formulas and loops written here independently (erf from
``math.erf``), and the messages of bad arguments. Kernel against reference: test_kernels.py.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import nn
from autodiff.nn import functional as F
from strategies import GRAD_MAX_SIZE, arrays, away_from_zero, device, shapes

FEW = settings(max_examples=10)
host = ad.backend.to_numpy


def t64(a, grad=True):
    return ad.Tensor(np.asarray(a, dtype=np.float64), dtype="float64", requires_grad=grad)


# -- activations: NumPy formulas ------------------------------------------------------------------
def _sig(x):
    return 1 / (1 + np.exp(-x))


_erf = np.vectorize(math.erf)
FORMULAS = {      # name -> (call, value, derivative), written from the definitions
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
             lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2)
             / math.sqrt(2 * math.pi)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
                  None),
    "silu": (F.silu, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                   lambda x: np.where(x > 0, 1.0, 0.2)),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                 lambda x: np.where(2 * x > 3, x, np.log(1 + np.exp(2 * x)) / 2),
                 lambda x: np.where(2 * x > 3, 1.0, _sig(2 * x))),
    "elu": (lambda x: F.elu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
            lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
@FEW
@given(data=st.data())
def test_activation_gradcheck(name, data):
    shape = data.draw(shapes(max_size=GRAD_MAX_SIZE))
    x = data.draw(away_from_zero(shape))           # no kink of leaky_relu/elu under eps
    if name == "softplus":                         # and none at softplus' threshold 2x = 3
        x = np.where(np.abs(2 * x - 3) < 0.1, x + 0.2, x)
    assert ad.gradcheck(FORMULAS[name][0], device(x))


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_activation_values_and_derivatives_match_numpy(name):
    call, value, derivative = FORMULAS[name]
    x = np.concatenate([np.linspace(-9, 9, 181), [-30.0, -12.5, 12.5, 30.0]])
    xt = device(x)
    y = call(xt)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), value(x), rtol=1e-13, atol=1e-14)
    if derivative is not None:
        np.testing.assert_allclose(host(xt.grad), derivative(x), rtol=1e-12, atol=1e-14)


def test_gelu_erf_matches_math_erf_to_float64_rounding():
    """The Cody rational approximation: < 1e-15 absolute error of Phi on a fine grid."""
    from autodiff.nn.activations import normal_cdf
    x = np.linspace(-40, 40, 40001)
    phi = normal_cdf(np, x)
    expected = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    assert np.abs(phi - expected).max() < 1e-15


def test_leaky_relu_and_elu_at_zero_take_the_negative_side_like_pytorch():
    x = device(np.zeros(2))
    F.leaky_relu(x, 0.3).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0.3, 0.3])
    x = device(np.zeros(2))
    F.elu(x, 0.5).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0.5, 0.5])


@pytest.mark.parametrize("fn", [F.gelu, lambda x: F.gelu(x, approximate="tanh"), F.silu,
                                F.leaky_relu, F.softplus, F.elu])
def test_activation_dtypes(fn):
    assert fn(ad.Tensor(np.float32([-1.0, 2.0]))).dtype == np.float32
    assert fn(ad.Tensor(np.array([-1, 2]))).dtype == np.float32     # integers give float32
    assert np.isfinite(fn(ad.Tensor(np.float32([-1e4, 1e4]))).numpy()).all()


def test_activation_modules_and_repr():
    x = ad.Tensor(np.linspace(-3, 3, 7))
    for module, fn in [(nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")),
                       (nn.SiLU(), F.silu), (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
                       (nn.Softplus(2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
                       (nn.ELU(0.5), lambda x: F.elu(x, 0.5))]:
        np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.ELU(alpha=0.5)) == "ELU(alpha=0.5)"
    assert repr(nn.SiLU()) == "SiLU()"


def test_activation_argument_errors():
    x = ad.Tensor([1.0])
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="beta must be nonzero"):
        F.softplus(x, beta=0)
    with pytest.raises(TypeError, match="negative_slope must be a number"):
        nn.LeakyReLU("0.1")
    with pytest.raises(TypeError, match="expected a Tensor"):
        F.silu(np.ones(2))


# -- cross-entropy options ----------------------------------------------------------------------
def ce_numpy(x, target, eps=0.0, ignore_index=-100, reduction="mean"):
    """PyTorch's definition, on the host: class axis 1, one loss per other position."""
    x = np.moveaxis(x, 1, -1)
    logp = x - x.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    c = x.shape[-1]
    if target.dtype.kind == "f":
        t = (1 - eps) * np.moveaxis(target, 1, -1) + eps / c
        losses, count = -(t * logp).sum(-1), logp[..., 0].size
    else:
        keep = target != ignore_index
        safe = np.where(keep, target, 0)
        nll = -np.take_along_axis(logp, safe[..., None], -1)[..., 0]
        losses = np.where(keep, (1 - eps) * nll - eps * logp.mean(-1), 0.0)
        count = keep.sum()
    if reduction == "none":
        return losses
    return losses.sum() / count if reduction == "mean" else losses.sum()


@pytest.mark.usefixtures("layer_path")
@FEW
@given(data=st.data())
def test_cross_entropy_options_match_numpy_and_finite_differences(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 5))
    shape = (n, c) + data.draw(st.sampled_from([(), (2,)]))
    x = 3 * rng.standard_normal(shape)
    if data.draw(st.booleans()):
        target = rng.random(shape)
        target /= target.sum(1, keepdims=True)
    else:
        target = rng.integers(0, c, shape[:1] + shape[2:])
        target.reshape(-1)[1::3] = -100            # all rows ignored: a separate test
    eps = data.draw(st.sampled_from([0.0, 0.2, 1.0]))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    tt = t64(target) if target.dtype.kind == "f" else ad.Tensor(target)
    y = F.cross_entropy(t64(x), tt, label_smoothing=eps, reduction=reduction)
    np.testing.assert_allclose(y.numpy(), ce_numpy(x, target, eps, reduction=reduction),
                               rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=eps,
                                                     reduction=reduction), t64(x), tt)


@pytest.mark.usefixtures("layer_path")
def test_smoothed_gradient_is_softmax_minus_smoothed_onehot():
    x, target, eps = np.array([[1.0, -2.0, 0.5]]), np.array([2]), 0.3
    xt = t64(x)
    F.cross_entropy(xt, ad.Tensor(target), label_smoothing=eps, reduction="sum").backward()
    p = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(host(xt.grad), p - ((1 - eps) * np.eye(3)[target] + eps / 3),
                               rtol=1e-12)
    xt, pt = t64(x), t64([[0.2, 0.2, 0.2]])                       # sum(t) = 0.6
    F.cross_entropy(xt, pt, reduction="sum").backward()
    np.testing.assert_allclose(host(xt.grad), p * 0.6 - 0.2, rtol=1e-12)
    np.testing.assert_allclose(host(pt.grad), -np.log(p), rtol=1e-12)


@pytest.mark.usefixtures("layer_path")
def test_cross_entropy_options_in_float32_and_all_rows_ignored():
    x = ad.Tensor(np.float32([[1.0, 2.0], [0.0, -1.0]]))
    assert F.cross_entropy(x, ad.Tensor([1, 0]), label_smoothing=0.1).dtype == np.float32
    assert F.cross_entropy(x, ad.Tensor(np.float32([[0.5, 0.5], [1, 0]]))).dtype == np.float32
    assert np.isnan(F.cross_entropy(x, ad.Tensor([-100, -100]), label_smoothing=0.1).item())
    loss = nn.CrossEntropyLoss(label_smoothing=0.1)(x, ad.Tensor([1, 0]))
    assert loss.item() == pytest.approx(ce_numpy(x.numpy().astype(float), np.array([1, 0]),
                                                 0.1), rel=1e-6)


def test_cross_entropy_option_errors():
    x = ad.Tensor(np.zeros((2, 3)))
    for bad in (-0.1, 1.5, "0.1"):
        with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\]"):
            F.cross_entropy(x, ad.Tensor([0, 1]), label_smoothing=bad)
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    with pytest.raises(ad.ShapeError, match=r"logits' shape \(2, 3\), got \(2, 4\)"):
        F.cross_entropy(x, ad.Tensor(np.zeros((2, 4))))
    with pytest.raises(ad.ShapeError, match="probabilities"):
        F.cross_entropy(x, ad.Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="integers"):    # the shape of class indices, as floats
        F.cross_entropy(x, ad.Tensor(np.zeros(2)))


# -- scaled dot-product attention ---------------------------------------------------------------
def sdpa_loop(q, k, v, keep=None, add=None, scale=None):
    """One query at a time, on the host; ``keep`` (L, S) booleans, ``add`` (L, S) floats."""
    *batch, L, E = q.shape
    scale = 1 / math.sqrt(E) if scale is None else scale
    out = np.zeros((*batch, L, v.shape[-1]))
    for b in np.ndindex(*batch):
        for i in range(L):
            s = np.array([q[b][i] @ k[b][j] * scale for j in range(k.shape[-2])])
            if add is not None:
                s = s + add[i]
            if keep is not None:
                s = np.where(keep[i], s, -np.inf)
            if np.isneginf(s).all():
                continue                                  # PyTorch: zero weights, zero output
            w = np.exp(s - s.max())
            out[b][i] = (w / w.sum()) @ v[b]
    return out


@FEW
@given(data=st.data())
def test_sdpa_gradcheck_and_values(data):
    batch = data.draw(st.sampled_from([(), (2,), (1, 2)]))
    L, S, E, Ev = (data.draw(st.integers(1, 3)) for _ in range(4))
    q = data.draw(arrays(batch + (L, E)))
    k, v = data.draw(arrays(batch + (S, E))), data.draw(arrays(batch + (S, Ev)))
    causal = data.draw(st.booleans())
    keep = np.tril(np.ones((L, S), bool)) if causal else None
    out = F.scaled_dot_product_attention(device(q), device(k), device(v), is_causal=causal)
    np.testing.assert_allclose(out.numpy(), sdpa_loop(q, k, v, keep), rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                                       is_causal=causal),
                        device(q), device(k), device(v))


def test_sdpa_bool_mask_equals_float_mask_and_the_loop():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 2))
    keep = rng.random((4, 5)) < 0.6
    keep[:, 1] = True
    add = np.where(keep, 0.0, -np.inf)
    by_bool = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=ad.Tensor(keep))
    by_float = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=add)
    np.testing.assert_allclose(by_bool.numpy(), sdpa_loop(q, k, v, keep), rtol=1e-12)
    np.testing.assert_allclose(by_float.numpy(), by_bool.numpy(), rtol=1e-12)
    bias = rng.normal(size=(4, 5))
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=bias, scale=0.5)
    np.testing.assert_allclose(out.numpy(), sdpa_loop(q, k, v, add=bias, scale=0.5), rtol=1e-12)
    mt = t64(bias)                                  # a float mask tensor gets a gradient
    assert ad.gradcheck(lambda q, m: F.scaled_dot_product_attention(q, t64(k, False),
                                                                    t64(v, False), attn_mask=m),
                        t64(q), mt)


def test_sdpa_causal_mask_is_top_left_aligned():
    q, k = np.ones((3, 2)), np.ones((4, 2))
    v = np.eye(4)                                   # output row i = attention weights of row i
    w = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), is_causal=True).numpy()
    np.testing.assert_allclose(w, [[1, 0, 0, 0], [.5, .5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]])


def test_sdpa_fully_masked_row_gives_zeros_like_pytorch():
    rng = np.random.default_rng(1)
    q, k, v = t64(rng.normal(size=(2, 3))), t64(rng.normal(size=(3, 3))), t64(rng.normal(size=(3, 2)))
    keep = np.array([[True, False, True], [False, False, False]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=ad.Tensor(keep))
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy()[1], [0.0, 0.0])
    assert np.isfinite(host(q.grad)).all() and np.isfinite(host(k.grad)).all()
    np.testing.assert_array_equal(host(q.grad)[1], 0.0)


def test_sdpa_dropout_drops_attention_weights():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(4, 3)) for _ in range(3))
    ad.manual_seed(3)
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), dropout_p=0.5).numpy()
    ad.manual_seed(3)
    weights = F.dropout(t64(q @ k.T / math.sqrt(3), False).softmax(dim=-1), 0.5).numpy()
    np.testing.assert_allclose(out, weights @ v, rtol=1e-12)
    plain = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), dropout_p=0.0).numpy()
    np.testing.assert_allclose(plain, sdpa_loop(q, k, v), rtol=1e-12)


def test_sdpa_errors_name_the_shapes():
    q, k, v = ad.Tensor(np.zeros((2, 3))), ad.Tensor(np.zeros((4, 5))), ad.Tensor(np.zeros((4, 2)))
    with pytest.raises(ad.ShapeError, match=r"share the last dimension E.*got 3 and 5"):
        F.scaled_dot_product_attention(q, k, v)
    k = ad.Tensor(np.zeros((4, 3)))
    with pytest.raises(ad.ShapeError, match="same number S of keys"):
        F.scaled_dot_product_attention(q, k, ad.Tensor(np.zeros((5, 2))))
    with pytest.raises(ad.ShapeError, match=r"attn_mask of shape \(3, 4\) does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 4), bool))
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((2, 4), bool), is_causal=True)
    with pytest.raises(ValueError, match="dropout_p must be in"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
