"""``F.pad`` and ``F.one_hot``, as in PyTorch.

pad's tuple names the last dimension first: (left, right) pads the last dimension, (left, right,
top, bottom) the last two, and so on. A negative pad crops. In the modes other than "constant"
every output position reads one input position (mirrored, clamped or wrapped), so the gradient
folds back: each input entry gets the sum of g over the positions that copied it.
"""
from __future__ import annotations

import operator

from .. import backend
from ..errors import ShapeError
from ..function import Function
from ..ops.indexing import scatter_add_at
from ..tensor import Tensor, expect_tensor

MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Function):  # y = x framed by `value` (cropped by pads < 0);  dy/dx = g's window
    saved_inputs = ()

    def __init__(self, shape, src, dst, value):
        self.shape, self.src, self.dst, self.value = shape, src, dst, value

    def forward(self, x):
        out = self.xp.full(self.shape, self.value, dtype=x.dtype)
        out[self.dst] = x[self.src]
        return out

    def backward(self, g):
        gx = self.xp.zeros(self.inputs[0].data.shape, dtype=g.dtype)
        gx[self.src] = g[self.dst]
        return (gx,)


class IndexPad(Function):  # y_q = x_p(q) along each padded dim;  dy/dx_p = sum of g_q over p(q) = p
    saved_inputs = ()

    def __init__(self, pairs, mode):
        self.pairs, self.mode = pairs, mode     # (dim, size, left, right) per padded dimension

    def forward(self, x):
        self.positions = [_positions(self.xp, n, left, right, self.mode)
                          for _, n, left, right in self.pairs]
        for (d, *_), pos in zip(self.pairs, self.positions):
            x = self.xp.take(x, pos, axis=d)
        return x

    def backward(self, g):
        for (d, n, *_), pos in reversed(list(zip(self.pairs, self.positions))):
            shape = list(g.shape)
            shape[d] = n
            gx = self.xp.zeros(shape, dtype=g.dtype)
            scatter_add_at(self.xp, gx, (slice(None),) * d + (pos,), g)
            g = gx
        return (g,)


def _positions(xp, n: int, left: int, right: int, mode: str):
    """For each output position, the input position it copies (q = -left .. n + right - 1,
    counted from the unpadded input as PyTorch does, except in circular mode)."""
    if mode == "circular":      # PyTorch crops the negative pads first, then wraps what is left
        lo, m = max(-left, 0), n - max(-left, 0) - max(-right, 0)
        return lo + xp.arange(-max(left, 0), m + max(right, 0)) % max(m, 1)
    q = xp.arange(-left, n + right)
    if mode == "replicate":
        return xp.clip(q, 0, n - 1)
    period = 2 * (n - 1)                 # reflect: ... 2 1 [0 1 2 3] 2 1 0 ...
    q = xp.abs(q) % period if period else q * 0
    return xp.where(q >= n, period - q, q)


def _check_pad(x: Tensor, pad, mode: str) -> tuple:
    if mode not in MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of "
                         f"{', '.join(repr(m) for m in MODES)}")
    try:
        pad = tuple(operator.index(p) for p in pad)
    except TypeError:
        raise TypeError(f"pad: pad must be a tuple of integers (left, right, top, bottom, ...), "
                        f"got {pad!r}") from None
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: pad {pad} must have an even length of at most 2 * {x.ndim} (a "
                         f"(left, right) pair per dimension, last dimension first) for a tensor "
                         f"of shape {x.shape}")
    pairs = []
    for k in range(len(pad) // 2):
        d = x.ndim - 1 - k
        n, left, right = x.shape[d], pad[2 * k], pad[2 * k + 1]
        if n + left + right < 0:
            raise ShapeError(f"pad: dimension {d} of size {n} with pads ({left}, {right}) would "
                             f"have a negative size {n + left + right}")
        kept = n - max(-left, 0) - max(-right, 0)
        limit = {"reflect": n - 1, "circular": kept, "replicate": n and max(left, right)}.get(mode)
        if limit is not None and max(left, right) > limit:    # replicate: any pad unless n is 0
            raise ShapeError(f"pad: {mode} padding of dimension {d} (size {n}) by "
                             f"({left}, {right}): each pad must be at most {limit} in this "
                             f"mode (it reads entries of the input itself)")
        pairs.append((d, n, left, right))
    return pairs


def pad(input, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad (or, with negative pads, crop) the last len(pad) // 2 dimensions; "constant" fills
    with ``value``, "reflect" mirrors without repeating the edge (3 2 | 1 2 3 | 2 1 ...),
    "replicate" repeats the edge, "circular" wraps around."""
    x = expect_tensor(input, "pad")
    pairs = _check_pad(x, pad, mode)
    if mode != "constant":
        if value:
            raise ValueError(f"pad: value applies to mode 'constant' only, not {mode!r}")
        return IndexPad.apply(x, pairs=pairs, mode=mode)
    shape, src, dst = list(x.shape), [slice(None)] * x.ndim, [slice(None)] * x.ndim
    for d, n, left, right in pairs:
        shape[d] = n + left + right
        src[d] = slice(max(-left, 0), n - max(-right, 0))
        dst[d] = slice(max(left, 0), max(left, 0) + max(src[d].stop - src[d].start, 0))
    return ConstantPad.apply(x, shape=tuple(shape), src=tuple(src), dst=tuple(dst),
                             value=backend.python_scalar(value))


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """out[..., c] = 1 if tensor[...] == c else 0, int64, shape tensor.shape + (num_classes,);
    num_classes=-1 takes max + 1. No gradient (an index has none)."""
    x = expect_tensor(tensor, "one_hot")
    if x.dtype.kind not in "iu":
        raise TypeError(f"one_hot: the tensor must hold integer class indices, not {x.dtype}; "
                        f"convert it with .astype('int64')")
    if isinstance(num_classes, bool) or not hasattr(num_classes, "__index__") \
            or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be a positive integer, or -1 to take "
                         f"max + 1; got {num_classes!r}")
    if x.size == 0 and num_classes == -1:
        raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass it")
    lo, hi = (int(x.data.min()), int(x.data.max())) if x.size else (0, -1)
    if lo < 0:
        raise ValueError(f"one_hot: class {lo} is negative; classes must be 0 .. num_classes - 1")
    num_classes = hi + 1 if num_classes == -1 else operator.index(num_classes)
    if hi >= num_classes:
        raise ValueError(f"one_hot: class {hi} is too large for num_classes={num_classes}; "
                         f"classes must be 0 .. {num_classes - 1}")
    xp = backend.array_module(x.data)
    return Tensor._make((x.data[..., None] == xp.arange(num_classes)).astype(xp.int64))
