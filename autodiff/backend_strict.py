"""The "strict" backend: a simulated device for machines without a GPU.

NumPy does the arithmetic, but arrays behave like CuPy's: they live behind a wrapper
(``StrictArray``) that numpy cannot read implicitly, and the array module ``xp`` refuses plain
NumPy arrays. A stray ``np.`` call in device code therefore fails the test suite on a CPU-only
machine with a ``DeviceError`` that says what to fix, instead of failing later on a GPU.

``xp`` mirrors the numpy module generically (any attribute, looked up on first use), so nothing
here lists NumPy functions by hand. Only this module reads the raw buffers (``StrictArray._a``).
"""
from __future__ import annotations

import operator
import types

import numpy as np

from .errors import DeviceError

_FIX_HOST = "move it to the device with autodiff.backend.asarray(...) (or xp.asarray(...))"
_ENTRY = ("strict backend: {} was called on a device array; device code must use the backend's "
          "array module (autodiff.backend.array_module(x) or backend.xp), and host code must "
          "convert with autodiff.backend.to_numpy(x)")
# The explicit host-to-device copies, the only xp functions that accept numpy arrays (as CuPy).
_CONVERSIONS = frozenset({"asarray", "array", "asanyarray", "ascontiguousarray"})
# Forwarded ndarray attributes that would hand out the host buffer itself.
_HOST_ONLY = frozenset({"data", "ctypes", "flat"})


def _describe(a: np.ndarray) -> str:
    return f"a host numpy.ndarray (shape {a.shape}, dtype {a.dtype})"


def _unwrap(obj, where: str, seen: dict, allow_host: bool = False):
    """Replace StrictArrays by their buffers, recursing into lists/tuples/dicts. ``seen`` maps
    id(buffer) -> wrapper, so a result that *is* an input buffer (``out=``, ``asarray(x)``)
    comes back as the caller's own StrictArray."""
    if isinstance(obj, StrictArray):
        seen[id(obj._a)] = obj
        return obj._a
    if isinstance(obj, np.ndarray):
        if not allow_host:
            raise DeviceError(f"strict backend: {where} got {_describe(obj)} where a device array "
                              f"is expected; {_FIX_HOST}.")
        return np.array(obj)  # a copy, as a host-to-device transfer is on CuPy
    if type(obj) in (list, tuple):
        return type(obj)(_unwrap(o, where, seen, allow_host) for o in obj)
    if type(obj) is dict:
        return {k: _unwrap(v, where, seen, allow_host) for k, v in obj.items()}
    if isinstance(obj, _Proxy):
        return obj._target
    return obj


