"""var, std, argmax/argmin, cumsum, logsumexp, sin, cos, tril/triu, clone and einsum: gradients
by ``ad.gradcheck`` on Hypothesis shapes, values against NumPy formulas written here, and
hand-derived cases (ties, huge values, nan where PyTorch gives nan, clear errors)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from strategies import (GRAD_MAX_SIZE, arrays, device, distinct, shape_and_axis,
                        shape_and_one_axis, shapes)

small = dict(max_size=GRAD_MAX_SIZE)
FEW = settings(max_examples=10)


def host(t):
    """A tensor's data, or a gradient array, on the host."""
    return ad.backend.to_numpy(t.data if isinstance(t, ad.Tensor) else t)


def np_axis(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


# -- var / std ---------------------------------------------------------------------------------

@given(data=st.data(), sa=shape_and_axis(**small), keep=st.booleans(),
       correction=st.sampled_from([0, 1]))
def test_var_std_values_and_gradcheck(data, sa, keep, correction):
    shape, axis = sa
    x = data.draw(arrays(shape))
    n = x.size if axis is None or not shape else np.prod([shape[a] for a in np.atleast_1d(axis)])
    if n <= correction:          # nan value: checked in test_var_too_few_entries_is_nan
        return
    # independent formula: mean of squared deviations, rescaled by n / (n - correction)
    dev = x - x.mean(axis=np_axis(axis), keepdims=True)
    want = (dev ** 2).sum(axis=np_axis(axis), keepdims=keep) / (n - correction)
    got = ad.var(device(x), dim=axis, keepdim=keep, correction=correction)
    np.testing.assert_allclose(host(got), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(device(x).std(axis, keep, correction=correction)),
                               np.sqrt(want), rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda t: t.var(axis, keep, correction=correction), device(x))
    if np.all(want > 1e-3):      # sqrt has a kink at 0
        assert ad.gradcheck(lambda t: t.std(axis, keep, correction=correction), device(x))


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_against_numpy_ddof_and_numpy_spelling(ddof):
    x = np.random.default_rng(1).normal(size=(4, 5, 3))
    t = device(x)
    np.testing.assert_allclose(host(t.var(axis=(0, 2), keepdims=True, correction=ddof)),
                               np.var(x, axis=(0, 2), keepdims=True, ddof=ddof), rtol=1e-12)
    np.testing.assert_allclose(host(ad.std(t, -1, correction=ddof)),
                               np.std(x, axis=-1, ddof=ddof), rtol=1e-12)
    np.testing.assert_allclose(host(t.var(correction=ddof)), np.var(x, ddof=ddof), rtol=1e-12)


def test_var_too_few_entries_is_nan_without_crash():
    x = device(np.array([[1.0, 2.0, 4.0]]))
    assert np.isnan(host(x.var(0))).all()                   # one entry, correction 1
    np.testing.assert_array_equal(host(x.var(0, correction=0)), [0.0, 0.0, 0.0])
    assert np.isnan(host(x.std(1, correction=5))).all()
    assert np.isnan(host(device(np.zeros((0, 3))).var(0))).all()
    x.var(0).sum().backward()                               # no crash; the gradient is nan too
    assert np.isnan(host(x.grad)).all()


def test_std_of_constant_has_zero_gradient_as_pytorch():
    x = device(np.full((2, 3), 1.5))
    x.std(1).sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.zeros((2, 3)))


def test_var_dtypes_and_bad_correction():
    assert ad.Tensor(np.arange(6).reshape(2, 3)).var().dtype == np.float32
    assert ad.Tensor(np.arange(6, dtype=np.float32)).std().dtype == np.float32
    np.testing.assert_allclose(host(ad.Tensor(np.arange(6)).var()), 3.5)
    with pytest.raises(ValueError, match="correction"):
        ad.Tensor([1.0, 2.0]).var(correction=-1)
    with pytest.raises(ad.DimensionError):
        ad.Tensor([1.0, 2.0]).var(1)


