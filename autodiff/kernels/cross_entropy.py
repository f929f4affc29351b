r"""The cross-entropy kernel: replaces ``autodiff.nn.losses.cross_entropy`` (log-softmax, then
the negative log-likelihood of the targets, from primitives).

Of logits x (N, C) and targets t (N,), with p = softmax(x):

    loss_i = -log p_{i, t_i} = log sum_c exp(x_ic) - x_{i, t_i},   loss = (1/N) sum_i loss_i
    dloss/dx_ic = (p_ic - [c = t_i]) / N                              ("softmax minus one-hot")

One node: the forward computes a stable log-sum-exp (each row shifted by its maximum, so no
exponential overflows) and keeps the softmax it computed on the way; the backward is that
formula, one (N, C) array. The reference records log_softmax, indexing and a mean, and its
backward builds the same array in three steps.
"""
from __future__ import annotations

from ..function import Function


class CrossEntropyFunction(Function):
    """Fused log-softmax + negative log-likelihood on logits (N, C), targets ``index`` (N,).

    forward: z = x - max_c x, loss_i = log sum_c exp(z_ic) - z_{i, t_i}, reduced.
    backward: dL/dx = (softmax(x) - onehot(t)) * c, c = g / count ("mean"), g ("sum"), or
    g_i per row ("none"); rows whose target is ignored get c = 0."""

    def __init__(self, index, valid, count: int, reduction: str):
        self.index, self.valid, self.count, self.reduction = index, valid, count, reduction

    def forward(self, x):
        xp = self.xp
        self.rows = xp.arange(x.shape[0])
        e = x - x.max(axis=1, keepdims=True)
        z_target = e[self.rows, self.index]
        xp.exp(e, out=e)
        sums = e.sum(axis=1)
        losses = xp.log(sums) - z_target
        e /= sums[:, None]
        self.probs = e                       # softmax(x), all that backward needs
        if self.valid is not None:
            losses *= self.valid
        if self.reduction == "none":
            return losses
        total = losses.sum()
        if self.reduction == "sum":
            return total
        return total * (1.0 / self.count) if self.count else total * float("nan")

    def backward(self, g):
        if self.reduction == "none":
            c = g.reshape(-1, 1)
        elif self.reduction == "mean":
            c = g * (1.0 / self.count) if self.count else g * float("nan")
        else:
            c = g
        if self.valid is not None:
            c = c * self.valid[:, None]
        grad = self.probs * c
        grad[self.rows, self.index] -= c.reshape(-1) if c.ndim else c
        return (grad,)


def cross_entropy(logits, index, valid, count: int, reduction: str):
    """The kernel's entry point: logits (rows, C) and the targets as prepared by
    ``autodiff.nn.losses._Targets``."""
    return CrossEntropyFunction.apply(logits, index=index, valid=valid, count=count,
                                      reduction=reduction)