def _wrap(obj, seen: dict | None = None):
    """Results back to the device: arrays and numpy scalars become StrictArrays (0-d for scalars,
    as CuPy reductions return 0-d device arrays), sequences element-wise."""
    if isinstance(obj, np.ndarray):
        own = seen.get(id(obj)) if seen else None
        return own if own is not None else StrictArray(obj)
    if isinstance(obj, np.generic):
        return StrictArray(np.asarray(obj))
    if type(obj) in (list, tuple):
        return type(obj)(_wrap(o, seen) for o in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # named results, e.g. linalg.svd
        return type(obj)(*(_wrap(o, seen) for o in obj))
    if isinstance(obj, (np.random.Generator, np.random.RandomState)):
        return _Proxy(obj, f"xp.random.{type(obj).__name__}")  # its draws must land on device
    return obj


class _Func:
    """A numpy callable (function, ufunc, method) that takes and returns device arrays.
    Attributes (``xp.add.at``, ``xp.add.reduce``) are wrapped the same way."""

    def __init__(self, fn, name: str, owner: StrictArray | None = None):
        self._fn, self._owner, self.__name__ = fn, owner, name
        self._allow_host = name.rsplit(".", 1)[-1] in _CONVERSIONS and name.count(".") == 1
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        seen = {} if self._owner is None else {id(self._owner._a): self._owner}
        args = _unwrap(args, self.__name__, seen, self._allow_host)
        kwargs = _unwrap(kwargs, self.__name__, seen, self._allow_host)
        return _wrap(self._fn(*args, **kwargs), seen)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _lift(getattr(self._fn, name), f"{self.__name__}.{name}")

    def __repr__(self):
        return f"<strict {self.__name__}>"


class _Proxy:
    """A numpy namespace (the module, a submodule, a random Generator) seen from the device:
    each attribute is lifted on first use and cached in the instance."""

    def __init__(self, target, name: str):
        self._target, self.__name__ = target, name

    def __getattr__(self, name):
        if name.startswith("_"):  # numpy's private names are no device API (and no recursion)
            raise AttributeError(name)
        value = _lift(getattr(self._target, name), f"{self.__name__}.{name}")
        self.__dict__[name] = value
        return value

    def __dir__(self):
        return dir(self._target)

    def __repr__(self):
        return f"<strict device namespace {self.__name__}>"


def _lift(value, name: str):
    if value is np.ndarray:
        return StrictArray
    if isinstance(value, type):  # dtypes and classes pass through, as in CuPy (xp.float32)
        return value
    if isinstance(value, types.ModuleType):
        return _Proxy(value, name)
    if callable(value):
        return _Func(value, name)
    return value  # constants: pi, inf, newaxis


class StrictArray:
    """A device array: a numpy buffer numpy itself may not see. Use ``xp`` functions on it, and
    ``autodiff.backend.to_numpy`` to bring it to the host."""

    __slots__ = ("_a",)
    __hash__ = None  # mutable, as ndarray

    def __init__(self, array: np.ndarray):
        if not isinstance(array, np.ndarray):
            raise TypeError("StrictArray wraps a numpy.ndarray; create device arrays with "
                            "xp.empty/xp.zeros/xp.asarray")
        self._a = array

    # Attributes device code uses constantly, spelled out; the rest go through __getattr__.
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: _wrap(self._a.T))

    def __getattr__(self, name):
        # Private and dunder names are refused: numpy probes __array_interface__ and
        # __array_struct__, which would read the buffer behind the wrapper's back.
        if name.startswith("_"):
            raise AttributeError(f"'StrictArray' object has no attribute {name!r}")
        if name in _HOST_ONLY:
            raise AttributeError(f"strict backend: ndarray.{name} exposes the host buffer and is "
                                 f"not available on device arrays (use ravel() or to_numpy(x))")
        value = getattr(self._a, name)
        return _Func(value, f"ndarray.{name}", owner=self) if callable(value) else _wrap(value)

    # Conversions that CuPy allows: a size-1 array to a Python scalar (numpy's own rules),
    # and .get() to copy to the host.
    def __bool__(self): return bool(self._a)
    def __float__(self): return float(self._a)
    def __int__(self): return int(self._a)
    def __complex__(self): return complex(self._a)
    def __index__(self): return operator.index(self._a)
    def __len__(self): return len(self._a)
    def __format__(self, spec): return format(self._a, spec)
    def item(self, *args): return self._a.item(*args)
    def tolist(self): return self._a.tolist()
    def get(self, stream=None, order="C", out=None): return np.array(self._a, order=order)
    def __array_namespace__(self, api_version=None): return xp
    def __copy__(self): return StrictArray(self._a.copy())
    def __deepcopy__(self, memo): return StrictArray(self._a.copy())
    def __reduce__(self): return (from_numpy, (self._a,))

    def __iter__(self):
        return (_wrap(row) for row in iter(self._a))  # iter() first: 0-d fails here, as numpy

    def __contains__(self, value):
        raw = _operand(value, "in")
        return bool((self._a == (value if raw is NotImplemented else raw)).any())

    # Indices may be host integer/bool arrays (CuPy accepts them); values may not.
    def __getitem__(self, index):
        seen = {id(self._a): self}
        return _wrap(self._a[_unwrap(index, "indexing", seen, allow_host=True)], seen)

    def __setitem__(self, index, value):
        raw = _operand(value, "a[...] =")
        self._a[_unwrap(index, "indexing", {}, allow_host=True)] = (
            value if raw is NotImplemented else raw)

    def __repr__(self):
        r = repr(self._a)  # "array([...], dtype=...)", continuation lines indented to match
        if not r.startswith("array("):
            return r
        return "StrictArray(" + r[len("array("):].replace("\n", "\n" + " " * 6)

    def __str__(self):
        return str(self._a)

    # numpy's entry points: each would read the buffer as a host array, so each refuses.
    def __array__(self, dtype=None, copy=None):
        raise DeviceError(_ENTRY.format("numpy.asarray/numpy.array (or a numpy function)"))

    def __array_function__(self, func, types_, args, kwargs):
        raise DeviceError(_ENTRY.format(f"{func.__module__}.{func.__name__}"))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        sym = _UFUNC_SYMBOL.get(ufunc.__name__)
        others = [i for i in inputs if not isinstance(i, StrictArray)]
        outs = kwargs.get("out", ())
        hosts = [i for i in others + list(outs if isinstance(outs, tuple) else (outs,))
                 if isinstance(i, np.ndarray)]
        if sym and method == "__call__" and not kwargs and len(inputs) == 2 \
                and isinstance(inputs[1], StrictArray):
            # `np.float32(2) * a` lands here, not in a.__rmul__ (and numpy turns the scalar into
            # a 0-d array for comparisons): a scalar operand is fine, as in `a * np.float32(2)`.
            s = inputs[0]
            if isinstance(s, np.generic) or (isinstance(s, np.ndarray) and s.ndim == 0
                                             and ufunc.__name__ in _COMPARISONS):
                return _wrap(ufunc(s, inputs[1]._a))
        if sym and hosts:
            raise DeviceError(f"strict backend: operator '{sym}' (numpy.{ufunc.__name__}) mixes "
                              f"{_describe(hosts[0])} with a device array; {_FIX_HOST}, or bring "
                              f"the device array to the host with autodiff.backend.to_numpy(x).")
        name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise DeviceError(_ENTRY.format(name))


