"""The dropout kernel: replaces ``autodiff.nn.layers.dropout`` (``x * mask / (1 - p)``).

The reference multiplies by a float mask (a float32 array per dropout, kept for backward); this
node keeps the boolean mask only, a quarter of the memory, and scales in place.
"""
from __future__ import annotations

from ..function import Function


class DropoutFunction(Function):
    """y = x * m with m = keep / (1 - p), keep ~ Bernoulli(1 - p): E[y] = x, so nothing needs
    rescaling at evaluation time ("inverted" dropout). dL/dx = g * m."""

    saved_inputs = ()

    def __init__(self, keep, p: float):
        self.keep, self.p = keep, p

    def forward(self, x):
        # the boolean mask is all that is kept (a quarter of a float32 mask's memory)
        self.scale = 1.0 / (1.0 - self.p)
        y = x * self.keep
        y *= self.scale
        return y

    def backward(self, g):
        gx = g * self.keep
        gx *= self.scale
        return (gx,)


def dropout(input, keep, p: float):
    """The kernel's entry point: ``keep`` is the boolean mask ``autodiff.nn.layers.dropout``
    drew (the same draw on both paths)."""
    return DropoutFunction.apply(input, keep=keep, p=p)