# -- argmax / argmin ---------------------------------------------------------------------------

@given(data=st.data(), sa=shape_and_one_axis(max_size=64), keep=st.booleans())
def test_argmax_argmin_pick_the_extreme(data, sa, keep):
    shape, dim = sa
    x = data.draw(distinct(shape))
    t = device(x, requires_grad=False)
    for op, pick in (("argmax", np.max), ("argmin", np.min)):
        idx = getattr(t, op)(dim, keepdim=keep)
        assert idx.dtype == np.int64 and idx.requires_grad is False
        got = host(idx)
        assert got.shape == pick(x, axis=dim, keepdims=keep).shape
        # the chosen entry is the extreme one, checked by gathering it back
        chosen = np.take_along_axis(x, got if keep else np.expand_dims(got, dim), axis=dim)
        np.testing.assert_array_equal(chosen, pick(x, axis=dim, keepdims=True))
    flat = host(getattr(ad, "argmax")(t))
    assert flat.shape == () and x.reshape(-1)[flat] == x.max()


def test_argmax_ties_give_the_first_index_and_flattened_keepdim():
    t = ad.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(host(t.argmax(1)), [1, 0])
    np.testing.assert_array_equal(host(t.argmin(0)), [0, 1, 1])
    assert int(t.argmax().item()) == 1
    assert t.argmax(keepdim=True).shape == (1, 1)
    assert ad.argmin(t, -1, keepdim=True).shape == (2, 1)
    assert int(ad.Tensor(5.0).argmax().item()) == 0


def test_argmax_errors():
    with pytest.raises(ad.ShapeError, match="argmax.*empty"):
        ad.Tensor(np.zeros((2, 0))).argmax(1)
    with pytest.raises(ad.ShapeError, match="argmin.*empty"):
        ad.Tensor(np.zeros(0)).argmin()
    with pytest.raises(ad.DimensionError):
        ad.Tensor([1.0]).argmax(2)
    with pytest.raises(TypeError, match="dim"):
        ad.Tensor([[1.0]]).argmax((0, 1))


# -- cumsum, logsumexp ------------------------------------------------------------------------

@given(data=st.data(), sa=shape_and_one_axis(**small))
def test_cumsum_values_and_gradcheck(data, sa):
    shape, dim = sa
    x = data.draw(arrays(shape))
    got = host(device(x).cumsum(dim))
    # independent: entry k is the sum of a slice up to k
    moved = np.moveaxis(x, dim, 0)
    want = np.stack([moved[:k + 1].sum(0) for k in range(moved.shape[0])])
    np.testing.assert_allclose(got, np.moveaxis(want, 0, dim), rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda t: ad.cumsum(t, dim), device(x))


def test_cumsum_gradient_is_reversed_cumsum():
    x = device(np.zeros(4))
    (x.cumsum(0) * device(np.array([1.0, 2.0, 3.0, 4.0]), False)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [10.0, 9.0, 7.0, 4.0])
    assert ad.gradcheck(lambda t: t.cumsum(-1), device(np.array(2.0)))     # 0-d: itself
    assert ad.Tensor(np.array([True, True])).cumsum(0).numpy().tolist() == [1, 2]


@given(data=st.data(), sa=shape_and_axis(**small), keep=st.booleans())
def test_logsumexp_values_and_gradcheck(data, sa, keep):
    shape, axis = sa
    x = data.draw(arrays(shape, low=-5.0, high=5.0))
    want = np.log(np.exp(x).sum(axis=np_axis(axis), keepdims=keep))
    np.testing.assert_allclose(host(device(x).logsumexp(axis, keep)), want, rtol=1e-12,
                               atol=1e-12)
    assert ad.gradcheck(lambda t: ad.logsumexp(t, axis, keepdim=keep), device(x))