_COMPARISONS = {"less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">=",
                "equal": "==", "not_equal": "!="}
_UFUNC_SYMBOL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "floor_divide": "//",
                 "remainder": "%", "power": "**", "matmul": "@", "divmod": "divmod",
                 "bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^", "left_shift": "<<",
                 "right_shift": ">>", **_COMPARISONS}


def _operand(other, where: str):
    """The raw value of an operator operand. Returns NotImplemented for foreign objects (e.g. a
    Tensor) so Python tries their reflected method with the StrictArray, not its buffer."""
    if isinstance(other, StrictArray):
        return other._a
    if isinstance(other, np.ndarray):
        raise DeviceError(f"strict backend: operator '{where}' mixes a device array with "
                          f"{_describe(other)}; {_FIX_HOST}, or bring the device array to the "
                          f"host with autodiff.backend.to_numpy(x).")
    if isinstance(other, (int, float, complex, np.generic, list, tuple)):
        return _unwrap(other, f"operator '{where}'", {})
    return NotImplemented


def _binary(fn, sym: str, reflected=False, inplace=False):
    def method(self, other):
        raw = _operand(other, sym)
        if raw is NotImplemented:
            return NotImplemented
        if inplace:  # numpy's in-place operators write into self._a: other references see it
            fn(self._a, raw)
            return self
        return _wrap(fn(raw, self._a) if reflected else fn(self._a, raw))
    return method


# Every operator with its reflected and in-place forms, generated from the operator module.
for _name, _sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"),
                    ("floordiv", "//"), ("mod", "%"), ("pow", "**"), ("matmul", "@"),
                    ("and", "&"), ("or", "|"), ("xor", "^"), ("lshift", "<<"), ("rshift", ">>")]:
    _fn = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(StrictArray, f"__{_name}__", _binary(_fn, _sym))
    setattr(StrictArray, f"__r{_name}__", _binary(_fn, _sym, reflected=True))
    setattr(StrictArray, f"__i{_name}__", _binary(getattr(operator, f"i{_name}"), _sym + "=",
                                                  inplace=True))
for _name, _sym in [("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="),
                    ("ne", "!=")]:
    setattr(StrictArray, f"__{_name}__", _binary(getattr(operator, _name), _sym))
StrictArray.__divmod__ = _binary(divmod, "divmod")
StrictArray.__rdivmod__ = _binary(divmod, "divmod", reflected=True)
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__",
            (lambda fn: lambda self: _wrap(fn(self._a)))(getattr(operator, _name)))
StrictArray.__round__ = lambda self, ndigits=0: _wrap(np.round(self._a, ndigits))

xp = _Proxy(np, "xp")
xp.__doc__ = "The strict backend's array module: numpy's namespace, on device arrays."


def to_numpy(a) -> np.ndarray:
    """A host copy of a device array (like ``cupy.asnumpy``)."""
    if not isinstance(a, StrictArray):
        raise DeviceError(f"to_numpy expects a StrictArray, got {type(a).__name__}")
    return a._a.copy()


def from_numpy(array) -> StrictArray:
    """A device copy of a host array (like ``cupy.asarray``): later host writes do not show."""
    return StrictArray(np.array(array))
