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
def sin(x): return _tensor(x).sin()
def cos(x): return _tensor(x).cos()
def clone(x): return _tensor(x).clone()
def tril(x, diagonal=0): return _tensor(x).tril(diagonal)
def triu(x, diagonal=0): return _tensor(x).triu(diagonal)
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


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("bij,bjk->bik", a, b)``."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):    # torch accepts a list
        operands = tuple(operands[0])
    return ops.einsum(equation, *[_tensor(t, None, "einsum") for t in operands])


def sum(x, axis=None, keepdims=False, **kw): return _tensor(x).sum(axis, keepdims, **kw)  # noqa: A001
def mean(x, axis=None, keepdims=False, **kw): return _tensor(x).mean(axis, keepdims, **kw)
def max(x, axis=None, keepdims=False, **kw): return _tensor(x).max(axis, keepdims, **kw)  # noqa: A001
def min(x, axis=None, keepdims=False, **kw): return _tensor(x).min(axis, keepdims, **kw)  # noqa: A001
def var(x, dim=None, keepdim=False, **kw): return _tensor(x).var(dim, keepdim, **kw)
def std(x, dim=None, keepdim=False, **kw): return _tensor(x).std(dim, keepdim, **kw)
def argmax(x, dim=None, keepdim=False): return _tensor(x).argmax(dim, keepdim)
def argmin(x, dim=None, keepdim=False): return _tensor(x).argmin(dim, keepdim)
def cumsum(x, dim): return _tensor(x).cumsum(dim)
def logsumexp(x, dim, keepdim=False): return _tensor(x).logsumexp(dim, keepdim)
def log_softmax(x, axis=-1, **kw): return _tensor(x).log_softmax(axis, **kw)
def softmax(x, axis=-1, **kw): return _tensor(x).softmax(axis, **kw)
def reshape(x, shape): return _tensor(x).reshape(shape)
def permute(x, dims): return _tensor(x).permute(dims)
def transpose(x, dim0=-2, dim1=-1): return _tensor(x).transpose(dim0, dim1)
def broadcast_to(x, shape): return _tensor(x).expand(tuple(shape))
def gather(input, dim, index): return _tensor(input).gather(dim, index)  # noqa: A002
def scatter_add(input, dim, index, src): return _tensor(input).scatter_add(dim, index, src)  # noqa: A002
def masked_fill(input, mask, value): return _tensor(input).masked_fill(mask, value)  # noqa: A002


def concatenate(tensors, axis=0):
    return ops.concatenate([_tensor(t) for t in tensors], axis)


cat = concatenate


def stack(tensors, axis=0):
    return ops.stack([_tensor(t) for t in tensors], axis)
