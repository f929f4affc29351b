"""Forward values of every primitive equal plain NumPy's on the same host data.

Inputs are drawn on the host (NumPy), copied to the active backend, and results come back with
``Tensor.numpy()``; the reference is computed by NumPy on the host copy. Shapes and dtypes are
checked as well as values.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from strategies import (BINARY, INDEX_CASES, X_SHAPE, arrays, away_from_zero,
                        broadcastable_shapes, device, distinct, make_index, matmul_shapes,
                        positive, reshape_targets, shape_and_axis, shape_and_one_axis, shapes)

RTOL = 1e-6  # float64 inputs


def check(out, expected, rtol=RTOL, atol=0.0):
    """``out`` (a Tensor) has NumPy's value, shape and dtype."""
    expected = np.asarray(expected)
    assert isinstance(out, ad.Tensor)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    assert str(out.dtype) == str(expected.dtype), (out.dtype, expected.dtype)
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)


def host_sigmoid(x):
    """A stable float64 reference: 1 / (1 + e^-x) without overflow on either side."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def host_log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

# heavily parametrized tests draw fewer examples per parameter
FEW = settings(max_examples=10)


# -- elementwise arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data(), shs=broadcastable_shapes(2))
def test_binary_arithmetic_broadcasts_like_numpy(op, data, shs):
    """+ - * / on broadcastable shapes: NumPy's values and broadcast result shape."""
    fn, denominators = BINARY[op]
    a = data.draw(arrays(shs[0]))
    b = data.draw(denominators(shs[1]))
    check(fn(device(a), device(b)), fn(a, b))


@FEW
@pytest.mark.parametrize("op", sorted(BINARY))
@given(x=shapes().flatmap(away_from_zero), c=st.sampled_from([2, -3, 0.5, 1.75]))
def test_python_scalar_operands_both_sides(op, x, c):
    """x op c and c op x with a Python number give NumPy's values (and the tensor's dtype)."""
    fn = BINARY[op][0]
    check(fn(device(x), c), fn(x, c))
    check(fn(c, device(x)), fn(c, x))


@given(x=shapes().flatmap(arrays))
def test_neg(x):
    """Unary minus negates every entry."""
    check(-device(x), -x)


@FEW
@pytest.mark.parametrize("p", [2, 3, 1, 0, -1, -2, 0.5, -0.5, 1.5, -2.5])
@given(x=shapes().flatmap(positive))
def test_pow_scalar_exponent_on_positive_inputs(p, x):
    """x ** p for integer, zero, negative and fractional p on x >= 0.1."""
    check(device(x) ** p, x ** p)


@FEW
@pytest.mark.parametrize("p", [2, 3, -1, -2])
@given(x=shapes().flatmap(away_from_zero))
def test_pow_integer_exponent_on_signed_inputs(p, x):
    """Integer powers are defined for negative bases too."""
    check(device(x) ** p, x ** p)


@FEW
@pytest.mark.parametrize("c", [2.0, 0.5, math.e, 10, 1])
@given(x=shapes().flatmap(arrays))
def test_rpow(c, x):
    """c ** x for a positive number c."""
    check(c ** device(x), c ** x)


UNARY = {
    "exp": (ad.exp, np.exp, arrays),
    "log": (ad.log, np.log, positive),
    "sqrt": (ad.sqrt, np.sqrt, positive),
    "abs": (ad.abs, np.abs, arrays),
    "tanh": (ad.tanh, np.tanh, lambda s: arrays(s, -10, 10)),
    "sigmoid": (ad.sigmoid, host_sigmoid, lambda s: arrays(s, -10, 10)),
    "relu": (ad.relu, lambda x: np.maximum(x, 0.0), arrays),
}


@FEW
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), shape=shapes())
def test_unary_functions(name, data, shape):
    """ad.f(x) and the method x.f() equal NumPy's f(x)."""
    fn, ref, values = UNARY[name]
    x = data.draw(values(shape))
    check(fn(device(x)), ref(x))
    check(getattr(device(x), name)(), ref(x))


def test_abs_builtin_and_relu_at_zero():
    """abs(t) works through __abs__; relu(0) = 0 and |0| = 0 exactly."""
    x = np.array([-2.0, 0.0, 3.0])
    check(abs(device(x)), np.abs(x))
    check(ad.relu(device(x)), np.array([0.0, 0.0, 3.0]))


