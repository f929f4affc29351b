"""Convolution and pooling: gradients against finite differences, the convolution (both paths:
kernel and reference) and unfold against direct NumPy loops, pooling on small arrays worked out
by hand. The kernel is compared with the reference in tests/test_kernels.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import autodiff.kernels.conv2d as conv_kernel
from autodiff import ShapeError
from autodiff.nn.conv import Conv2d, conv2d, unfold
from autodiff.nn.pooling import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    MaxPool2d,
    adaptive_avg_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool2d,
)


pytestmark = pytest.mark.usefixtures("layer_path")


def t64(a, requires_grad=True):
    return ad.Tensor(np.asarray(a, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


def host(x):
    return np.asarray(ad.backend.to_numpy(x.data if isinstance(x, ad.Tensor) else x))


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_reference(x, w, b, stride, padding):
    """Direct definition, on the host: y[n,o,a,c] = b[o] + sum w[o,:,i,j] * xpad[n,:,s*a+i,s*c+j]."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph:ph + h, pw:pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for bi in range(n):
        for oc in range(o):
            for a in range(oh):
                for cc in range(ow):
                    patch = xpad[bi, :, a * sh:a * sh + kh, cc * sw:cc * sw + kw]
                    y[bi, oc, a, cc] = (patch * w[oc]).sum() + (0.0 if b is None else b[oc])
    return y


def pool_reference(x, k, s, p, kind, count_include_pad=True):
    """Max/avg pooling on the host, with the gradient of sum(r * y) (max: first maximum)."""
    (kh, kw), (sh, sw), (ph, pw) = pair(k), pair(s), pair(p)
    n, c, h, w = x.shape
    fill = -np.inf if kind == "max" else 0.0
    xpad = np.full((n, c, h + 2 * ph, w + 2 * pw), fill)
    xpad[:, :, ph:ph + h, pw:pw + w] = x
    real = np.zeros(xpad.shape[2:])
    real[ph:ph + h, pw:pw + w] = 1
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, oh, ow))
    r = np.random.default_rng(1).standard_normal(y.shape)
    gpad = np.zeros(xpad.shape)
    for bi in range(n):
        for ch in range(c):
            for a in range(oh):
                for b in range(ow):
                    rows, cols = slice(a * sh, a * sh + kh), slice(b * sw, b * sw + kw)
                    win = xpad[bi, ch, rows, cols]
                    if kind == "max":
                        i, j = np.unravel_index(np.argmax(win), win.shape)
                        y[bi, ch, a, b] = win[i, j]
                        gpad[bi, ch, a * sh + i, b * sw + j] += r[bi, ch, a, b]
                    else:
                        div = kh * kw if count_include_pad else real[rows, cols].sum()
                        y[bi, ch, a, b] = win.sum() / div
                        gpad[bi, ch, rows, cols] += r[bi, ch, a, b] / div
    return y, r, gpad[:, :, ph:ph + h, pw:pw + w]


@pytest.fixture
def small_chunks(request):
    """Cut every batch into chunks of one image (the kernel's chunk loop, uneven chunks)."""
    old = conv_kernel.CHUNK_ELEMENTS
    conv_kernel.CHUNK_ELEMENTS = 1
    yield
    conv_kernel.CHUNK_ELEMENTS = old


# -- convolution: gradients ------------------------------------------------------------------
CONV_CASES = [  # (x shape, w shape, stride, padding)
    ((2, 2, 5, 4), (3, 2, 3, 2), 1, 0),
    ((2, 2, 5, 4), (3, 2, 3, 2), 1, 1),
    ((2, 2, 5, 6), (3, 2, 3, 3), 2, 0),
    ((2, 2, 5, 6), (3, 2, 3, 3), 2, 1),
    ((3, 1, 6, 5), (2, 1, 2, 3), (2, 1), (1, 0)),
    ((2, 3, 4, 4), (2, 3, 1, 1), 1, 0),
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("xs,ws,stride,padding", CONV_CASES)
def test_conv2d_gradcheck(xs, ws, stride, padding, bias):
    rng = np.random.default_rng(0)
    x, w = t64(rng.standard_normal(xs)), t64(rng.standard_normal(ws))
    if bias:
        b = t64(rng.standard_normal(ws[0]))
        assert ad.gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding), x, w, b)
    else:
        assert ad.gradcheck(lambda x, w: conv2d(x, w, None, stride, padding), x, w)


