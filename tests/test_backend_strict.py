"""The strict backend: NumPy arithmetic behind CuPy-like arrays that refuse host mixing."""
import copy
import operator
import pickle
import re

import numpy as np
import pytest

from autodiff import backend
from autodiff.backend_strict import StrictArray, from_numpy, to_numpy, xp
from autodiff.errors import DeviceError

RNG = np.random.default_rng(1234)


def rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def dev(a):
    return from_numpy(a)


def host(a):
    assert isinstance(a, StrictArray), type(a)
    return to_numpy(a)


@pytest.fixture
def strict_backend():
    backend.set_backend("strict")
    try:
        yield
    finally:
        backend.set_backend("numpy")


# ---------------------------------------------------------------------------- arithmetic

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
          operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_binary_operators_match_numpy(op):
    x, y = np.abs(rand(3, 4)) + 0.5, np.abs(rand(3, 4)) + 0.5
    np.testing.assert_allclose(host(op(dev(x), dev(y))), op(x, y))
    np.testing.assert_allclose(host(op(dev(x), 1.5)), op(x, 1.5))   # scalar on the right
    np.testing.assert_allclose(host(op(1.5, dev(y))), op(1.5, y))   # reflected
    np.testing.assert_allclose(host(op(np.float32(1.5), dev(y))), op(np.float32(1.5), y))


@pytest.mark.parametrize("op", [operator.floordiv, operator.mod, divmod], ids=lambda f: f.__name__)
def test_integer_division_operators(op):
    x, y = RNG.integers(-9, 9, (5,)), RNG.integers(1, 5, (5,))
    got, want = op(dev(x), dev(y)), op(x, y)
    for g, w in zip(got if op is divmod else [got], want if op is divmod else [want]):
        np.testing.assert_array_equal(host(g), w)
    np.testing.assert_array_equal(host(op(7, dev(y))[0] if op is divmod else op(7, dev(y))),
                                  op(7, y)[0] if op is divmod else op(7, y))


def test_matmul_bitwise_and_unary():
    a, b = rand(2, 3), rand(3, 4)
    np.testing.assert_allclose(host(dev(a) @ dev(b)), a @ b)
    i, j = RNG.integers(0, 16, 6), RNG.integers(0, 16, 6)
    for op in (operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift):
        np.testing.assert_array_equal(host(op(dev(i), dev(j % 4))), op(i, j % 4))
    np.testing.assert_array_equal(host(~dev(i)), ~i)
    np.testing.assert_allclose(host(-dev(a)), -a)
    np.testing.assert_allclose(host(+dev(a)), a)
    np.testing.assert_allclose(host(abs(dev(a))), np.abs(a))


@pytest.mark.parametrize("op,iop", [(operator.add, operator.iadd), (operator.sub, operator.isub),
                                    (operator.mul, operator.imul),
                                    (operator.truediv, operator.itruediv)])
def test_inplace_operators_keep_identity_and_buffer(op, iop):
    x, y = rand(4), np.abs(rand(4)) + 0.5
    a = dev(x)
    view = a[1:]                         # another reference to the same buffer
    result = iop(a, dev(y))
    assert result is a
    np.testing.assert_allclose(host(a), op(x, y))
    np.testing.assert_allclose(host(view), op(x, y)[1:])


def test_inplace_update_through_an_attribute():
    class Param:                          # the `p.data -= lr * g` pattern of optimizers
        def __init__(self, data):
            self.data = data
    p, g = Param(dev(np.ones(3))), dev(np.full(3, 2.0))
    alias = p.data
    p.data -= 0.5 * g
    assert p.data is alias
    np.testing.assert_allclose(host(alias), np.zeros(3))
    m = dev(np.eye(2))
    m @= dev(np.full((2, 2), 3.0))
    np.testing.assert_allclose(host(m), np.full((2, 2), 3.0))


# ---------------------------------------------------------------------------- xp namespace

