"""Primitives that read or write entries at positions given by an integer tensor (PyTorch's
gather, scatter_add) or a boolean mask (masked_fill). A position read twice sends its gradient
back twice: the backward of a read is a scatter-add, never an assignment."""
from __future__ import annotations

from .. import backend
from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor
from ._util import broadcast_shape, normalize_axis, unbroadcast


def scatter_add_at(xp, target, index, values) -> None:
    """target[index] += values in place, repeated positions adding up (``backend.add_at``)."""
    backend.add_at(xp, target, index, values)


def _along(xp, index, dim: int) -> tuple:
    """The advanced index picking x[i0, .., index[i0, .., in], .., in] for every position of
    ``index`` (for dim 0 and 3 dims: x[index[i, j, k], j, k])."""
    nd = index.ndim
    return tuple(index if d == dim else xp.arange(n).reshape((n,) + (1,) * (nd - 1 - d))
                 for d, n in enumerate(index.shape))


def _window(index_shape) -> tuple:
    """The leading block of src that scatter_add reads: index may be smaller than src."""
    return tuple(slice(0, n) for n in index_shape)


class Gather(Function):  # y[i, j] = x[index[i, j], j] (dim 0);  dy/dx: g scatter-added to index
    saved_inputs = ()

    def __init__(self, where):
        self.where = where

    def forward(self, x):
        return x[self.where]

    def backward(self, g):
        gx = self.xp.zeros(self.inputs[0].data.shape, dtype=g.dtype)
        scatter_add_at(self.xp, gx, self.where, g)
        return (gx,)


class ScatterAdd(Function):  # y = x; y[index[i, j], j] += src[i, j];  dy/dx = 1, dy/dsrc = g[index]
    saved_inputs = ()

    def __init__(self, where, window):
        self.where, self.window = where, window

    def forward(self, x, src):
        out = x.copy()
        scatter_add_at(self.xp, out, self.where, src[self.window])
        return out

    def backward(self, g):
        gsrc = None
        if self.needs_grad(1):
            gsrc = self.xp.zeros(self.inputs[1].data.shape, dtype=g.dtype)
            gsrc[self.window] = g[self.where]
        return (g if self.needs_grad(0) else None, gsrc)


class MaskedFill(Function):  # y = mask ? v : x;  dy/dx = 0 where mask else 1, dy/dv = sum over mask
    saved_inputs = ()

    def __init__(self, mask):
        self.mask = mask    # a boolean array, not an input: it gets no gradient

    def forward(self, x, v):
        return self.xp.where(self.mask, v.astype(x.dtype), x)

    def backward(self, g):
        xp, zero = self.xp, self.xp.zeros((), dtype=g.dtype)
        gx = gv = None
        if self.needs_grad(0):
            gx = unbroadcast(xp.where(self.mask, zero, g), self.inputs[0].data.shape)
        if self.needs_grad(1):
            v = self.inputs[1].data
            gv = xp.asarray(xp.where(self.mask, g, zero).sum(), dtype=v.dtype)
        return (gx, gv)


def _index(x: Tensor, index, op: str, what: str = "index"):
    """``index`` as an integer array on x's backend (lists and other backends' arrays are
    copied over: an explicit move of a small array)."""
    if not isinstance(index, (Tensor, list, tuple)) and not backend.is_array(index):
        raise TypeError(f"{op}: {what} must be an integer tensor (as in PyTorch), got "
                        f"{index!r} ({type(index).__name__})")
    arr = _on_home(x, list(index) if isinstance(index, tuple) else index)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must hold integers (int64, as in PyTorch), not "
                        f"{arr.dtype}; convert it with .astype('int64')")
    return arr


def _on_home(x: Tensor, obj):
    """A tensor's array, a list or another backend's array on x's backend: copying an index or a
    mask over is an explicit move of a small array."""
    obj = obj.data if isinstance(obj, Tensor) else obj
    home = backend.backend_of(x.data)
    if isinstance(obj, list) or (backend.is_array(obj) and backend.backend_of(obj) is not home):
        obj = backend.to_backend(obj, home.name)
    return obj