def test_conv2d_gradcheck_with_several_chunks(small_chunks):
    rng = np.random.default_rng(1)
    x, w, b = (t64(rng.standard_normal(s)) for s in [(3, 2, 5, 5), (2, 2, 3, 3), (2,)])
    assert ad.gradcheck(lambda x, w, b: conv2d(x, w, b, 2, 1), x, w, b)


# -- convolution and unfold against host loops ------------------------------------------------
@pytest.mark.parametrize("xs,ws,stride,padding", CONV_CASES + [((4, 3, 9, 7), (5, 3, 3, 3), 2, 1)])
def test_conv2d_equals_a_numpy_loop(xs, ws, stride, padding, small_chunks):
    rng = np.random.default_rng(3)
    xh, wh, bh = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = conv2d(t64(xh), t64(wh), t64(bh), stride, padding)
    np.testing.assert_allclose(host(y), conv_reference(xh, wh, bh, stride, padding),
                               rtol=1e-12, atol=1e-12)


@st.composite
def unfold_problems(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kh, kw, sh, sw = (draw(st.integers(1, 3)) for _ in range(4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 6)), draw(st.integers(max(1, kw - 2 * pw), 6))
    return (n, c, h, w), (kh, kw), (sh, sw), (ph, pw), draw(st.integers(0, 2 ** 16))


@given(unfold_problems())
def test_unfold_columns_are_the_patches_in_pytorchs_order(p):
    """cols[n, (c, i, j), a * OW + b] = xpad[n, c, s*a + i, s*b + j]; the gradient of
    sum(r * cols) sends every r back to the pixel its entry was copied from (col2im)."""
    shape, (kh, kw), (sh, sw), (ph, pw), seed = p
    rng = np.random.default_rng(seed)
    xh = rng.standard_normal(shape)
    n, c, h, w = shape
    xpad = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xpad[:, :, ph:ph + h, pw:pw + w] = xh
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    expected = np.zeros((n, c * kh * kw, oh * ow))
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for a in range(oh):
                    for b in range(ow):
                        expected[:, (ci * kh + i) * kw + j, a * ow + b] = \
                            xpad[:, ci, sh * a + i, sw * b + j]
    x = t64(xh)
    cols = unfold(x, (kh, kw), (sh, sw), (ph, pw))
    np.testing.assert_array_equal(host(cols), expected)
    r = rng.standard_normal(expected.shape)
    cols.backward(ad.Tensor(r, dtype="float64"))
    gpad = np.zeros_like(xpad)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for a in range(oh):
                    for b in range(ow):
                        gpad[:, ci, sh * a + i, sw * b + j] += r[:, (ci * kh + i) * kw + j,
                                                                  a * ow + b]
    np.testing.assert_allclose(host(x.grad), gpad[:, :, ph:ph + h, pw:pw + w], rtol=1e-12,
                               atol=1e-12)


def test_conv2d_float32_stays_float32_and_matches_the_reference():
    rng = np.random.default_rng(4)
    xh = rng.standard_normal((3, 4, 8, 8)).astype(np.float32)
    wh = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    x, w = ad.Tensor(xh, requires_grad=True), ad.Tensor(wh, requires_grad=True)
    y = conv2d(x, w, None, 1, 1)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    np.testing.assert_allclose(host(y), conv_reference(xh, wh, None, 1, 1), rtol=1e-4, atol=1e-4)


def test_conv2d_skips_the_input_gradient_when_not_needed():
    x = ad.Tensor(np.ones((1, 1, 3, 3)))
    w = ad.Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    conv2d(x, w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(host(w.grad), np.full((1, 1, 2, 2), 4.0))


# -- the Conv2d layer ---------------------------------------------------------------------------
def test_conv2d_layer_shapes_names_and_output():
    layer = Conv2d(3, 8, (3, 2), stride=2, padding=1)
    assert layer.weight.shape == (8, 3, 3, 2) and layer.bias.shape == (8,)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    x = ad.Tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 8)))
    assert layer(x).shape == (2, 8, 5, 5)      # (9 + 2 - 3)//2 + 1, (8 + 2 - 2)//2 + 1
    assert "bias" not in dict(Conv2d(3, 8, 3, bias=False).named_parameters())
    assert repr(Conv2d(3, 8, 3, bias=False)) == \
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), bias=False)"


def test_conv2d_layer_init_is_pytorchs_default():
    layer = Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)    # kaiming_uniform_(a=sqrt(5)): sqrt(1/3) * sqrt(3/fan_in)
    w, b = host(layer.weight.data), host(layer.bias.data)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound   # U(-b, b) has std b/sqrt(3)
    assert np.abs(w).max() > 0.95 * bound
    ad.manual_seed(5)
    first = host(Conv2d(2, 3, 3).weight.data)
    ad.manual_seed(5)
    np.testing.assert_array_equal(first, host(Conv2d(2, 3, 3).weight.data))


