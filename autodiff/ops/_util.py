"""Shape helpers shared by the primitives."""
from __future__ import annotations

from ..errors import DimensionError, ShapeError


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, back to ``shape``.

    If x of shape (3, 1) was broadcast to (2, 3, 4), each entry of x fed 2 * 4 outputs, so its
    gradient is the sum of theirs."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def broadcast_shape(op: str, *shapes: tuple) -> tuple:
    """The shape NumPy broadcasting gives, or a ShapeError naming the operation and the shapes."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        dims = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(dims) > 1:
            shown = " and ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(
                f"{op}: shapes {shown} cannot be broadcast together (dimension {i} differs: "
                f"{sorted(dims)}); sizes must be equal or 1, aligned from the right."
            )
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def normalize_axis(ndim: int, axis: int) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise DimensionError(f"axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % max(ndim, 1)


def normalize_axes(ndim: int, axis) -> tuple | None:
    """``None`` (all axes) or a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    if ndim == 0:  # a 0-d tensor reduces along axis 0 or -1 to itself, as in PyTorch
        for a in (axis,) if isinstance(axis, int) else axis:
            normalize_axis(0, a)
        return None
    if isinstance(axis, int):
        axis = (axis,)
    axes = tuple(sorted(normalize_axis(ndim, a) for a in axis))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"repeated axis in {axis}")
    return axes


def reduce_args(ndim: int, axis, keepdims, dim, keepdim) -> dict:
    """Accept numpy's (axis, keepdims) and PyTorch's (dim, keepdim) spellings alike."""
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return {"axis": normalize_axes(ndim, axis), "keepdims": bool(keepdims)}


def expand_reduced(grad, in_shape: tuple, axis, keepdims: bool):
    """Undo a reduction's shape change: reinsert the reduced axes as size 1, then broadcast."""
    if not keepdims:
        axes = range(len(in_shape)) if axis is None else axis
        kept = list(in_shape)
        for a in axes:
            kept[a] = 1
        grad = grad.reshape(kept)
    return grad


def reduced_shape(shape: tuple, axis) -> tuple:
    """The shape after reducing over ``axis`` (None: all) without keepdims."""
    return () if axis is None else tuple(n for i, n in enumerate(shape) if i not in axis)


def reduced_count(shape: tuple, axis) -> int:
    """How many entries each output of a reduction over ``axis`` combines."""
    count = 1
    for i, n in enumerate(shape):
        if axis is None or i in axis:
            count *= n
    return count