def test_reductions_return_zero_dim_device_arrays():
    x = rand(3, 4)
    for r, want in [(xp.sum(dev(x)), x.sum()), (dev(x).sum(), x.sum()), (dev(x).max(), x.max()),
                    (xp.mean(dev(x)), x.mean()), (xp.linalg.norm(dev(x)), np.linalg.norm(x))]:
        assert isinstance(r, StrictArray) and r.shape == ()
        assert float(r) == pytest.approx(want)
    assert isinstance(dev(x).argmax(), StrictArray)
    assert host(dev(x).sum(axis=0)).shape == (4,)
    assert bool(xp.all(xp.isfinite(dev(x))))


def test_add_at_scatter_adds_repeated_indices():
    g = xp.zeros(4)
    idx = xp.asarray([0, 0, 2, 0])
    xp.add.at(g, idx, xp.asarray([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(host(g), [7.0, 0.0, 3.0, 0.0])
    assert float(xp.add.reduce(g)) == 10.0


def test_out_argument_writes_into_the_device_array():
    a, o = dev(rand(5)), xp.empty(5)
    r = xp.exp(a, out=o)
    assert r is o
    np.testing.assert_allclose(host(o), np.exp(host(a)))
    m = xp.zeros(5)
    xp.maximum(a, 0.0, out=(m,))
    np.testing.assert_allclose(host(m), np.maximum(host(a), 0.0))
    b = xp.zeros(2)
    b.fill(3.0)
    np.testing.assert_allclose(host(b), [3.0, 3.0])


def test_as_strided_and_views_share_the_buffer():
    a = xp.arange(6, dtype=xp.float64)
    s = a.strides[0]
    w = xp.lib.stride_tricks.as_strided(a, shape=(4, 3), strides=(s, s))
    assert isinstance(w, StrictArray)
    np.testing.assert_array_equal(host(w), [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]])
    r = a.reshape(2, 3)
    r[0, 0] = 100.0
    assert float(a[0]) == 100.0


def test_namespace_functions():
    a, b = rand(2, 3), rand(2, 3)
    np.testing.assert_allclose(host(xp.concatenate([dev(a), dev(b)], axis=0)),
                               np.concatenate([a, b]))
    np.testing.assert_allclose(host(xp.stack([dev(a), dev(b)])), np.stack([a, b]))
    np.testing.assert_allclose(host(xp.where(dev(a) > 0, dev(a), 0.0)), np.where(a > 0, a, 0))
    np.testing.assert_allclose(host(xp.matmul(dev(a), dev(b).T)), a @ b.T)
    np.testing.assert_allclose(host(xp.einsum("ij,kj->ik", dev(a), dev(b))), a @ b.T)
    assert xp.broadcast_to(dev(a[0]), (4, 3)).shape == (4, 3)
    parts = xp.split(dev(a), 3, axis=1)
    assert isinstance(parts, list) and all(isinstance(p, StrictArray) for p in parts)
    assert isinstance(xp.random.rand(3), StrictArray)
    assert isinstance(xp.random.default_rng(0).normal(size=3), StrictArray)
    assert xp.zeros((2, 3), dtype=xp.float32).dtype == np.float32


def test_namespace_passes_types_and_constants_through():
    assert xp.float32 is np.float32 and xp.int64 is np.int64 and xp.dtype is np.dtype
    assert xp.ndarray is StrictArray
    assert isinstance(xp.zeros(2), xp.ndarray) and not isinstance(xp.zeros(2), np.ndarray)
    assert xp.pi == np.pi and xp.newaxis is None and xp.inf == np.inf
    assert xp.finfo(xp.float32).eps == np.finfo(np.float32).eps


def test_conversion_functions_accept_host_arrays():
    h = np.ones(3)
    for f in (xp.asarray, xp.array, xp.asanyarray, xp.ascontiguousarray):
        d = f(h)
        assert isinstance(d, StrictArray)
        np.testing.assert_array_equal(host(d), h)
    d = xp.asarray(h)
    h[0] = 5.0                            # a host-to-device copy, as on CuPy
    assert float(d[0]) == 1.0
    a = xp.ones(3)
    assert xp.asarray(a) is a
    assert isinstance(xp.asarray([1.0, np.float32(2.0)]), StrictArray)
    np.testing.assert_allclose(host(xp.multiply(xp.ones(2), np.float32(2.0))), [2.0, 2.0])


# ---------------------------------------------------------------------------- the array

def test_indexing_with_device_and_host_indices():
    x = rand(5, 3)
    a = dev(x)
    np.testing.assert_allclose(host(a[xp.asarray([4, 0, 4])]), x[[4, 0, 4]])
    np.testing.assert_allclose(host(a[np.array([1, 2])]), x[[1, 2]])
    np.testing.assert_allclose(host(a[dev(x) > 0]), x[x > 0])
    np.testing.assert_allclose(host(a[np.array([True, False, True, False, False])]), x[[0, 2]])
    np.testing.assert_allclose(host(a[1:, None, ..., 0]), x[1:, None, ..., 0])
    assert isinstance(a[0, 0], StrictArray) and a[0, 0].shape == ()
    assert float(a[2, 1]) == x[2, 1]


def test_setitem():
    a = xp.zeros((3, 2))
    a[0] = 1.0
    a[1] = xp.asarray([2.0, 3.0])
    a[xp.asarray([2]), 1] = xp.asarray([4.0])
    a[np.array([2]), 0] = 5
    a[a > 4.5] = -1.0
    np.testing.assert_array_equal(host(a), [[1, 1], [2, 3], [-1, 4]])
    with pytest.raises(DeviceError, match="backend.asarray"):
        a[0] = np.ones(2)


def test_array_protocol():
    x = rand(2, 3).astype(np.float32)
    a = dev(x)
    assert (a.shape, a.dtype, a.ndim, a.size, a.nbytes, a.itemsize, a.strides) == \
           (x.shape, x.dtype, x.ndim, x.size, x.nbytes, x.itemsize, x.strides)
    assert a.T.shape == (3, 2) and len(a) == 2
    rows = list(a)
    assert all(isinstance(r, StrictArray) for r in rows)
    np.testing.assert_array_equal(host(rows[1]), x[1])
    one = xp.asarray(3)
    assert bool(one) and int(one) == 3 and float(one) == 3.0 and operator.index(one) == 3
    assert list(range(10))[one] == 3
    assert a[0, 0].item() == x[0, 0].item() and a.tolist() == x.tolist()
    g = a.get()
    assert type(g) is np.ndarray and np.array_equal(g, x)
    np.testing.assert_array_equal(host(a.astype(xp.float64)), x.astype(np.float64))
    np.testing.assert_allclose(host(a.clip(-0.1, 0.1)), x.clip(-0.1, 0.1))
    assert a.__hash__ is None
    with pytest.raises(TypeError):
        hash(a)
    np.testing.assert_array_equal(host(copy.deepcopy(a)), x)
    np.testing.assert_array_equal(host(pickle.loads(pickle.dumps(a))), x)


def test_repr_and_str():
    a = xp.asarray(np.array([1.0, 2.0], dtype=np.float32))
    assert repr(a) == "StrictArray([1., 2.], dtype=float32)"
    assert str(a) == str(np.array([1.0, 2.0], dtype=np.float32))
    assert repr(xp.zeros((2, 2))) == "StrictArray([[0., 0.],\n             [0., 0.]])"


# ---------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("call,phrase", [
    (lambda a: np.asarray(a), "to_numpy"),
    (lambda a: np.array(a), "to_numpy"),
    (lambda a: np.exp(a), "numpy.exp was called on a device array"),
    (lambda a: np.add(a, 1), "numpy.add was called on a device array"),
    (lambda a: np.add.at(a, 0, 1.0), "numpy.add.at"),
    (lambda a: np.sum(a), "numpy.sum was called on a device array"),
    (lambda a: np.concatenate([a, a]), "numpy.concatenate was called on a device array"),
    (lambda a: np.linalg.norm(a), "numpy.linalg.norm"),
])
def test_numpy_refuses_device_arrays(call, phrase):
    with pytest.raises(DeviceError, match=phrase) as info:
        call(xp.ones(3))
    assert "to_numpy" in str(info.value) and "array_module" in str(info.value)


