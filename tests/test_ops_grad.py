"""Backward of every primitive: ``ad.gradcheck`` (central differences in float64) on
Hypothesis-generated shapes, including broadcasting and repeated integer indices, plus
hand-derived gradients that do not rely on gradcheck at all.

Inputs for gradcheck stay small (``GRAD_MAX_SIZE`` entries) since it costs two forward passes
per entry, and away from kinks (see ``strategies``).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from strategies import (BINARY, GRAD_MAX_SIZE, INDEX_CASES, X_SHAPE, arrays, away_from_zero,
                        broadcastable_shapes, device, distinct, make_index, matmul_shapes,
                        positive, repeated_int_index, reshape_targets, shape_and_axis,
                        shape_and_one_axis, shapes)

small = dict(max_size=GRAD_MAX_SIZE)


def grad_of(fn, *hosts):
    """Gradients of sum(fn(*tensors)) with respect to each input, as host arrays."""
    ts = [device(h) for h in hosts]
    fn(*ts).sum().backward()
    return [ad.backend.to_numpy(t.grad) for t in ts]


def assert_grad(actual, expected):
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=1e-12,
                               atol=1e-12)

# heavily parametrized tests draw fewer examples per parameter
FEW = settings(max_examples=10)


# -- elementwise arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data(), shs=broadcastable_shapes(2, **small))
def test_binary_arithmetic_gradcheck_with_broadcasting(op, data, shs):
    """+ - * /: gradients summed back to each input's (broadcast) shape; also with only one
    input requiring grad and with the same tensor on both sides."""
    fn, denominators = BINARY[op]
    a, b = data.draw(arrays(shs[0])), data.draw(denominators(shs[1]))
    assert ad.gradcheck(fn, device(a), device(b))
    assert ad.gradcheck(lambda x: fn(x, device(b, requires_grad=False)), device(a))
    assert ad.gradcheck(lambda y: fn(device(a, requires_grad=False), y), device(b))
    assert ad.gradcheck(lambda y: fn(y, y), device(b))


@FEW
@pytest.mark.parametrize("op", sorted(BINARY))
@given(x=shapes(**small).flatmap(away_from_zero), c=st.sampled_from([2, -3, 0.5]))
def test_python_scalar_operands_gradcheck(op, x, c):
    """x op c and c op x with a Python number (e.g. 3 - x, 1 / x)."""
    fn = BINARY[op][0]
    assert ad.gradcheck(lambda t: fn(t, c), device(x))
    assert ad.gradcheck(lambda t: fn(c, t), device(x))


@given(x=shapes(**small).flatmap(arrays))
def test_neg_gradcheck(x):
    assert ad.gradcheck(lambda t: -t, device(x))


@FEW
@pytest.mark.parametrize("p", [2, 3, 1, 0, -1, -2, 0.5, -0.5, 1.5, -2.5])
@given(x=shapes(**small).flatmap(positive))
def test_pow_gradcheck(p, x):
    """x ** p for integer, zero, negative and fractional p on x >= 0.1."""
    assert ad.gradcheck(lambda t: t ** p, device(x))


@FEW
@pytest.mark.parametrize("p", [2, 3, -1])
@given(x=shapes(**small).flatmap(away_from_zero))
def test_pow_integer_exponent_signed_gradcheck(p, x):
    assert ad.gradcheck(lambda t: t ** p, device(x))


@FEW
@pytest.mark.parametrize("c", [2.0, 0.5, math.e, 10])
@given(x=shapes(**small).flatmap(arrays))
def test_rpow_gradcheck(c, x):
    assert ad.gradcheck(lambda t: c ** t, device(x))


UNARY = {
    "exp": (ad.exp, arrays),
    "log": (ad.log, positive),
    "sqrt": (ad.sqrt, positive),
    "abs": (ad.abs, away_from_zero),
    "tanh": (ad.tanh, arrays),
    "sigmoid": (ad.sigmoid, lambda s: arrays(s, -6, 6)),
    "relu": (ad.relu, away_from_zero),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), shape=shapes(**small))
def test_unary_gradcheck(name, data, shape):
    fn, values = UNARY[name]
    assert ad.gradcheck(fn, device(data.draw(values(shape))))


# -- maximum, minimum, where, clip ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(data=st.data(), shs=broadcastable_shapes(2, **small))
def test_maximum_minimum_gradcheck(name, data, shs):
    """Without ties, the gradient goes to the winning side, summed over broadcasting."""
    a, b = data.draw(distinct(*shs))
    fn = getattr(ad, name)
    assert ad.gradcheck(fn, device(a), device(b))
    assert ad.gradcheck(lambda t: fn(t, 0.05), device(a))


@given(data=st.data(), shs=broadcastable_shapes(3, **small))
def test_where_gradcheck(data, shs):
    """where(cond, a, b): cond broadcasts too, and may be larger than a and b."""
    cond = ad.Tensor(data.draw(hnp.arrays(np.bool_, shs[0])))
    a, b = data.draw(arrays(shs[1])), data.draw(arrays(shs[2]))
    assert ad.gradcheck(lambda x, y: ad.where(cond, x, y), device(a), device(b))
    assert ad.gradcheck(lambda x: ad.where(cond, x, 0.0), device(a))


def _off_bounds(shape):
    return arrays(shape).filter(lambda x: (np.abs(np.abs(x) - 0.5) > 1e-3).all())


@FEW
@pytest.mark.parametrize("lo,hi", [(-0.5, None), (None, 0.5), (-0.5, 0.5)])
@given(x=shapes(**small).flatmap(_off_bounds))
def test_clip_gradcheck(lo, hi, x):
    """clip with min only, max only, both (values kept away from the bounds)."""
    assert ad.gradcheck(lambda t: t.clip(lo, hi), device(x))


# -- matmul ----------------------------------------------------------------------------------------
MATMUL_CASES = [((3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
                ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((3, 4), (2, 4, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_CASES)
@settings(max_examples=3)
@given(data=st.data())
def test_matmul_named_cases_gradcheck(sa, sb, data):
    """2-d, batched with broadcast batch dims, and the 1-d cases."""
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    assert ad.gradcheck(lambda x, y: x @ y, device(a), device(b))


@given(data=st.data(), shs=matmul_shapes(**small))
def test_matmul_generated_gradcheck(data, shs):
    a, b = data.draw(arrays(shs[0])), data.draw(arrays(shs[1]))
    assert ad.gradcheck(ad.matmul, device(a), device(b))


# -- reductions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@given(data=st.data(), sa=shape_and_axis(**small), keepdims=st.booleans(),
       torch=st.booleans())
def test_reductions_gradcheck(name, data, sa, keepdims, torch):
    """sum/mean/max/min over None/int/negative/tuple axes, keepdims or not, in either
    spelling. Max and min get distinct entries (no ties)."""
    shape, axis = sa
    x = data.draw(distinct(shape)) if name in ("max", "min") else data.draw(arrays(shape))
    kw = dict(dim=axis, keepdim=keepdims) if torch else dict(axis=axis, keepdims=keepdims)
    assert ad.gradcheck(lambda t: getattr(t, name)(**kw), device(x))


# -- shape primitives ------------------------------------------------------------------------------
@given(data=st.data(), shape=shapes(**small))
def test_reshape_permute_transpose_gradcheck(data, shape):
    """reshape (with -1), permute, transpose(d0, d1) and .T move the gradient back."""
    x = device(data.draw(arrays(shape)))
    target = data.draw(reshape_targets(shape))
    nd = len(shape)
    dims = data.draw(st.permutations(range(nd)))
    assert ad.gradcheck(lambda t: t.reshape(target), x)
    assert ad.gradcheck(lambda t: t.permute(dims), x)
    assert ad.gradcheck(lambda t: t.T, x)
    if nd:
        d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
        assert ad.gradcheck(lambda t: t.transpose(d0, d1), x)


# -- indexing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
@settings(max_examples=2)
@given(x=arrays(X_SHAPE))
def test_indexing_named_cases_gradcheck(case, x):
    """Every kind of index; repeated integer indices must scatter-add."""
    index = make_index(case)
    assert ad.gradcheck(lambda t: t[index], device(x))


@given(data=st.data(), shape=shapes(min_dims=1, **small))
def test_basic_indexing_gradcheck(data, shape):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    assert ad.gradcheck(lambda t: t[index], device(data.draw(arrays(shape))))


@given(data=st.data(), shape=shapes(min_dims=1, **small))
def test_integer_array_indexing_gradcheck(data, shape):
    index = data.draw(hnp.integer_array_indices(shape))
    assert ad.gradcheck(lambda t: t[index], device(data.draw(arrays(shape))))


@given(data=st.data(), shape=shapes(min_dims=1, **small))
def test_repeated_index_scatter_adds(data, shape):
    """x[idx] with repeated (and negative) indices on axis 0: the gradient of row i is the sum
    of the output gradients of every position that picked i (computed here by a plain loop)."""
    x = data.draw(arrays(shape))
    idx = data.draw(repeated_int_index(shape[0]))
    w = data.draw(arrays((len(idx),) + shape[1:]))
    expected = np.zeros(shape)
    for j, i in enumerate(idx):
        expected[i] += w[j]
    for index in (idx, ad.Tensor(np.array(idx))):  # a list, then an integer Tensor
        (g,) = grad_of(lambda t: t[index] * device(w, False), x)
        assert_grad(g, expected)


# -- concatenate, stack ----------------------------------------------------------------------------
@given(data=st.data(), base=shapes(min_dims=1, max_dims=3, max_size=16),
       sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_concatenate_gradcheck(data, base, sizes):
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    hosts = []
    for n in sizes:
        s = list(base)
        s[axis] = n
        hosts.append(data.draw(arrays(tuple(s))))
    assert ad.gradcheck(lambda *ts: ad.cat(list(ts), axis), *(device(h) for h in hosts))


@given(data=st.data(), shape=shapes(max_dims=3, max_size=16), n=st.integers(1, 3))
def test_stack_gradcheck(data, shape, n):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    hosts = [data.draw(arrays(shape)) for _ in range(n)]
    assert ad.gradcheck(lambda *ts: ad.stack(list(ts), axis), *(device(h) for h in hosts))


# -- softmax and casts -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@given(data=st.data(), sa=shape_and_one_axis(**small))
def test_softmax_gradcheck(name, data, sa):
    shape, axis = sa
    x = device(data.draw(arrays(shape)))
    assert ad.gradcheck(lambda t: getattr(ad, name)(t, axis), x)


@given(x=shapes(**small).flatmap(arrays))
def test_cast_gradcheck(x):
    """astype/double as a graph node (float64 -> float64 here; see the float32 test below)."""
    assert ad.gradcheck(lambda t: t.astype("float64") * t.double(), device(x))


def test_cast_gradient_returns_to_the_input_dtype():
    """A float32 leaf used through .double(): its gradient is float32 and equals the float64
    upstream gradient rounded."""
    x = device(np.array([0.5, -1.0, 2.0], dtype=np.float32))
    w = device(np.array([0.25, 3.0, -1.5]), requires_grad=False)
    (x.double() * w).sum().backward()
    assert str(x.grad.dtype) == "float32"
    assert_grad(ad.backend.to_numpy(x.grad).astype(np.float64), [0.25, 3.0, -1.5])


# -- hand-derived gradients (no gradcheck) ---------------------------------------------------------
def test_hand_repeated_list_index():
    """d/dx sum(x[[0, 0, 2]]) = [2, 0, 1, 0]: x[0] was picked twice."""
    (g,) = grad_of(lambda x: x[[0, 0, 2]], np.array([1.0, 2.0, 3.0, 4.0]))
    assert_grad(g, [2, 0, 1, 0])


def test_hand_repeated_2d_index_rows_and_columns():
    """x[[1, 1], [2, 2]] picks x[1, 2] twice; x[:, [0, 0]] picks column 0 twice per row."""
    (g,) = grad_of(lambda x: x[[1, 1], [2, 2]], np.zeros((2, 3)))
    assert_grad(g, [[0, 0, 0], [0, 0, 2]])
    (g,) = grad_of(lambda x: x[:, [0, 0, -1]], np.zeros((2, 3)))
    assert_grad(g, [[2, 0, 1], [2, 0, 1]])


def test_hand_broadcast_mul_and_add():
    """a (3,1) * b (1,4): d/da sum = sum of b (for each row), d/db sum = sum of a; for a + b
    the gradients count how many outputs each entry fed (4 and 3)."""
    a = np.array([[1.0], [2.0], [3.0]])
    b = np.array([[1.0, -2.0, 0.5, 4.0]])
    ga, gb = grad_of(lambda x, y: x * y, a, b)
    assert_grad(ga, np.full((3, 1), 3.5))
    assert_grad(gb, np.full((1, 4), 6.0))
    ga, gb = grad_of(lambda x, y: x + y, a, b)
    assert_grad(ga, np.full((3, 1), 4.0))
    assert_grad(gb, np.full((1, 4), 3.0))
    (gv,) = grad_of(lambda v: v - device(np.ones((2, 3, 4)), False), np.ones(4))
    assert_grad(gv, np.full(4, 6.0))


def test_hand_division():
    """d/da (a / b) = 1 / b, d/db (a / b) = -a / b^2."""
    ga, gb = grad_of(lambda a, b: a / b, np.array([3.0, -1.0]), np.array([2.0, 4.0]))
    assert_grad(ga, [0.5, 0.25])
    assert_grad(gb, [-0.75, 1 / 16])


@pytest.mark.parametrize("name,first", [("maximum", 0.5), ("minimum", 0.5)])
def test_hand_maximum_minimum_ties_split_evenly(name, first):
    """At a tie a == b each side gets half of the gradient; elsewhere the winner gets it all."""
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])
    ga, gb = grad_of(getattr(ad, name), a, b)
    if name == "maximum":
        assert_grad(ga, [0.5, 1, 0])
        assert_grad(gb, [0.5, 0, 1])
    else:
        assert_grad(ga, [0.5, 0, 1])
        assert_grad(gb, [0.5, 1, 0])


def test_hand_max_reduction_ties_share_evenly():
    """The engine (ops/reduce.py) splits the gradient of a max evenly among tied maxima:
    max([1, 3, 3, 2]) sends 1/2 to each 3; along an axis each slice shares its own way;
    min (a composite of neg and max) does the same for tied minima."""
    (g,) = grad_of(lambda x: x.max(), np.array([1.0, 3.0, 3.0, 2.0]))
    assert_grad(g, [0, 0.5, 0.5, 0])
    x = np.array([[1.0, 1.0, 1.0], [0.0, 2.0, -1.0]])
    (g,) = grad_of(lambda t: t.max(axis=1), x)
    assert_grad(g, [[1 / 3, 1 / 3, 1 / 3], [0, 1, 0]])
    (g,) = grad_of(lambda t: t.max(dim=0, keepdim=True), x)
    assert_grad(g, [[1, 0, 1], [0, 1, 0]])
    (g,) = grad_of(lambda t: t.min(), np.array([2.0, -1.0, 5.0, -1.0]))
    assert_grad(g, [0, 0.5, 0, 0.5])


def test_hand_kinks_relu_abs_clip():
    """relu'(0) = 0 and |x|'(0) = 0 (PyTorch's choice); clip passes the gradient inside the
    closed interval [lo, hi], bounds included, and blocks it outside."""
    x = np.array([-1.0, 0.0, 2.0])
    assert_grad(grad_of(ad.relu, x)[0], [0, 0, 1])
    assert_grad(grad_of(ad.abs, x)[0], [-1, 0, 1])
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    assert_grad(grad_of(lambda t: t.clip(-1.0, 1.0), x)[0], [0, 1, 1, 1, 0])
    assert_grad(grad_of(lambda t: t.clip(min=0.0), x)[0], [0, 0, 1, 1, 1])
    assert_grad(grad_of(lambda t: t.clip(max=0.0), x)[0], [1, 1, 1, 0, 0])


def test_hand_where_routes_by_mask():
    """where(cond, a, b): a gets the gradient where cond holds, b elsewhere; a broadcast b
    (shape (1,)) collects all of its share."""
    cond = ad.Tensor(np.array([True, False, True]))
    ga, gb = grad_of(lambda a, b: ad.where(cond, a, b), np.ones(3), np.ones(1))
    assert_grad(ga, [1, 0, 1])
    assert_grad(gb, [1])


def test_hand_matmul():
    """d/dA sum(A @ B) = 1 B^T (every row is the row sums of B); d/dB = A^T 1."""
    A = np.arange(6.0).reshape(2, 3)
    B = np.arange(12.0).reshape(3, 4) - 5
    ga, gb = grad_of(lambda a, b: a @ b, A, B)
    assert_grad(ga, np.tile(B.sum(axis=1), (2, 1)))
    assert_grad(gb, np.tile(A.sum(axis=0)[:, None], (1, 4)))
    gv, gw = grad_of(lambda v, w: v @ w, np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert_grad(gv, [4, 5, 6])
    assert_grad(gw, [1, 2, 3])


def test_hand_sum_mean():
    """d sum / dx = 1, d mean / dx = 1/n over the reduced axes only."""
    x = np.ones((2, 3, 4))
    assert_grad(grad_of(lambda t: t.mean(), x)[0], np.full(x.shape, 1 / 24))
    assert_grad(grad_of(lambda t: t.mean(axis=(0, -1)), x)[0], np.full(x.shape, 1 / 8))
    assert_grad(grad_of(lambda t: t.mean(dim=1, keepdim=True), x)[0], np.full(x.shape, 1 / 3))
    assert_grad(grad_of(lambda t: t.sum(axis=-2), x)[0], np.ones(x.shape))


def test_hand_softmax_and_log_softmax():
    """softmax sums to 1 along its axis, so the gradient of that sum is 0; the gradient of
    sum(log_softmax(x)) over an axis of n entries is 1 - n * softmax(x)."""
    x = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, -2.0, 1.0]])
    assert_grad(grad_of(lambda t: ad.softmax(t, 1), x)[0], np.zeros_like(x))
    s = np.exp(x - x.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grad_of(lambda t: ad.log_softmax(t, -1), x)[0], 1 - 4 * s,
                               rtol=1e-12, atol=1e-12)


def test_hand_pow_rpow_exp_log():
    """(x^p)' = p x^(p-1), (c^x)' = c^x ln c, (e^x)' = e^x, (ln x)' = 1/x, sqrt' = 1/(2 sqrt)."""
    x = np.array([0.25, 1.0, 4.0])
    np.testing.assert_allclose(grad_of(lambda t: t ** -0.5, x)[0], -0.5 * x ** -1.5, rtol=1e-12)
    np.testing.assert_allclose(grad_of(lambda t: 3.0 ** t, x)[0], 3.0 ** x * np.log(3.0),
                               rtol=1e-12)
    np.testing.assert_allclose(grad_of(ad.exp, x)[0], np.exp(x), rtol=1e-12)
    np.testing.assert_allclose(grad_of(ad.log, x)[0], 1 / x, rtol=1e-12)
    np.testing.assert_allclose(grad_of(ad.sqrt, x)[0], 0.5 / np.sqrt(x), rtol=1e-12)


def test_hand_pow_zero_exponent_at_zero():
    """x ** 0 is the constant 1, so its gradient is 0 everywhere, x = 0 included (PyTorch gives
    0); likewise x ** 1 has gradient 1 at x = 0."""
    x = np.array([0.0, 2.0, -1.0])
    assert_grad(grad_of(lambda t: t ** 1, x)[0], [1, 1, 1])
    with np.errstate(all="ignore"):
        (g,) = grad_of(lambda t: t ** 0, x)
    assert_grad(g, [0, 0, 0])


def test_hand_cat_and_stack_split_the_gradient():
    """cat/stack send each input the slice of the output gradient it produced."""
    w = np.arange(10.0).reshape(2, 5)
    wt = device(w, requires_grad=False)
    ga, gb = grad_of(lambda a, b: ad.cat([a, b], axis=1) * wt, np.ones((2, 2)), np.ones((2, 3)))
    assert_grad(ga, w[:, :2])
    assert_grad(gb, w[:, 2:])
    w2 = np.arange(6.0).reshape(3, 2)
    ga, gb = grad_of(lambda a, b: ad.stack([a, b], axis=-1) * device(w2, False),
                     np.ones(3), np.ones(3))
    assert_grad(ga, w2[:, 0])
    assert_grad(gb, w2[:, 1])


def test_indexing_and_cat_need_no_input_values_so_a_later_in_place_change_is_fine():
    """Their gradients do not read the input, so an optimizer step between forward and
    backward is not an error (an op that saved x would refuse)."""
    import minioptim as mo
    x = ad.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x[[0, 1, 1]].sum() + x[0:2].sum() + ad.cat([x, x]).sum()
    x.grad = ad.backend.asarray(np.ones(3))
    mo.SGD([x], lr=0.1).step()
    x.grad = None
    y.backward()
    np.testing.assert_array_equal(ad.backend.to_numpy(x.grad), [4.0, 5.0, 2.0])


def test_reshape_sizes_are_checked_and_minus_one_is_inferred():
    x = ad.Tensor(np.arange(8.0).reshape(2, 4))
    assert x.reshape(-1, 2).shape == (4, 2) and x.reshape(8).shape == (8,)
    assert x.reshape(2, -1, 2).shape == (2, 2, 2)
    for bad in [(4,), (3, -1), (-1, -1), (16,)]:
        with pytest.raises(ad.ShapeError, match="reshape: cannot reshape a tensor of shape") as e:
            x.reshape(*bad)
        assert ("at most one dimension may be -1" in str(e.value)) == (bad == (-1, -1))


def test_matmul_refuses_a_0d_operand_on_either_side():
    v, s = ad.Tensor(np.ones(3)), ad.Tensor(2.0)
    for a, b in [(s, v), (v, s), (s, s)]:
        with pytest.raises(ad.ShapeError, match="both operands need at least 1 dimension"):
            a @ b


def test_an_index_out_of_range_names_the_shape():
    x = ad.Tensor(np.ones((3, 2)))
    for index in (5, (0, 7), [0, 3]):
        with pytest.raises(IndexError, match=r"indexing a tensor of shape \(3, 2\)"):
            x[index]


def test_cat_and_stack_name_the_tensor_whose_shape_differs():
    a, b = ad.Tensor(np.ones((2, 3))), ad.Tensor(np.ones((2, 4)))
    with pytest.raises(ad.ShapeError, match=r"concatenate: tensor 2 has shape \(2, 4\) but tensor 0 has "
                                            r"shape \(2, 3\); all dimensions except axis 0"):
        ad.cat([a, a, b])
    with pytest.raises(ad.ShapeError, match=r"stack: tensor 1 has shape \(2, 4\) but tensor 0 "
                                            r"has shape \(2, 3\); all shapes must be equal"):
        ad.stack([a, b])
