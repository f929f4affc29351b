"""Primitives that move entries without changing them. Their backward moves the gradient back:
reshape it, permute it back, scatter it to where the entries came from, split it."""
from __future__ import annotations

import operator

from .. import backend
from ..errors import ShapeError
from ..function import Function
from ._util import normalize_axis, unbroadcast


class Reshape(Function):
    saved_inputs, returns_view = (), True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, g):
        return (g.reshape(self.inputs[0].data.shape),)


def reshape(x, shape):
    shape = tuple(int(n) for n in shape)
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    size = x.data.size
    free = shape.count(-1)
    if free > 1 or any(n < -1 for n in shape) or (
            size != known if free == 0 else (known == 0 or size % known)):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({size} elements) into {shape}"
            + ("; at most one dimension may be -1" if free > 1 else ""))
    return Reshape.apply(x, shape=shape)


class Permute(Function):
    saved_inputs, returns_view = (), True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, g):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return (g.transpose(inverse),)


def permute(x, dims):
    dims = tuple(normalize_axis(x.ndim, d) for d in dims) if x.ndim else tuple(dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ShapeError(f"permute: {tuple(dims)} is not an ordering of the {x.ndim} dimensions "
                         f"of a tensor of shape {x.shape}")
    return Permute.apply(x, dims=dims)


class BroadcastTo(Function):  # y = x stretched to a shape;  dy/dx: g summed over stretched dims
    """A read-only view (stride 0 along the stretched dims), as PyTorch's expand: each entry of
    x feeds every copy, so its gradient is the sum of theirs."""

    saved_inputs, returns_view = (), True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, g):
        return (unbroadcast(g, self.inputs[0].data.shape),)


def expand(x, sizes):
    """PyTorch's ``x.expand(*sizes)``: -1 keeps a size; new dims may be added in front only."""
    try:
        sizes = tuple(operator.index(n) for n in sizes)
    except TypeError:
        raise TypeError(f"expand: sizes must be integers (-1 keeps a size), "
                        f"got {tuple(sizes)}") from None
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: cannot expand a tensor of shape {x.shape} to {sizes}: give "
                         f"at least {x.ndim} sizes (new dimensions go in front)")
    shape = []
    for i, n in enumerate(sizes):
        have, why = (x.shape[i - lead] if i >= lead else None), None
        if have is None and n < 0:
            why = f"the new leading dimension {i} needs a size >= 0 (-1 only keeps a size)"
        elif have is not None:
            n = have if n == -1 else n
            if n < 0:
                why = f"size {n} at dimension {i} is negative"
            elif have not in (1, n):
                why = (f"dimension {i} has size {have}, which cannot become {n}; only dimensions "
                       f"of size 1 expand (-1 keeps a size)")
        if why:
            raise ShapeError(f"expand: cannot expand a tensor of shape {x.shape} to {sizes}: "
                             f"{why}")
        shape.append(n)
    return BroadcastTo.apply(x, shape=tuple(shape))


_BASIC = (int, slice, type(None), type(Ellipsis))


class GetItem(Function):
    """y = x[index]. Each entry of x may be picked several times (x[[0, 0, 1]]), so its gradient
    is the sum of the gradients of all its copies: a scatter-add, not an assignment."""

    saved_inputs = ()

    def __init__(self, index, basic: bool):
        self.index = index      # a tuple of slices, integers, None, Ellipsis and index arrays
        self.basic = basic      # no index arrays: no entry is picked twice
        self.returns_view = basic    # basic indexing gives a view of x

    def forward(self, x):
        return x[self.index]

    def backward(self, g):
        x = self.inputs[0].data
        gx = self.xp.zeros(x.shape, dtype=g.dtype)
        if self.basic:          # slices and integers never pick an entry twice
            gx[self.index] = g
        else:
            self.xp.add.at(gx, self.index, g)
        return (gx,)


def index_arrays(data, index):
    """Normalize an index: tensors become arrays; lists and other backends' integer arrays are
    copied to the data's backend (indices are small, and this is an explicit move)."""
    from ..tensor import Tensor

    items = index if isinstance(index, tuple) else (index,)
    home = backend.backend_of(data)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i = i.data
        if isinstance(i, list) or (backend.is_array(i) and backend.backend_of(i) is not home):
            i = backend.to_backend(i, home.name)
        if backend.is_array(i) and i.dtype.kind not in "iub":
            raise IndexError(f"tensors can be indexed with integer or boolean arrays, "
                             f"not {i.dtype} ones")
        out.append(i)
    return tuple(out)


def getitem(x, index):
    index = index_arrays(x.data, index)
    try:
        return GetItem.apply(x, index=index, basic=all(isinstance(i, _BASIC) for i in index))
    except IndexError as exc:
        raise IndexError(f"indexing a tensor of shape {x.shape}: {exc}") from None


class Concatenate(Function):
    saved_inputs = ()

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return self.xp.concatenate(arrays, axis=self.axis)

    def backward(self, g):
        bounds, total = [], 0
        for t in self.inputs[:-1]:
            total += t.data.shape[self.axis]
            bounds.append(total)
        return tuple(self.xp.split(g, bounds, axis=self.axis))


class Stack(Function):
    saved_inputs = ()

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return self.xp.stack(arrays, axis=self.axis)

    def backward(self, g):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] for i in range(len(self.inputs)))


def _check_same_shapes(op: str, tensors, skip_axis=None):
    if not tensors:
        raise ShapeError(f"{op}: needs at least one tensor")
    first = tensors[0].shape
    for k, t in enumerate(tensors[1:], 1):
        s = t.shape
        same = len(s) == len(first) and all(
            a == b for i, (a, b) in enumerate(zip(s, first)) if i != skip_axis)
        if not same:
            rule = ("all dimensions except axis %d must match" % skip_axis
                    if skip_axis is not None else "all shapes must be equal")
            raise ShapeError(f"{op}: tensor {k} has shape {s} but tensor 0 has shape {first}; "
                             f"{rule}")


def concatenate(tensors, axis=0):
    tensors = list(tensors)
    _check_same_shapes("concatenate", tensors[:1])
    for k, t in enumerate(tensors):
        if t.ndim == 0:
            raise ShapeError(f"concatenate: tensor {k} is zero-dimensional (one number), so it "
                             f"has no axis to join along; ad.stack(tensors) makes a 1-d tensor "
                             f"of numbers")
    axis = normalize_axis(tensors[0].ndim, axis)
    _check_same_shapes("concatenate", tensors, skip_axis=axis)
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    tensors = list(tensors)
    _check_same_shapes("stack", tensors)
    axis = normalize_axis(tensors[0].ndim + 1, axis)
    return Stack.apply(*tensors, axis=axis)