@pytest.mark.parametrize("call,phrase", [
    (lambda a: a + np.ones(3), "operator '+'"),
    (lambda a: np.ones(3) + a, "operator '+'"),
    (lambda a: a * np.ones(3), "operator '*'"),
    (lambda a: np.ones(3) < a, "operator '<'"),
    (lambda a: np.ones((3, 3)) @ a, "operator '@'"),
])
def test_operators_refuse_host_arrays(call, phrase):
    with pytest.raises(DeviceError, match=re.escape(phrase)) as info:
        call(xp.ones(3))
    assert "backend.asarray" in str(info.value) and "to_numpy" in str(info.value)


def test_inplace_operators_refuse_host_arrays():
    a, h = xp.ones(3), np.ones(3)
    with pytest.raises(DeviceError, match="backend.asarray"):
        a += h
    with pytest.raises(DeviceError, match="backend.asarray"):
        h += a
    np.testing.assert_array_equal(host(a), np.ones(3))


@pytest.mark.parametrize("call", [
    lambda: xp.exp(np.ones(3)),
    lambda: xp.add.at(xp.zeros(3), np.array([0, 1]), 1.0),
    lambda: xp.concatenate([xp.ones(2), np.ones(2)]),
    lambda: xp.exp(xp.ones(3), out=np.empty(3)),
    lambda: xp.linalg.norm(np.ones(3)),
    lambda: xp.ones(3).dot(np.ones(3)),
])
def test_xp_refuses_host_arrays(call):
    with pytest.raises(DeviceError, match=r"host numpy\.ndarray.*backend\.asarray"):
        call()


