"""Softmax and log-softmax along one axis, stable for logits of any size.

With z = x - max(x) (which changes nothing, softmax is shift-invariant) no exponential overflows:
    log_softmax(x) = z - log(sum(exp(z))),    softmax(x) = exp(z) / sum(exp(z)).
Local derivatives, with s = softmax(x):
    log_softmax:  dL/dx = g - s * sum(g)          softmax:  dL/dx = s * (g - sum(g * s))
"""
from __future__ import annotations

from ..function import Function


class _AlongAxis(Function):
    saved_inputs = ()               # their own outputs

    def __init__(self, axis):
        self.axis = axis


class LogSoftmax(_AlongAxis):
    def forward(self, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        self.y = z - self.xp.log(self.xp.exp(z).sum(axis=self.axis, keepdims=True))
        return self.y

    def backward(self, g):
        return (g - self.xp.exp(self.y) * g.sum(axis=self.axis, keepdims=True),)


class Softmax(_AlongAxis):
    def forward(self, x):
        e = self.xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, g):
        return (self.y * (g - (g * self.y).sum(axis=self.axis, keepdims=True)),)