def test_logsumexp_huge_values_and_infinities():
    x = device(np.array([[1e4, 1e4, 1e4 - 1.0], [-np.inf, -np.inf, -np.inf]]))
    y = x.logsumexp(1)
    got = host(y)
    np.testing.assert_allclose(got[0], 1e4 + np.log(2 + np.exp(-1.0)), rtol=1e-15)
    assert got[1] == -np.inf
    y[0:1].sum().backward()       # gradient: softmax of the row, all finite
    e = np.exp([0.0, 0.0, -1.0])
    np.testing.assert_allclose(host(x.grad)[0], e / e.sum(), rtol=1e-12)
    assert np.all(host(x.grad)[1] == 0)
    assert ad.Tensor([1, 2]).logsumexp(0).dtype == np.float32
    assert np.isfinite(host(ad.Tensor(np.full(3, 1e4, np.float32)).logsumexp(0)))


# -- sin, cos ----------------------------------------------------------------------------------

@given(x=shapes(**small).flatmap(arrays))
def test_sin_cos_values_and_gradcheck(x):
    np.testing.assert_allclose(host(ad.sin(device(x))), np.sin(x), rtol=1e-15)
    np.testing.assert_allclose(host(device(x).cos()), np.cos(x), rtol=1e-15)
    assert ad.gradcheck(ad.sin, device(x))
    assert ad.gradcheck(lambda t: t.cos(), device(x))


def test_sin_cos_identity_and_dtypes():
    x = ad.Tensor(np.linspace(-3, 3, 7), requires_grad=True)
    (x.sin() ** 2 + x.cos() ** 2).sum().backward()     # = 7, so the gradient is 0
    np.testing.assert_allclose(host(x.grad), 0.0, atol=1e-6)
    assert ad.cos(ad.Tensor([1, 2])).dtype == np.float32
    assert ad.sin(ad.Tensor(np.ones(2, np.float32))).dtype == np.float32


# -- tril, triu, clone -------------------------------------------------------------------------

@given(data=st.data(), shape=shapes(min_dims=2, **small), k=st.integers(-3, 3),
       upper=st.booleans())
def test_tril_triu_values_and_gradcheck(data, shape, k, upper):
    x = data.draw(arrays(shape))
    i, j = np.indices(shape[-2:])
    keep = (j - i >= k) if upper else (j - i <= k)
    fn = (lambda t: ad.triu(t, k)) if upper else (lambda t: t.tril(diagonal=k))
    np.testing.assert_array_equal(host(fn(device(x))), np.where(keep, x, 0.0))
    assert ad.gradcheck(fn, device(x))
    t = device(x)
    fn(t).sum().backward()
    np.testing.assert_array_equal(host(t.grad), np.broadcast_to(keep, shape).astype(float))


def test_tril_errors_and_int_dtype():
    with pytest.raises(ad.ShapeError, match="tril.*2 dimensions"):
        ad.Tensor([1.0, 2.0]).tril()
    with pytest.raises(TypeError, match="diagonal"):
        ad.Tensor(np.ones((2, 2))).triu(0.5)
    assert ad.Tensor(np.ones((2, 2), np.int64)).triu().dtype == np.int64


def test_clone_copies_and_passes_gradient():
    x = ad.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = x.clone()
    (c * ad.Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [1.0, 2.0, 3.0])
    with ad.no_grad():
        c.data[0] = 100.0                    # changing the clone leaves the original alone
    np.testing.assert_array_equal(host(x.data), [1.0, 2.0, 3.0])
    d = ad.clone(ad.Tensor([1, 2]))
    d[0] = 7
    assert d.dtype == np.int64 and host(d).tolist() == [7, 2]
    assert ad.gradcheck(lambda t: t.clone() * t, device(np.array([0.5, -2.0])))


# -- einsum ------------------------------------------------------------------------------------