def test_conv2d_layer_is_the_functional_form():
    layer = Conv2d(2, 3, 2, stride=1, padding=1)
    x = ad.Tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 3)))
    np.testing.assert_allclose(host(layer(x)),
                               host(conv2d(x, layer.weight, layer.bias, 1, 1)))


# -- convolution: errors ------------------------------------------------------------------------
def test_conv2d_layer_channel_error_names_layer_channels_and_shape():
    layer = Conv2d(3, 8, 3)
    with pytest.raises(ShapeError) as err:
        layer(ad.Tensor(np.zeros((2, 4, 8, 8))))
    msg = str(err.value)
    assert "Conv2d(3, 8" in msg and "3 channels" in msg and "(2, 4, 8, 8)" in msg
    with pytest.raises(ShapeError, match=r"\(3, 8, 8\)"):
        layer(ad.Tensor(np.zeros((3, 8, 8))))


@pytest.mark.parametrize("xs,ws,bs,kw,match", [
    ((2, 4, 5, 5), (3, 2, 3, 3), None, {}, "expected input with 2 channels"),
    ((4, 5, 5), (3, 4, 3, 3), None, {}, "4-d input"),
    ((1, 2, 5, 5), (3, 2, 3), None, {}, "weight must have shape"),
    ((1, 2, 5, 5), (3, 2, 3, 3), (2,), {}, r"bias must be a tensor of shape \(3,\)"),
    ((1, 2, 2, 5), (3, 2, 3, 3), None, {}, "too small"),
])
def test_conv2d_shape_errors(xs, ws, bs, kw, match):
    x, w = ad.Tensor(np.zeros(xs)), ad.Tensor(np.zeros(ws))
    b = None if bs is None else ad.Tensor(np.zeros(bs))
    with pytest.raises(ShapeError, match=match):
        conv2d(x, w, b, **kw)


def test_conv2d_bad_stride_and_padding():
    x, w = ad.Tensor(np.zeros((1, 1, 4, 4))), ad.Tensor(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="stride"):
        conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match="kernel_size"):
        Conv2d(1, 1, 1.5)


# -- pooling ------------------------------------------------------------------------------------
GRID = [[1, 3, 3, 0],
        [2, 0, 1, 1],
        [5, 5, 0, 0],
        [5, 4, 0, -1]]


def test_max_pool_values_and_gradient_with_ties_go_to_the_first_maximum():
    x = t64([[GRID]])
    y = max_pool2d(x, 2)
    np.testing.assert_array_equal(host(y), [[[[3, 3], [5, 0]]]])
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [[[[0, 1, 1, 0],
                                                   [0, 0, 0, 0],
                                                   [1, 0, 1, 0],
                                                   [0, 0, 0, 0]]]])


def test_max_pool_overlapping_windows_add_their_gradients():
    x = t64([[GRID]])
    y = max_pool2d(x, 3, stride=1, padding=1)       # -inf padding: a window never picks it
    np.testing.assert_array_equal(host(y)[0, 0], [[3, 3, 3, 3],
                                                   [5, 5, 5, 3],
                                                   [5, 5, 5, 1],
                                                   [5, 5, 5, 0]])
    y.sum().backward()
    # the 16 windows, by the position of their first maximum: (0,1) wins windows (0,0), (0,1),
    # (0,2) (its tie with (0,2) goes to the first); (0,2) wins (0,3) and (1,3); the first 5,
    # (2,0), wins the 6 windows of columns 0-1 in rows 1-3; (2,1) the three of column 2 in
    # rows 1-3; (1,2) wins (2,3) and (2,2) wins (3,3)
    np.testing.assert_array_equal(host(x.grad)[0, 0], [[0, 3, 2, 0],
                                                       [0, 0, 1, 0],
                                                       [6, 3, 1, 0],
                                                       [0, 0, 0, 0]])


def test_max_pool_of_negative_values_ignores_the_padding():
    x = t64(-np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    np.testing.assert_array_equal(host(max_pool2d(x, 2, stride=2, padding=1))[0, 0],
                                  [[-1, -2], [-4, -5]])


def test_max_pool_propagates_nan():
    x = t64([[[[1.0, np.nan], [0.0, 2.0]]]])
    assert np.isnan(host(max_pool2d(x, 2))).all()


def test_avg_pool_values_and_gradient():
    x = t64([[GRID]])
    y = avg_pool2d(x, 2)
    np.testing.assert_array_equal(host(y), [[[[1.5, 1.25], [4.75, -0.25]]]])
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.full((1, 1, 4, 4), 0.25))


