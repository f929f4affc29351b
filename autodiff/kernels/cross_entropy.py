r"""The cross-entropy kernel: replaces ``autodiff.nn.losses.cross_entropy`` (log-softmax, then
the negative log-likelihood of the targets, from primitives).

Of logits x (N, C) and targets t (N,), with p = softmax(x):

    loss_i = -log p_{i, t_i} = log sum_c exp(x_ic) - x_{i, t_i},   loss = (1/N) sum_i loss_i
    dloss/dx_ic = (p_ic - [c = t_i]) / N                              ("softmax minus one-hot")

One node: the forward computes a stable log-sum-exp (each row shifted by its maximum, so no
exponential overflows) and keeps the softmax it computed on the way; the backward is that
formula, one (N, C) array. Both run on blocks of rows that stay in cache, on all cores: a
language model's 10,000-word softmax over 700 positions is 7 million exponentials. The reference
records log_softmax, indexing and a mean, and its backward builds the same array in three
steps.
"""
from __future__ import annotations

from ..function import Function
from . import threads


class CrossEntropyFunction(Function):
    """Fused log-softmax + negative log-likelihood on logits (N, C), targets ``index`` (N,).

    forward: z = x - max_c x, loss_i = log sum_c exp(z_ic) - z_{i, t_i}, reduced.
    backward: dL/dx = (softmax(x) - onehot(t)) * c, c = g / count ("mean"), g ("sum"), or
    g_i per row ("none"); rows whose target is ignored get c = 0."""

    saved_inputs = ()

    def __init__(self, index, valid, count: int, reduction: str):
        self.index, self.valid, self.count, self.reduction = index, valid, count, reduction

    def forward(self, x):
        xp, (n, classes) = self.xp, x.shape
        self.chunks = threads.batch_chunks(x, n, classes, threads.SLICE_ELEMENTS)
        self.probs = probs = xp.empty_like(x)         # softmax(x), all that backward needs
        losses = xp.empty(n, dtype=x.dtype)

        def rows(r):                                  # a block of rows, in cache, on any core
            lo, hi = r
            e = probs[lo:hi]
            xp.subtract(x[lo:hi], x[lo:hi].max(axis=1, keepdims=True), out=e)   # z = x - max
            z_target = e[xp.arange(hi - lo), self.index[lo:hi]]
            xp.exp(e, out=e)
            sums = e.sum(axis=1)
            losses[lo:hi] = xp.log(sums) - z_target   # log sum exp(z) - z_t
            e /= sums[:, None]
        threads.map_chunks(rows, self.chunks)
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
        xp = self.xp
        # the softmax is needed no more once backward has run, unless the graph is kept for
        # another backward: then the gradient gets its own array
        grad = xp.empty_like(self.probs) if self.graph_kept else self.probs

        def rows(r):                                  # (softmax - onehot) * c, a block of rows
            lo, hi = r
            c_rows = c[lo:hi] if c.ndim else c
            xp.multiply(self.probs[lo:hi], c_rows, out=grad[lo:hi])
            grad[lo:hi][xp.arange(hi - lo), self.index[lo:hi]] -= \
                c_rows.reshape(-1) if c.ndim else c
        threads.map_chunks(rows, self.chunks)
        return (grad,)


def cross_entropy(logits, index, valid, count: int, reduction: str):
    """The kernel's entry point: logits (rows, C) and the targets as prepared by
    ``autodiff.nn.losses._Targets``."""
    return CrossEntropyFunction.apply(logits, index=index, valid=valid, count=count,
                                      reduction=reduction)