def _check_range(op: str, index, size: int, dim: int) -> None:
    if index.size == 0:
        return
    lo, hi = int(index.min()), int(index.max())
    if lo < 0 or hi >= size:
        raise IndexError(f"{op}: index {lo if lo < 0 else hi} is out of range for dimension "
                         f"{dim} of size {size}; valid indices are 0 to {size - 1} (negative "
                         f"indices are not counted from the end, as in PyTorch)")


def _check_index_shape(op: str, index, dim: int, **shapes) -> None:
    """PyTorch's rule: index has the tensors' number of dims and is no larger than them (along
    ``dim`` only src bounds it)."""
    for name, shape in shapes.items():
        too_big = [d for d, n in enumerate(index.shape)
                   if d < len(shape) and n > shape[d] and (d != dim or name == "src")]
        if index.ndim != len(shape) or too_big:
            why = (f"it must have the same number of dimensions ({len(shape)})"
                   if index.ndim != len(shape) else
                   f"it is larger along dimension {too_big[0]}")
            raise ShapeError(f"{op}: index of shape {tuple(index.shape)} does not fit {name} of "
                             f"shape {tuple(shape)}: {why}")


def gather(x: Tensor, dim: int, index) -> Tensor:
    """out[i][j][k] = x[index[i][j][k]][j][k] for dim=0 (and likewise for other dims); the
    result has index's shape."""
    index = _index(x, index, "gather")
    if x.ndim == 0 and index.ndim == 0:      # PyTorch allows a 0-d tensor and a 0-d index
        return gather(x.reshape(1), dim, Tensor._make(index.reshape(1))).reshape(())
    dim = normalize_axis(x.ndim, dim)
    _check_index_shape("gather", index, dim, input=x.shape)
    _check_range("gather", index, x.shape[dim], dim)
    return Gather.apply(x, where=_along(backend.array_module(x.data), index, dim))


def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """Out-of-place: out = x, then out[index[i][j][k]][j][k] += src[i][j][k] for dim=0;
    repeated indices add up."""
    index = _index(x, index, "scatter_add")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor, got a {type(src).__name__}; wrap "
                        f"it with ad.Tensor(src)")
    if src.dtype != x.dtype:
        raise TypeError(f"scatter_add: src has dtype {src.dtype} but the tensor has {x.dtype}; "
                        f"they must match (convert with src.astype('{x.dtype}'))")
    if x.ndim == 0 and index.ndim == 0 and src.ndim == 0:
        flat = Tensor._make(index.reshape(1))
        return scatter_add(x.reshape(1), dim, flat, src.reshape(1)).reshape(())
    dim = normalize_axis(x.ndim, dim)
    _check_index_shape("scatter_add", index, dim, input=x.shape, src=src.shape)
    _check_range("scatter_add", index, x.shape[dim], dim)
    where = _along(backend.array_module(x.data), index, dim)
    return ScatterAdd.apply(x, src, where=where, window=_window(index.shape))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` (a boolean tensor broadcastable with x) is True, else x; the
    result keeps x's dtype, as in PyTorch."""
    if isinstance(mask, Tensor) or backend.is_array(mask) or isinstance(mask, list):
        mask = _on_home(x, mask)
    if not backend.is_array(mask) or mask.dtype.kind != "b":
        what = mask.dtype if backend.is_array(mask) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a boolean tensor, not {what}; build it with "
                        f"a comparison (x > 0) or .astype('bool')")
    broadcast_shape("masked_fill", x.shape, tuple(mask.shape))
    xp = backend.array_module(x.data)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor "
                             f"of shape {value.shape}")
    elif backend.is_scalar(value):
        value = Tensor._make(xp.asarray(backend.python_scalar(value), dtype=x.dtype))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got a "
                        f"{type(value).__name__}")
    return MaskedFill.apply(x, value, mask=mask)