def test_sigmoid_is_accurate_in_the_left_tail():
    """sigmoid(x) for very negative x is a tiny positive number, not 0: float64 sigmoid(-40)
    is 4.25e-18 and float32 sigmoid(-20) is 2.06e-9 (both representable), so that
    log(sigmoid(x)) stays finite (binary cross-entropy)."""
    x = np.array([-60.0, -40.0, -30.0, -20.0, -5.0, 0.0, 5.0, 40.0])
    check(ad.sigmoid(device(x)), host_sigmoid(x), rtol=1e-6)
    x32 = np.array([-30.0, -20.0, -15.0, 0.0, 20.0], dtype=np.float32)
    check(ad.sigmoid(device(x32)), host_sigmoid(x32.astype(np.float64)).astype(np.float32),
          rtol=1e-5)


# -- maximum, minimum, where, clip ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(data=st.data(), shs=broadcastable_shapes(2))
def test_maximum_minimum(name, data, shs):
    """Elementwise max/min with broadcasting, and with a Python number on either side."""
    a, b = data.draw(distinct(*shs))
    fn, ref = getattr(ad, name), getattr(np, name)
    check(fn(device(a), device(b)), ref(a, b))
    check(fn(device(a), 0.0), ref(a, 0.0))
    check(fn(0.0, device(b)), ref(0.0, b))


@given(data=st.data(), shs=broadcastable_shapes(3))
def test_where(data, shs):
    """where(cond, a, b) picks a where cond holds, else b; all three broadcast."""
    cond = data.draw(hnp.arrays(np.bool_, shs[0]))
    a, b = data.draw(arrays(shs[1])), data.draw(arrays(shs[2]))
    mask = ad.Tensor(cond)
    check(ad.where(mask, device(a), device(b)), np.where(cond, a, b))
    check(ad.where(mask, device(a), 0.0), np.where(cond, a, 0.0))
    check(ad.where(mask, 1.5, device(b)), np.where(cond, 1.5, b))


@given(x=shapes(min_dims=1).flatmap(arrays))
def test_where_with_mask_from_comparison(x):
    """A comparison of tensors gives a boolean mask usable by where (e.g. a hand-made relu).
    (0-d tensors: see test_comparison_of_0d_tensor_is_a_device_mask.)"""
    t = device(x)
    check(t > 0, x > 0)
    check(ad.where(t > 0, t, 0.0), np.where(x > 0, x, 0.0))


@pytest.mark.parametrize("op", ["__gt__", "__lt__", "__ge__", "__le__", "__eq__", "__ne__"])
def test_comparison_of_0d_tensor_is_a_device_mask(op):
    """Comparing a 0-d tensor gives a mask on the tensor's backend (a 0-d array, not a NumPy
    scalar), so ad.where accepts it as it does for any other shape."""
    t = device(np.array(1.5))
    mask = getattr(t, op)(1.0)
    assert mask.shape == () and str(mask.dtype) == "bool"
    expected = getattr(np.array(1.5), op)(1.0)
    check(ad.where(mask, t, -t), np.where(expected, 1.5, -1.5))


@FEW
@pytest.mark.parametrize("lo,hi", [(-0.5, None), (None, 0.5), (-0.5, 0.5), (-1, 2)])
@given(x=shapes().flatmap(arrays))
def test_clip(lo, hi, x):
    """clip/clamp with min only, max only, and both bounds (keyword and positional)."""
    check(ad.clip(device(x), lo, hi), np.clip(x, lo, hi))
    check(device(x).clip(min=lo, max=hi), np.clip(x, lo, hi))
    check(ad.clamp(device(x), lo, hi), np.clip(x, lo, hi))


