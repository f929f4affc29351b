"""Reductions. Backward puts the reduced axes back (size 1) and broadcasts the gradient over
them."""
from __future__ import annotations

from .. import backend
from ..function import Function
from ._util import expand_reduced, reduced_count, reduced_shape


class _Reduction(Function):
    """Parameters: ``axis`` (None: every axis; else a sorted tuple) and ``keepdims``."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims


class Sum(_Reduction):         # y = sum_i x_i;  dy/dx_i = 1
    saved_inputs = ()

    def forward(self, x):
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        shape = self.inputs[0].data.shape
        g = expand_reduced(g, shape, self.axis, self.keepdims)
        return (self.xp.broadcast_to(g, shape),)


class Mean(_Reduction):        # y = (1/n) sum_i x_i;  dy/dx_i = 1/n
    saved_inputs = ()

    def forward(self, x):
        self.count = max(1, reduced_count(x.shape, self.axis))
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        shape = self.inputs[0].data.shape
        g = expand_reduced(g, shape, self.axis, self.keepdims) / self.count
        return (self.xp.broadcast_to(g, shape),)


class Max(_Reduction):         # y = max_i x_i;  dy/dx_i = 1 at the maximum (shared evenly by ties)
    pick = "max"

    def forward(self, x):
        self.x = x
        self.y = getattr(x, self.pick)(axis=self.axis, keepdims=True)
        return self.y if self.keepdims else self.y.reshape(reduced_shape(x.shape, self.axis))

    def backward(self, g):
        shape = self.inputs[0].data.shape
        g = expand_reduced(g, shape, self.axis, self.keepdims)
        winners = (self.x == self.y).astype(g.dtype)
        return (g * winners / winners.sum(axis=self.axis, keepdims=True),)


class Min(Max):                # y = min_i x_i;  dy/dx_i = 1 at the minimum (shared evenly by ties)
    pick = "min"


class Var(_Reduction):         # y = sum_i (x_i - m)^2 / (n - c);  dy/dx_i = 2 (x_i - m) / (n - c)
    """``correction`` c: 0 the population variance, 1 the sample variance (Bessel). With n <= c
    there is no estimate: the value is nan, as in PyTorch."""
    saved_inputs = ()               # the centred values, kept by forward

    def __init__(self, axis, keepdims, correction):
        super().__init__(axis, keepdims)
        self.correction = correction

    def forward(self, x):
        n = reduced_count(x.shape, self.axis)
        if n == 0:                  # NumPy's mean of nothing warns; the answer is nan anyway
            self.centred = x
            return self.xp.full(self._out_shape(x.shape), self.xp.nan, dtype=x.dtype)
        self.centred = x - x.mean(axis=self.axis, keepdims=True)
        # a non-positive denominator multiplies by nan instead of dividing by zero (no warning)
        self.scale = 1.0 / (n - self.correction) if n > self.correction else float("nan")
        sq = self.centred * self.centred
        return sq.sum(axis=self.axis, keepdims=self.keepdims) * self.scale

    def _out_shape(self, shape):
        if not self.keepdims:
            return reduced_shape(shape, self.axis)
        return tuple(1 if self.axis is None or i in self.axis else n for i, n in enumerate(shape))

    def backward(self, g):
        if self.centred.size == 0:
            return (self.centred,)
        g = expand_reduced(g, self.centred.shape, self.axis, self.keepdims)
        return (g * (2 * self.scale) * self.centred,)


class Std(Var):                # y = sqrt(var x);  dy/dx = dvar/dx / (2y)  (0 where y = 0)
    def forward(self, x):
        self.y = self.xp.sqrt(super().forward(x))
        return self.y

    def backward(self, g):
        if self.centred.size == 0:
            return (self.centred,)
        zero = self.y == 0          # a constant row: PyTorch's subgradient 0, not 0/0 = nan
        g = self.xp.where(zero, 0, g) / (2 * self.xp.where(zero, 1, self.y))
        return super().backward(g)


class CumSum(Function):        # y_k = sum_{i<=k} x_i;  dL/dx_i = sum_{k>=i} g_k (reversed cumsum)
    saved_inputs = ()

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        if x.ndim == 0:
            return x.copy()
        return self.xp.cumsum(x, axis=self.axis)

    def backward(self, g):
        if g.ndim == 0:
            return (g,)
        flip = self.xp.flip
        return (flip(self.xp.cumsum(flip(g, axis=self.axis), axis=self.axis), axis=self.axis),)


class LogSumExp(_Reduction):   # y = log sum_i e^x_i;  dy/dx_i = e^(x_i - y) = softmax(x)_i
    """Stable: with m = max x (0 when it is infinite), y = m + log sum e^(x - m)."""

    def forward(self, x):
        xp = self.xp
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or an inf) must not give inf - inf = nan
        s = xp.exp(x - m).sum(axis=self.axis, keepdims=True)
        # log 0 = -inf for an all -inf row, without NumPy's divide-by-zero warning
        y = xp.where(s > 0, xp.log(xp.where(s > 0, s, 1)), -xp.inf) + m
        self.x, self.y = x, y
        return y if self.keepdims else y.reshape(reduced_shape(x.shape, self.axis))

    def backward(self, g):
        xp = self.xp
        g = expand_reduced(g, self.x.shape, self.axis, self.keepdims)
        y = xp.where(self.y == -xp.inf, 0, self.y)  # an all -inf row is constant: gradient 0
        return (g * xp.exp(self.x - y),)


def arg_reduce(x, pick: str, axis, keepdims: bool):
    """The int64 index of the max (``pick="argmax"``) or min along ``axis`` (None: of the
    flattened array); ties give the first index, as PyTorch. No gradient: an index is a step
    function of x."""
    xp = backend.array_module(x)
    if x.ndim == 0:
        return xp.zeros((), dtype="int64")
    out = getattr(xp, pick)(x, axis=axis).astype("int64")
    if keepdims:
        out = out.reshape((1,) * x.ndim if axis is None else
                          x.shape[:axis] + (1,) + x.shape[axis + 1:])
    return xp.asarray(out)
