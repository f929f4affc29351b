"""The ReLU kernel: replaces ``autodiff.nn.layers.relu`` (the primitive ``Tensor.relu``).

A ResNet applies ReLU to every activation; one core alone cannot stream them as fast as all
cores together, so the work is cut in slices that run on every core (``threads.slices``).
Each slice takes max(x, 0) against an array of zeros, not the number 0: NumPy's maximum with
a scalar operand runs ~3x slower than with two arrays (measured on 2**18 float32, NumPy 2.x).
"""
from __future__ import annotations

from ..function import Function
from . import threads


class ReLUKernel(Function):    # y = max(x, 0);  dy/dx = 1 where x > 0, else 0
    saved_inputs = ()

    def forward(self, x):
        xp, flat = self.xp, x.reshape(-1)
        y, self.mask = xp.empty_like(flat), xp.empty(flat.shape, dtype=bool)
        zeros = _zeros(xp, flat.dtype)

        def part(s):
            n = s.stop - s.start
            xp.greater(flat[s], 0, out=self.mask[s])
            # a GPU takes the whole array as one slice, and the number 0 as fast as an array
            xp.maximum(flat[s], zeros[:n] if n <= zeros.size else 0, out=y[s])
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


_ZEROS: dict = {}


def _zeros(xp, dtype):
    """A slice's worth of zeros of ``dtype`` in ``xp``, kept from call to call (only read)."""
    key = (xp.__name__, dtype)
    if key not in _ZEROS:
        _ZEROS[key] = xp.zeros(threads.SLICE_ELEMENTS, dtype=dtype)
    return _ZEROS[key]


def relu(input):
    return ReLUKernel.apply(input)
