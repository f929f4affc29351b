"""Ways to make tensors on the active backend. Random ones come from the seeded host generator
(``manual_seed``), so a seed gives the same numbers on NumPy and on CuPy."""
from __future__ import annotations

from . import backend
from .tensor import Tensor


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else tuple(shape)


def _new(array, requires_grad, name=None):
    t = Tensor._make(array)
    t.name = name
    t.requires_grad = requires_grad
    return t


def tensor(data, dtype=None, requires_grad=False, name=None) -> Tensor:
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def zeros(*shape, dtype="float32", requires_grad=False) -> Tensor:
    return _new(backend.xp.zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype="float32", requires_grad=False) -> Tensor:
    return _new(backend.xp.ones(_shape(shape), dtype=dtype), requires_grad)


def full(shape, value, dtype="float32", requires_grad=False) -> Tensor:
    return _new(backend.xp.full(tuple(shape), value, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return _new(backend.array_module(t.data).zeros_like(t.data), requires_grad)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return _new(backend.array_module(t.data).ones_like(t.data), requires_grad)


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    if stop is None:
        start, stop = 0, start
    return _new(backend.xp.arange(start, stop, step, dtype=dtype), False)


def randn(*shape, dtype="float32", requires_grad=False) -> Tensor:
    """Standard normal entries."""
    host = backend.rng().standard_normal(_shape(shape))
    return _new(backend.asarray(host, dtype=dtype), requires_grad)


def rand(*shape, dtype="float32", requires_grad=False) -> Tensor:
    """Uniform entries in [0, 1)."""
    host = backend.rng().random(_shape(shape))
    return _new(backend.asarray(host, dtype=dtype), requires_grad)


def manual_seed(seed: int) -> None:
    """Seed every random tensor and initializer, so runs repeat on any backend."""
    backend.manual_seed(seed)