# -- matmul ---------------------------------------------------------------------------------------
MATMUL_CASES = [((3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
                ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((1, 3, 4), (2, 4, 1))]


@pytest.mark.parametrize("sa,sb", MATMUL_CASES)
@settings(max_examples=5)
@given(data=st.data())
def test_matmul_named_cases(sa, sb, data):
    """2-d @ 2-d, batched with broadcast batch dims, and every 1-d combination."""
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    check(device(a) @ device(b), a @ b, rtol=1e-10, atol=1e-12)
    check(ad.matmul(device(a), device(b)), np.matmul(a, b), rtol=1e-10, atol=1e-12)


@given(data=st.data(), shs=matmul_shapes())
def test_matmul_generated_shapes(data, shs):
    """Any pair of shapes NumPy's matmul accepts (1-d, 2-d, broadcast batches)."""
    a, b = data.draw(arrays(shs[0])), data.draw(arrays(shs[1]))
    check(device(a) @ device(b), a @ b, rtol=1e-10, atol=1e-12)


# -- reductions -----------------------------------------------------------------------------------
def _reduce(t, name, axis, keepdims, spelling):
    if spelling == "numpy":
        return getattr(t, name)(axis=axis, keepdims=keepdims)
    if spelling == "torch":
        return getattr(t, name)(dim=axis, keepdim=keepdims)
    return getattr(ad, name)(t, axis, keepdims)  # module function, positional


@FEW
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("spelling", ["numpy", "torch", "function"])
@given(data=st.data(), sa=shape_and_axis(), keepdims=st.booleans())
def test_reductions(name, spelling, data, sa, keepdims):
    """sum/mean/max/min over axis None, int, negative int, tuple, with keepdims; NumPy's
    (axis, keepdims) and PyTorch's (dim, keepdim) spellings agree."""
    shape, axis = sa
    x = data.draw(arrays(shape))
    out = _reduce(device(x), name, axis, keepdims, spelling)
    check(out, getattr(np, name)(x, axis=axis, keepdims=keepdims), atol=1e-12)


@pytest.mark.parametrize("name,value", [("sum", 2.5), ("mean", 2.5), ("max", 2.5), ("min", 2.5),
                                        ("log_softmax", 0.0), ("softmax", 1.0)])
@pytest.mark.parametrize("axis", [0, -1])
def test_0d_tensor_along_its_only_axis(name, value, axis):
    """A 0-d tensor reduced (or softmaxed) along axis 0 or -1, which the engine's axis
    normalization accepts (normalize_axis uses max(ndim, 1), as PyTorch does), either gives
    PyTorch's result or raises the engine's ShapeError, never a raw backend AxisError."""
    t = device(np.array(2.5))
    try:
        out = getattr(t, name)(axis)
    except ad.ShapeError:
        return
    check(out, np.array(value))


# -- shape primitives ------------------------------------------------------------------------------
@given(data=st.data(), shape=shapes())
def test_reshape_and_view(data, shape):
    """reshape (a tuple or separate ints, with -1) keeps the entries in C order."""
    target = data.draw(reshape_targets(shape))
    x = data.draw(arrays(shape))
    check(device(x).reshape(target), x.reshape(target))
    check(ad.reshape(device(x), target), x.reshape(target))
    if target:
        check(device(x).view(*target), x.reshape(target))
    check(device(x).reshape(-1), x.reshape(-1))


@given(data=st.data(), shape=shapes())
def test_permute_transpose_T(data, shape):
    """permute(dims) is NumPy's transpose(dims); transpose(d0, d1) swaps two dims (PyTorch);
    .T reverses all dims."""
    x = data.draw(arrays(shape))
    nd = len(shape)
    dims = data.draw(st.permutations(range(nd)))
    negative = [d - nd if data.draw(st.booleans()) else d for d in dims]
    check(device(x).permute(dims), x.transpose(dims))
    check(device(x).permute(negative), x.transpose(dims))
    check(device(x).permute(*dims) if nd else device(x).permute(()), x.transpose(dims))
    check(ad.permute(device(x), dims), x.transpose(dims))
    check(device(x).T, x.T)
    if nd >= 1:
        d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
        check(device(x).transpose(d0, d1), np.swapaxes(x, d0, d1))
        check(ad.transpose(device(x), d0, d1), np.swapaxes(x, d0, d1))
    if nd >= 2:
        check(device(x).transpose(), np.swapaxes(x, -2, -1))


def test_transpose_swaps_only_two_dims():
    """On a 4-d tensor transpose(1, 3) is not a full reversal."""
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    check(device(x).transpose(1, 3), x.transpose(0, 3, 2, 1))
    assert device(x).transpose(0, 1).shape == (3, 2, 4, 5)


# -- indexing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
@settings(max_examples=3)
@given(x=arrays(X_SHAPE))
def test_indexing_named_cases(case, x):
    """Slices with steps, ints, None, Ellipsis, repeated integer arrays, masks, mixes, lists,
    negative indices and integer Tensors select what NumPy selects."""
    index = make_index(case)
    host_index = np.array([0, 0, 2, -1]) if isinstance(index, ad.Tensor) else index
    check(device(x)[index], x[host_index])


@given(data=st.data(), shape=shapes(min_dims=1))
def test_basic_indexing_generated(data, shape):
    """Any basic index (ints, slices with steps, None, Ellipsis) selects what NumPy selects."""
    x = data.draw(arrays(shape))
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    check(device(x)[index], x[index])


@given(data=st.data(), shape=shapes(min_dims=1))
def test_integer_array_indexing_generated(data, shape):
    """Integer-array indices (one per leading dims, repeated and negative entries)."""
    x = data.draw(arrays(shape))
    index = data.draw(hnp.integer_array_indices(shape))
    check(device(x)[index], x[index])


@given(data=st.data(), shape=shapes(min_dims=1))
def test_boolean_mask_indexing_generated(data, shape):
    """A boolean mask over the leading k dims selects what NumPy selects."""
    x = data.draw(arrays(shape))
    k = data.draw(st.integers(1, len(shape)))
    mask = data.draw(hnp.arrays(np.bool_, shape[:k]))
    check(device(x)[mask], x[mask])
    check(device(x)[ad.Tensor(mask)], x[mask])


# -- concatenate, stack ----------------------------------------------------------------------------
@st.composite
def concat_inputs(draw):
    base = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(base), len(base) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrs = []
    for n in sizes:
        s = list(base)
        s[axis] = n
        arrs.append(draw(arrays(tuple(s))))
    return arrs, axis


@given(ca=concat_inputs())
def test_concatenate_and_cat(ca):
    """concatenate/cat along any (negative) axis of tensors of different lengths."""
    arrs, axis = ca
    check(ad.concatenate([device(a) for a in arrs], axis=axis), np.concatenate(arrs, axis))
    check(ad.cat([device(a) for a in arrs], axis), np.concatenate(arrs, axis))


@given(data=st.data(), shape=shapes(max_dims=3), n=st.integers(1, 3))
def test_stack(data, shape, n):
    """stack along any new axis, including negative ones and the last."""
    arrs = [data.draw(arrays(shape)) for _ in range(n)]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(ad.stack([device(a) for a in arrs], axis=axis), np.stack(arrs, axis))


# -- softmax ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 1e4])
@given(data=st.data(), sa=shape_and_one_axis())
def test_log_softmax_and_softmax(scale, data, sa):
    """log_softmax/softmax along any axis equal a stable float64 host reference, also for
    logits of magnitude 1e4 (no overflow, no nan); softmax sums to 1 along the axis."""
    shape, axis = sa
    x = data.draw(arrays(shape)) * scale
    ref = host_log_softmax(x, axis)
    ls = device(x).log_softmax(axis)
    assert np.isfinite(ls.numpy()).all()
    check(ls, ref, rtol=1e-9, atol=1e-9)
    check(ad.log_softmax(device(x), dim=axis), ref, rtol=1e-9, atol=1e-9)
    sm = ad.softmax(device(x), axis)
    assert np.isfinite(sm.numpy()).all()
    check(sm, np.exp(ref), rtol=1e-9, atol=1e-12)
    check(device(x).softmax(dim=axis), np.exp(ref), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sm.numpy().sum(axis=axis), 1.0, rtol=1e-12)


def test_softmax_large_logits_float32():
    """float32 logits of size 1e4 give finite float32 results equal to the float64 reference."""
    x = np.array([[1e4, -1e4, 0.0], [1e4, 1e4 - 1, 1e4 - 3]], dtype=np.float32)
    ref = host_log_softmax(x.astype(np.float64), -1)
    check(ad.log_softmax(device(x)), ref.astype(np.float32), rtol=1e-5, atol=1e-5)
    check(ad.softmax(device(x)), np.exp(ref).astype(np.float32), rtol=1e-5, atol=1e-7)


# -- casts and dtypes ------------------------------------------------------------------------------
@given(x=shapes().flatmap(arrays))
def test_astype_double_float(x):
    """astype/double/float change the dtype and keep the values (to float32 precision)."""
    t = device(x)
    check(t.astype("float32"), x.astype(np.float32))
    check(t.float(), x.astype(np.float32))
    check(t.float().double(), x.astype(np.float32).astype(np.float64))
    check(device(x.astype(np.float32)).astype("float64"), x.astype(np.float32).astype(np.float64))


FLOAT32_OPS = {
    "2*x": lambda x: 2 * x, "x*2": lambda x: x * 2, "x/3": lambda x: x / 3,
    "1/x": lambda x: 1 / x, "3-x": lambda x: 3 - x, "x-0.5": lambda x: x - 0.5,
    "x+1": lambda x: x + 1, "1.5+x": lambda x: 1.5 + x, "-x": lambda x: -x,
    "x**2": lambda x: x ** 2, "x**0.5": lambda x: x ** 0.5, "x**-1.5": lambda x: x ** -1.5,
    "2**x": lambda x: 2 ** x, "0.5**x": lambda x: 0.5 ** x,
    "exp": ad.exp, "log": ad.log, "sqrt": ad.sqrt, "abs": ad.abs, "tanh": ad.tanh,
    "sigmoid": ad.sigmoid, "relu": ad.relu,
    "maximum(x,0)": lambda x: ad.maximum(x, 0.0), "minimum(1,x)": lambda x: ad.minimum(1.0, x),
    "where": lambda x: ad.where(x > 1, x, 0.0), "clip": lambda x: x.clip(0.5, 1.5),
    "clip(min)": lambda x: x.clip(min=0.5), "sum": lambda x: x.sum(), "mean": lambda x: x.mean(1),
    "max": lambda x: x.max(0), "min": lambda x: x.min(), "matmul": lambda x: x @ x.T,
    "log_softmax": ad.log_softmax, "softmax": lambda x: ad.softmax(x, 0),
    "getitem": lambda x: x[[0, 0]], "mask": lambda x: x[x > 1], "cat": lambda x: ad.cat([x, x]),
    "stack": lambda x: ad.stack([x, x], 1), "reshape": lambda x: x.reshape(-1),
    "T": lambda x: x.T,
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_in_float32_out(name):
    """Every operation on a float32 tensor (also with Python-number operands on either side)
    returns float32, with the value NumPy computes in float64 up to float32 rounding."""
    x = np.array([[0.5, 1.25, 2.0], [3.0, 0.75, 1.5]])
    fn = FLOAT32_OPS[name]
    out = fn(device(x.astype(np.float32)))
    assert str(out.dtype) == "float32"
    expected = fn(device(x)).numpy()  # the same operation in float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-6, atol=1e-7)


NUMPY_SCALAR_OPS = {
    "x*np.float64": lambda x: x * np.float64(2.0),
    "np.float64-x": lambda x: np.float64(3.0) - x,
    "x**np.float64": lambda x: x ** np.float64(2.0),
    "np.float64**x": lambda x: np.float64(2.0) ** x,
    "clip(np.float64)": lambda x: x.clip(np.float64(0.5), np.float64(1.5)),
    "maximum(x,np.float64)": lambda x: ad.maximum(x, np.float64(1.0)),
}


@pytest.mark.parametrize("name", sorted(NUMPY_SCALAR_OPS))
def test_numpy_scalar_operands_keep_float32(name):
    """A NumPy scalar (np.float64) is a number to the engine (backend.is_scalar), as in
    PyTorch: it must not promote a float32 tensor to float64 (CuPy would not either)."""
    x = device(np.array([0.5, 1.0, 2.0], dtype=np.float32))
    assert str(NUMPY_SCALAR_OPS[name](x).dtype) == "float32"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reductions_keep_dtype(dtype):
    """Reductions of float32 stay float32, of float64 stay float64 (0-d results included)."""
    x = device(np.arange(6.0).reshape(2, 3).astype(dtype))
    for out in (x.sum(), x.mean(), x.max(), x.min(), x.sum(0), x.mean(axis=(0, 1))):
        assert str(out.dtype) == dtype