def test_xp_names_the_function():
    with pytest.raises(DeviceError, match=r"xp\.exp got a host numpy\.ndarray"):
        xp.exp(np.ones(3))


def test_no_hidden_route_to_the_host_buffer():
    a = xp.ones(3)
    for name in ("__array_interface__", "__array_struct__", "data", "ctypes", "flat"):
        assert not hasattr(a, name), name
    with pytest.raises(TypeError):
        memoryview(a)


def test_device_error_is_a_type_error():
    with pytest.raises(TypeError):
        np.exp(xp.ones(2))


# ---------------------------------------------------------------------------- via autodiff.backend

def test_through_the_backend_module(strict_backend):
    assert backend.get_backend() == "strict"
    assert backend.xp is xp
    a = backend.asarray([1.0, 2.0], dtype=np.float32)
    assert isinstance(a, StrictArray) and a.dtype == np.float32
    assert backend.array_module(a) is xp
    assert backend.is_array(a) and backend.backend_of(a).name == "strict"
    h = backend.to_numpy(a * 2)
    assert type(h) is np.ndarray
    np.testing.assert_array_equal(h, [2.0, 4.0])
    assert backend.asarray(a) is a
    with pytest.raises(DeviceError, match="backend.asarray"):
        backend.xp.exp(np.ones(2))
    with pytest.raises(DeviceError, match="to_numpy"):
        np.exp(backend.asarray([1.0]))


def test_back_to_numpy_backend_converts(strict_backend):
    a = backend.asarray([1.0, 2.0])
    backend.set_backend("numpy")
    b = backend.asarray(a)                # a device array comes back to the host explicitly
    assert type(b) is np.ndarray
    np.testing.assert_array_equal(b, [1.0, 2.0])
