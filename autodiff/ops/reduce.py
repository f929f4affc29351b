"""Reductions. Backward puts the reduced axes back (size 1) and broadcasts the gradient over
them."""
from __future__ import annotations

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