def test_avg_pool_padding_counts_zeros_unless_told_not_to():
    x = t64(np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(host(avg_pool2d(x, 2, stride=1, padding=1))[0, 0],
                               [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])
    np.testing.assert_allclose(
        host(avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)), np.ones((1, 1, 3, 3)))


@st.composite
def pool_problems(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    return {"shape": (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                      draw(st.integers(max(1, kh - 2 * ph), 7)),
                      draw(st.integers(max(1, kw - 2 * pw), 7))),
            "k": (kh, kw), "s": (draw(st.integers(1, 3)), draw(st.integers(1, 3))), "p": (ph, pw),
            "kind": draw(st.sampled_from(["max", "avg", "avg_real"])),
            "seed": draw(st.integers(0, 2 ** 16))}


@given(pool_problems())
def test_pooling_equals_a_numpy_loop(p):
    xh = np.random.default_rng(p["seed"]).standard_normal(p["shape"])
    include = p["kind"] != "avg_real"
    kind = "max" if p["kind"] == "max" else "avg"
    y_ref, r, g_ref = pool_reference(xh, p["k"], p["s"], p["p"], kind, include)
    x = t64(xh)
    y = max_pool2d(x, p["k"], p["s"], p["p"]) if kind == "max" else \
        avg_pool2d(x, p["k"], p["s"], p["p"], count_include_pad=include)
    (y * ad.Tensor(r, dtype="float64")).sum().backward()
    np.testing.assert_allclose(host(y), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(x.grad), g_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x: avg_pool2d(x, 3, 2, 1),
    lambda x: avg_pool2d(x, (2, 3), (1, 2), (1, 1), count_include_pad=False),
    lambda x: max_pool2d(x, (2, 3), (1, 2), 1),
    global_avg_pool2d,
    lambda x: adaptive_avg_pool2d(x, 1),
    lambda x: adaptive_avg_pool2d(x, (2, 3)),
], ids=["avg", "avg_real", "max", "global", "adaptive1", "adaptive2x3"])
def test_pooling_gradcheck(fn):
    x = t64(np.random.default_rng(0).standard_normal((2, 3, 4, 6)))
    assert ad.gradcheck(fn, x)


def test_global_and_adaptive_average_pooling_shapes_and_values():
    xh = np.random.default_rng(0).standard_normal((2, 3, 4, 6))
    x = t64(xh)
    np.testing.assert_allclose(host(global_avg_pool2d(x)), xh.mean(axis=(2, 3)))
    np.testing.assert_allclose(host(adaptive_avg_pool2d(x, 1)), xh.mean(axis=(2, 3), keepdims=True))
    np.testing.assert_allclose(host(adaptive_avg_pool2d(x, (2, 3))),
                               xh.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5)))
    assert AdaptiveAvgPool2d()(x).shape == (2, 3, 1, 1)


def test_pooling_modules_match_the_functions():
    x = t64(np.random.default_rng(0).standard_normal((2, 3, 6, 6)))
    np.testing.assert_array_equal(host(MaxPool2d(2)(x)), host(max_pool2d(x, 2)))
    np.testing.assert_array_equal(host(MaxPool2d(3, 2, 1)(x)), host(max_pool2d(x, 3, 2, 1)))
    np.testing.assert_array_equal(host(AvgPool2d(3, 1, 1)(x)), host(avg_pool2d(x, 3, 1, 1)))
    assert MaxPool2d(2)(x).shape == (2, 3, 3, 3)
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"


@pytest.mark.parametrize("call,error,match", [
    (lambda x: max_pool2d(x[0], 2), ShapeError, "4-d input"),
    (lambda x: avg_pool2d(x, 5), ShapeError, "larger than the padded input"),
    (lambda x: max_pool2d(x, 2, padding=2), ValueError, "at most half"),
    (lambda x: global_avg_pool2d(x[0]), ShapeError, "4-d input"),
    (lambda x: adaptive_avg_pool2d(x, 3), ShapeError, "must divide"),
    (lambda x: max_pool2d(x, 0), ValueError, "kernel_size"),
])
def test_pooling_errors(call, error, match):
    x = t64(np.zeros((1, 2, 4, 4)))
    with pytest.raises(error, match=match):
        call(x)
