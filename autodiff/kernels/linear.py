"""The linear-layer kernel: replaces ``autodiff.nn.layers.linear`` (``x @ W.T + b``).

Composed from primitives, ``x @ W.T + b`` records a transpose, a matmul and a broadcast add, and
for a (seq, batch, in) input the matmul's backward builds a (seq, in, out) array before summing it
over seq; here x is seen as one (rows, in) matrix and the three derivatives are one product each,
cut into blocks on all cores when large (``threads.matmul``): a language model's output layer is
its largest product.
"""
from __future__ import annotations

from ..function import Function
from . import threads


class LinearFunction(Function):
    """y = x W^T + b for x of shape (..., in), W (out, in), b (out,).

    With X the input seen as a matrix (rows, in) and G = dL/dY (rows, out):
        dL/dX = G W,    dL/dW = G^T X,    dL/db = sum over rows of G.
    """

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        X = x.reshape(-1, x.shape[-1])               # (rows, in): one product, not a batch loop
        y = threads.matmul(X, weight.T, add=bias)    # Y = X W^T + b
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, g):
        G = g.reshape(-1, g.shape[-1])               # (rows, out)
        gx = gw = gb = None
        if self.needs_grad(0):
            gx = threads.matmul(G, self.weight).reshape(self.x.shape)            # G W
        if self.needs_grad(1):
            gw = threads.matmul(G.T, self.x.reshape(-1, self.x.shape[-1]))       # G^T X
        if len(self.inputs) > 2 and self.needs_grad(2):
            ones = self.xp.ones((1, G.shape[0]), dtype=G.dtype)
            gb = threads.matmul(ones, G).reshape(-1)                            # sum of G's rows
        return gx, gw, gb


def linear(input, weight, bias):
    """The kernel's entry point (arguments checked by ``autodiff.nn.layers.linear``)."""
    if bias is None:
        return LinearFunction.apply(input, weight)
    return LinearFunction.apply(input, weight, bias)
