"""The ReLU kernel: replaces ``autodiff.nn.layers.relu`` (the primitive ``Tensor.relu``).

A ResNet applies ReLU to every activation; one core alone cannot stream them as fast as all
cores together, so the work is cut in slices that run on every core (``threads.slices``).
"""
from __future__ import annotations

from ..function import Function
from . import threads


class ReLUKernel(Function):    # y = max(x, 0);  dy/dx = 1 where x > 0, else 0
    saved_inputs = ()

    def forward(self, x):
        xp, flat = self.xp, x.reshape(-1)
        y, self.mask = xp.empty_like(flat), xp.empty(flat.shape, dtype=bool)

        def part(s):
            xp.greater(flat[s], 0, out=self.mask[s])
            xp.maximum(flat[s], 0, out=y[s])
        threads.slices(part, flat)
        return y.reshape(x.shape)

    def backward(self, g):
        flat, gx = g.reshape(-1), self.xp.empty(g.size, dtype=g.dtype)

        def part(s):
            self.xp.multiply(flat[s], self.mask[s], out=gx[s])   # g * 1[x > 0]
        threads.slices(part, flat)
        return (gx.reshape(g.shape),)

    def op_name(self) -> str:
        return "relu"


def relu(input):
    return ReLUKernel.apply(input)
