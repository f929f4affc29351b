"""Matrix product, batched and with NumPy's 1-d rules.

For Y = A B:  dL/dA = G B^T  and  dL/dB = A^T G  (transposing the last two axes); batch
dimensions that broadcasting stretched are summed back. A 1-d A is treated as a row (1, n) and a
1-d B as a column (n, 1), and the added axis is dropped from the result, as in NumPy.
"""
from __future__ import annotations

import numbers

from ..errors import ShapeError
from ..function import Function
from ._util import broadcast_shape, unbroadcast


class MatMul(Function):
    def forward(self, a, b):
        self.a = a[None, :] if a.ndim == 1 else a
        self.b = b[:, None] if b.ndim == 1 else b
        y = self.a @ self.b
        self.y_shape = y.shape
        if b.ndim == 1:
            y = y[..., 0]
        if a.ndim == 1:
            y = y[..., 0, :] if b.ndim > 1 else y[..., 0]
        return y

    def backward(self, g):
        g = g.reshape(self.y_shape)
        a_shape, b_shape = self.inputs[0].data.shape, self.inputs[1].data.shape
        ga = gb = None
        if self.needs_grad(0):
            ga = unbroadcast(g @ self.xp.swapaxes(self.b, -1, -2), self.a.shape).reshape(a_shape)
        if self.needs_grad(1):
            gb = unbroadcast(self.xp.swapaxes(self.a, -1, -2) @ g, self.b.shape).reshape(b_shape)
        return ga, gb


def matmul(a, b):
    sa, sb = a.data.shape, b.data.shape
    if len(sa) == 0 or len(sb) == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes {sa} and "
                         f"{sb}; use * to multiply by a scalar")
    inner_a, inner_b = sa[-1], (sb[0] if len(sb) == 1 else sb[-2])
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: shapes {sa} and {sb} do not fit: the last dimension of the first ({inner_a}) "
            f"must equal the {'only' if len(sb) == 1 else 'second-to-last'} dimension of the "
            f"second ({inner_b})."
        )
    if len(sa) > 2 and len(sb) > 2:
        broadcast_shape("matmul (batch dimensions)", sa[:-2], sb[:-2])
    return MatMul.apply(a, b)


class Tril(Function):          # y = x where col - row <= k, else 0;  dy/dx = the same mask
    """Lower triangle of the last two dimensions: entries on and below the ``diagonal``-th
    diagonal (0 the main one, > 0 above it, < 0 below it). ``Triu`` keeps those on and above."""
    saved_inputs = ()               # a mask of its own
    upper = False

    def __init__(self, diagonal):
        self.diagonal = diagonal

    def forward(self, x):
        xp = self.xp
        offset = xp.arange(x.shape[-1])[None, :] - xp.arange(x.shape[-2])[:, None]
        self.keep = offset >= self.diagonal if self.upper else offset <= self.diagonal
        return xp.where(self.keep, x, xp.zeros((), dtype=x.dtype))

    def backward(self, g):
        return (self.xp.where(self.keep, g, self.xp.zeros((), dtype=g.dtype)),)


class Triu(Tril):              # y = x where col - row >= k, else 0;  dy/dx = the same mask
    upper = True


def triangle(x, diagonal, upper: bool):
    name = "triu" if upper else "tril"
    if x.data.ndim < 2:
        raise ShapeError(f"{name}: needs a tensor with at least 2 dimensions (it works on the "
                         f"last two), got shape {x.data.shape}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, numbers.Integral):
        raise TypeError(f"{name}: diagonal must be an int (0 the main diagonal, 1 the one above, "
                        f"-1 the one below), got {diagonal!r}")
    return (Triu if upper else Tril).apply(x, diagonal=int(diagonal))
