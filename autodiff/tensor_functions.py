"""The primitives as functions: ``ad.exp(x)``, ``ad.maximum(x, 0.0)``, ``ad.where(x > 0, x, y)``."""
from __future__ import annotations

from . import backend, ops
from .errors import DeviceError
from .tensor import Tensor


def _tensor(x, like: Tensor | None = None, op: str = "") -> Tensor:
    if isinstance(x, Tensor):
        return x
    if like is not None:
        return like._operand(x, op)
    if backend.is_array(x) and backend.backend_of(x) is not backend.active():
        raise DeviceError(f"{op}: got a {backend.backend_of(x).name} array while the active "
                          f"backend is {backend.get_backend()}; convert it with ad.Tensor(array)")
    return Tensor(x)


def _pair(a, b, op):
    if isinstance(a, Tensor):
        return a, _tensor(b, a, op)
    b = _tensor(b, None, op)
    return _tensor(a, b, op), b


def exp(x): return _tensor(x).exp()
def log(x): return _tensor(x).log()
def sqrt(x): return _tensor(x).sqrt()
def abs(x): return _tensor(x).abs()  # noqa: A001 (mirrors numpy/torch naming)
def tanh(x): return _tensor(x).tanh()
def sigmoid(x): return _tensor(x).sigmoid()
def relu(x): return _tensor(x).relu()
def clip(x, min=None, max=None): return _tensor(x).clip(min, max)  # noqa: A002


clamp = clip


def maximum(a, b):
    return ops.Maximum.apply(*_pair(a, b, "maximum"))


def minimum(a, b):
    return ops.Minimum.apply(*_pair(a, b, "minimum"))


def where(cond, a, b):
    """Entries of ``a`` where ``cond`` holds, else of ``b``; ``cond`` is a boolean tensor/array
    (it gets no gradient)."""
    a, b = _pair(a, b, "where")
    cond = cond.data if isinstance(cond, Tensor) else cond
    if backend.backend_of(cond) is not backend.backend_of(a.data):
        raise DeviceError("where: the condition must live on the same backend as the values; "
                          "build it from tensors (x > 0) or with ad.Tensor(mask)")
    return ops.Where.apply(cond, a, b)


def matmul(a, b):
    return ops.matmul(*_pair(a, b, "matmul"))


def sum(x, axis=None, keepdims=False, **kw): return _tensor(x).sum(axis, keepdims, **kw)  # noqa: A001
def mean(x, axis=None, keepdims=False, **kw): return _tensor(x).mean(axis, keepdims, **kw)
def max(x, axis=None, keepdims=False, **kw): return _tensor(x).max(axis, keepdims, **kw)  # noqa: A001
def min(x, axis=None, keepdims=False, **kw): return _tensor(x).min(axis, keepdims, **kw)  # noqa: A001
def log_softmax(x, axis=-1, **kw): return _tensor(x).log_softmax(axis, **kw)
def softmax(x, axis=-1, **kw): return _tensor(x).softmax(axis, **kw)
def reshape(x, shape): return _tensor(x).reshape(shape)
def permute(x, dims): return _tensor(x).permute(dims)
def transpose(x, dim0=-2, dim1=-1): return _tensor(x).transpose(dim0, dim1)


def concatenate(tensors, axis=0):
    return ops.concatenate([_tensor(t) for t in tensors], axis)


cat = concatenate


def stack(tensors, axis=0):
    return ops.stack([_tensor(t) for t in tensors], axis)
