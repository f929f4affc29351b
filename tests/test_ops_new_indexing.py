"""expand / broadcast_to, gather, scatter_add, masked_fill, F.one_hot and F.pad: values against
NumPy loops written here (not the library's code path), gradients by ``ad.gradcheck`` on
Hypothesis shapes (index arrays with repeats), hand-derived gradients, and the errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff.nn import functional as F
from strategies import GRAD_MAX_SIZE, arrays, device, shapes

FEW = settings(max_examples=10)


def host(t):
    """A tensor's data or a raw array (a .grad) on the host."""
    return ad.backend.to_numpy(t.data if isinstance(t, ad.Tensor) else t)


def ints(a):
    return ad.Tensor(np.asarray(a, dtype=np.int64))


# -- expand / broadcast_to ---------------------------------------------------------------------
@st.composite
def expand_case(draw):
    shape = draw(shapes(max_dims=3, max_size=12))
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    sizes = [draw(st.sampled_from([n, -1, 2, 3])) if n == 1 else draw(st.sampled_from([n, -1]))
             for n in shape]
    return shape, tuple(lead + sizes)


@given(case=expand_case(), data=st.data())
def test_expand_values_and_gradcheck(case, data):
    shape, sizes = case
    x = data.draw(arrays(shape))
    lead = len(sizes) - len(shape)
    target = tuple(n if n != -1 else shape[i - lead] for i, n in enumerate(sizes))
    out = device(x).expand(*sizes)
    assert out.shape == target
    np.testing.assert_array_equal(host(out), np.broadcast_to(x, target))
    np.testing.assert_array_equal(host(ad.broadcast_to(device(x), target)), host(out))
    assert ad.gradcheck(lambda t: t.expand(sizes), device(x))


def test_expand_gradient_counts_copies():
    """d sum(expand(x)) / dx = the number of copies of each entry: 2 * 4 here."""
    x = ad.Tensor(np.ones((3, 1)), requires_grad=True)
    x.expand(2, 3, 4).sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.full((3, 1), 8.0))


@pytest.mark.parametrize("sizes, words", [((3, 4), "dimension 1 has size 2"),
                                          ((-1, 3, 2), "new leading dimension 0"),
                                          ((2,), "at least 2 sizes")])
def test_expand_errors_name_both_shapes(sizes, words):
    x = ad.Tensor(np.ones((3, 2)))
    with pytest.raises(ad.ShapeError, match="expand") as info:
        x.expand(*sizes)
    assert "(3, 2)" in str(info.value) and str(sizes) in str(info.value)
    assert words in str(info.value)