EINSUM_CASES = {
    "ij,jk->ik": [(2, 3), (3, 4)],
    "bij,bjk->bik": [(2, 3, 2), (2, 2, 4)],
    "ii->i": [(3, 3)],
    "ij->": [(2, 3)],
    "i,j->ij": [(3,), (4,)],
    "...ij,...jk->...ik": [(2, 1, 2, 3), (3, 3, 2)],
    "bhqd,bhkd->bhqk": [(2, 2, 3, 2), (2, 2, 4, 2)],
    "ii": [(3, 3)],                     # implicit output: the trace
    "ij,ij->i": [(1, 3), (2, 3)],       # size 1 broadcasts; its gradient sums back
    "iij,j->ij": [(2, 2, 3), (3,)],     # a diagonal in one operand
    "ij,jk,kl->il": [(2, 3), (3, 2), (2, 2)],
    "ba,ac": [(2, 3), (3, 2)],          # implicit output, alphabetical
    ",ij->ij": [(), (2, 2)],
}


@pytest.mark.parametrize("eq", sorted(EINSUM_CASES))
def test_einsum_values_and_gradcheck(eq):
    rng = np.random.default_rng(abs(hash(eq)) % 2 ** 32)
    xs = [rng.normal(size=s) for s in EINSUM_CASES[eq]]
    got = host(ad.einsum(eq, *[device(x) for x in xs]))
    np.testing.assert_allclose(got, np.einsum(eq, *xs), rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda *ts: ad.einsum(eq, *ts), *[device(x) for x in xs])


def test_einsum_matches_hand_formulas():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(host(ad.einsum("ij,jk->ik", device(a), device(b))), a @ b,
                               rtol=1e-12)
    m = device(rng.normal(size=(3, 3)))
    ad.einsum("ii->", m).backward()                 # d trace / dM = identity
    np.testing.assert_array_equal(host(m.grad), np.eye(3))
    v = device(rng.normal(size=4))
    ad.einsum("i->", v).backward()
    np.testing.assert_array_equal(host(v.grad), np.ones(4))
    assert ad.einsum("ij->ji", [device(a)]).shape == (3, 2)


@FEW
@given(data=st.data(), b=st.integers(1, 3), n=st.integers(1, 3), m=st.integers(1, 3),
       k=st.integers(1, 3))
def test_einsum_batched_matmul_gradcheck_on_drawn_shapes(data, b, n, m, k):
    x, y = data.draw(arrays((b, n, m))), data.draw(arrays((b, m, k)))
    np.testing.assert_allclose(host(ad.einsum("bnm,bmk->bnk", device(x), device(y))), x @ y,
                               rtol=1e-12, atol=1e-12)
    assert ad.gradcheck(lambda p, q: ad.einsum("bnm,bmk->bnk", p, q), device(x), device(y))


def test_einsum_errors_name_the_equation():
    a, b = ad.Tensor(np.ones((2, 3))), ad.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match="'ij,jk->ik'.*2 operand.*1 tensor"):
        ad.einsum("ij,jk->ik", a)
    with pytest.raises(ad.ShapeError, match="'ij,jk->ik'.*'j' has size 3.*but 4"):
        ad.einsum("ij,jk->ik", a, b)
    with pytest.raises(ad.ShapeError, match="'ijk->i'.*shape \\(2, 3\\)"):
        ad.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="'ij->k'.*no operand"):
        ad.einsum("ij->k", a)
    with pytest.raises(ValueError, match="letters"):
        ad.einsum("i1->i", a)
    with pytest.raises(ad.ShapeError, match="diagonal"):
        ad.einsum("ii->i", a)
    with pytest.raises(TypeError, match="equation"):
        ad.einsum(a, b)


def test_einsum_dtypes():
    f32 = ad.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    i64 = ad.Tensor(np.ones((2, 2), np.int64))
    assert ad.einsum("ij,jk->ik", f32, i64).dtype == np.float32
    assert ad.einsum("ij->i", i64).dtype == np.int64