# -- gather / scatter_add ----------------------------------------------------------------------
@st.composite
def index_case(draw, src_extra=False):
    """A shape, a dim, and an int64 index no larger than the shape off ``dim`` (any length along
    it), values drawn from few choices so that they repeat."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_size=24))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    ishape = tuple(draw(st.integers(1, 4)) if i == d else draw(st.integers(1, n))
                   for i, n in enumerate(shape))
    index = draw(st.lists(st.integers(0, shape[d] - 1), min_size=int(np.prod(ishape)),
                          max_size=int(np.prod(ishape))))
    return shape, dim, np.array(index, dtype=np.int64).reshape(ishape)


def gather_loop(x, dim, index):
    out = np.empty(index.shape, x.dtype)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[dim] = index[pos]
        out[pos] = x[tuple(src)]
    return out


def scatter_add_loop(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        dst = list(pos)
        dst[dim] = index[pos]
        out[tuple(dst)] += src[pos]
    return out


@given(case=index_case(), data=st.data())
def test_gather_values_and_gradcheck(case, data):
    shape, dim, index = case
    x = data.draw(arrays(shape))
    out = device(x).gather(dim, ints(index))
    np.testing.assert_array_equal(host(out), gather_loop(x, dim % len(shape), index))
    np.testing.assert_array_equal(host(ad.gather(device(x), dim, ints(index))), host(out))
    assert ad.gradcheck(lambda t: t.gather(dim, ints(index)), device(x))


def test_gather_repeated_indices_add_up():
    x = ad.Tensor(np.arange(3.0), requires_grad=True)
    x.gather(0, ints([2, 2, 0, 2])).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [1.0, 0.0, 3.0])
    # a host array or a list is moved to the tensor's backend explicitly
    for index in (np.array([2, 0]), [2, 0]):
        np.testing.assert_array_equal(host(x.gather(0, index)), [2.0, 0.0])


@FEW
@given(case=index_case(), data=st.data())
def test_scatter_add_values_and_gradcheck(case, data):
    shape, dim, index = case
    sshape = tuple(n + data.draw(st.integers(0, 1)) for n in index.shape)   # src may be larger
    x, src = data.draw(arrays(shape)), data.draw(arrays(sshape))
    out = device(x).scatter_add(dim, ints(index), device(src))
    expected = scatter_add_loop(x, dim % len(shape), index, src)
    np.testing.assert_allclose(host(out), expected, rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda a, b: a.scatter_add(dim, ints(index), b), device(x), device(src))


def test_scatter_add_gradient_to_src_is_g_at_index():
    """d out / d src[i] = g[index[i]] (each src entry lands once); rows of src beyond index get
    nothing."""
    x, src = ad.Tensor(np.zeros(3), requires_grad=True), ad.Tensor(np.ones(3), requires_grad=True)
    out = ad.scatter_add(x, 0, ints([2, 2]), src)
    np.testing.assert_array_equal(host(out), [0.0, 0.0, 2.0])
    (out * ad.Tensor(np.array([10.0, 20.0, 30.0]))).sum().backward()
    np.testing.assert_array_equal(host(src.grad), [30.0, 30.0, 0.0])
    np.testing.assert_array_equal(host(x.grad), [10.0, 20.0, 30.0])


@pytest.mark.parametrize("op", ["gather", "scatter_add"])
def test_index_errors(op):
    x = ad.Tensor(np.zeros((2, 3)))

    def call(dim, index):
        if op == "gather":
            return x.gather(dim, index)
        return x.scatter_add(dim, index, ad.Tensor(np.ones((2, 3))))
    with pytest.raises(IndexError, match=rf"{op}: index 3 .* dimension 1 of size 3.* 0 to 2"):
        call(1, ints([[0, 3]]))
    with pytest.raises(IndexError, match=rf"{op}: index -1 .* 0 to 1"):
        call(0, ints([[-1, 0]]))
    with pytest.raises(TypeError, match=rf"{op}: index must hold integers"):
        call(0, ad.Tensor(np.zeros((1, 1))))
    with pytest.raises(ad.ShapeError, match=rf"{op}: index of shape \(2,\) .* \(2, 3\)"):
        call(0, ints([0, 1]))
    with pytest.raises(ad.ShapeError, match="larger along dimension 1"):
        call(0, ints(np.zeros((1, 4))))
    with pytest.raises(ad.DimensionError):
        call(2, ints([[0]]))


def test_scatter_add_src_dtype_must_match():
    with pytest.raises(TypeError, match="src has dtype int64"):
        ad.Tensor(np.zeros(3)).scatter_add(0, ints([0]), ints([1]))


# -- masked_fill ---------------------------------------------------------------------------------
@given(data=st.data(), shape=shapes(max_size=GRAD_MAX_SIZE))
def test_masked_fill_values_and_gradcheck(data, shape):
    mshape = tuple(data.draw(st.sampled_from([n, 1])) for n in shape)[
        data.draw(st.integers(0, len(shape))):]                    # broadcastable to shape
    x = data.draw(arrays(shape))
    mask = np.asarray(data.draw(arrays(mshape))) > 0
    expected = x.copy()
    expected[np.broadcast_to(mask, shape)] = -7.5
    m = ad.Tensor(mask)
    np.testing.assert_array_equal(host(device(x).masked_fill(m, -7.5)), expected)
    np.testing.assert_array_equal(host(ad.masked_fill(device(x), m, -7.5)), expected)
    assert ad.gradcheck(lambda t: t.masked_fill(m, 2.0), device(x))
    assert ad.gradcheck(lambda t, v: t.masked_fill(m, v), device(x), device(np.array(0.5)))


def test_masked_fill_hand_gradients_and_dtype():
    x = ad.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    v = ad.Tensor(np.array(5.0), requires_grad=True)
    out = x.masked_fill(ad.Tensor(np.array([True, False, True])), v)
    np.testing.assert_array_equal(host(out), [5.0, 2.0, 5.0])
    out.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0.0, 1.0, 0.0])
    assert v.grad.shape == () and float(host(v.grad)) == 2.0
    i = ints([1, 1, 1]).masked_fill(ad.Tensor(np.array([True, False, True])), 1.7)
    assert i.dtype == np.int64 and host(i).tolist() == [1, 1, 1]       # kept dtype, as PyTorch


def test_masked_fill_errors():
    x = ad.Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="mask must be a boolean tensor, not int64"):
        x.masked_fill(ints([0, 1, 0]), 1.0)
    with pytest.raises(ad.ShapeError, match=r"masked_fill: shapes \(2, 3\) and \(2,\)"):
        x.masked_fill(ad.Tensor(np.array([True, False])), 1.0)
    with pytest.raises(ValueError, match="0-d tensor"):
        x.masked_fill(ad.Tensor(np.array([True, False, True])), ad.Tensor(np.ones(3)))


# -- one_hot -------------------------------------------------------------------------------------
@given(shape=shapes(max_dims=3), data=st.data())
def test_one_hot_against_a_loop(shape, data):
    classes = data.draw(st.integers(1, 5))
    labels = np.asarray(data.draw(arrays(shape, 0, classes - 0.01))).astype(np.int64)
    expected = np.zeros(shape + (classes,), np.int64)
    for pos in np.ndindex(*shape):
        expected[pos + (labels[pos],)] = 1
    out = F.one_hot(ints(labels), classes)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(host(out), expected)
    inferred = F.one_hot(ints(labels))
    assert inferred.shape == shape + (labels.max() + 1,)


def test_one_hot_errors():
    with pytest.raises(ValueError, match="class -1 is negative"):
        F.one_hot(ints([0, -1]))
    with pytest.raises(ValueError, match="class 3 is too large for num_classes=3"):
        F.one_hot(ints([3]), 3)
    with pytest.raises(TypeError, match="integer class indices"):
        F.one_hot(ad.Tensor(np.array([1.0])))


# -- pad -----------------------------------------------------------------------------------------
NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad_reference(x, pad, mode, value):
    """np.pad with the positive pads, then the negative ones cropped off (PyTorch counts every
    position from the unpadded input, so this is the same thing); circular mode crops first and
    wraps what is left, as PyTorch."""
    if mode == "circular":
        cropped = pad_reference(x, [min(p, 0) for p in pad], "constant", 0.0)
        return np.pad(cropped, [(0, 0)] * (x.ndim - len(pad) // 2) + [
            (max(pad[2 * k], 0), max(pad[2 * k + 1], 0)) for k in reversed(range(len(pad) // 2))],
            mode="wrap")
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for k in range(len(pad) // 2):
        left, right = pad[2 * k], pad[2 * k + 1]
        widths[x.ndim - 1 - k] = (max(left, 0), max(right, 0))
        crop[x.ndim - 1 - k] = slice(max(-left, 0), None if right >= 0 else right)
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, widths, mode=NUMPY_MODE[mode], **kw)[tuple(crop)]


@st.composite
def pad_case(draw):
    mode = draw(st.sampled_from(sorted(NUMPY_MODE)))
    shape = draw(shapes(min_dims=1, max_dims=3, max_size=24).filter(lambda s: min(s) >= 2))
    k = draw(st.integers(1, len(shape)))
    pad = []
    for d in range(k):
        n = shape[-1 - d]
        hi = {"reflect": n - 1, "circular": n - 2}.get(mode, 3)
        left, right = draw(st.integers(-1, hi)), draw(st.integers(-1, hi))
        pad += [left, right]
    return shape, tuple(pad), mode


@given(case=pad_case(), data=st.data())
def test_pad_values_and_gradcheck(case, data):
    shape, pad, mode = case
    x = data.draw(arrays(shape))
    value = 1.5 if mode == "constant" else 0.0
    out = F.pad(device(x), pad, mode=mode, value=value)
    np.testing.assert_array_equal(host(out), pad_reference(x, pad, mode, value))
    assert ad.gradcheck(lambda t: F.pad(t, pad, mode=mode, value=value), device(x))


@pytest.mark.parametrize("mode, expected", [("replicate", [3.0, 1.0, 2.0]),
                                            ("reflect", [1.0, 3.0, 2.0]),
                                            ("circular", [2.0, 2.0, 2.0]),
                                            ("constant", [1.0, 1.0, 1.0])])
def test_pad_gradient_counts_copies(mode, expected):
    """x = [a, b, c] padded by (2, 1): replicate copies a 3 times, c twice; reflect reads
    c b | a b c | b; circular b c | a b c | a."""
    x = ad.Tensor(np.zeros(3), requires_grad=True)
    F.pad(x, (2, 1), mode=mode).sum().backward()
    np.testing.assert_array_equal(host(x.grad), expected)


def test_pad_keeps_integer_dtype_and_crops():
    out = F.pad(ints([[1, 2, 3]]), (-1, 1, 1, 0), value=7)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(host(out), [[7, 7, 7], [2, 3, 7]])


def test_pad_errors():
    x = ad.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="at most 2 \\* 2"):
        F.pad(x, (1,) * 6)
    with pytest.raises(ValueError, match="'constant', 'reflect', 'replicate', 'circular'"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ad.ShapeError, match="reflect padding of dimension 1 .* at most 2"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ad.ShapeError, match="negative size"):
        F.pad(x, (-2, -2))
    with pytest.raises(TypeError, match="tuple of integers"):
        F.pad(x, (1.5, 1))
    with pytest.raises(ValueError, match="value applies to mode 'constant' only"):
        F.pad(x, (1, 1), mode="reflect", value=1.0)
