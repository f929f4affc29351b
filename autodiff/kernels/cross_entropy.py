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

Label smoothing eps and probability targets run in a node of their own (``SoftCrossEntropy``),
so the plain path above pays nothing for them. With w_i the target row (probabilities t_i, or
(1 - eps) onehot(t_i) + eps/C for an index; probabilities smoothed to (1 - eps) t_i + eps/C):

    loss_i = sum_c w_ic (log sum_c' exp(x_ic') - x_ic),   dloss_i/dx_i = p_i sum_c w_ic - w_i
    dloss_i/dt_ic = -(1 - eps) log p_ic                   (probability targets only)
"""
from __future__ import annotations

from ..function import Function
from . import threads


class _Reduced(Function):
    """The reduction shared by both nodes: per-row losses -> "none" / "sum" / "mean" over the
    counted rows (ignored rows zeroed), and backward's factor c per row for it."""

    def reduced(self, losses):
        if self.valid is not None:
            losses *= self.valid
        if self.reduction == "none":
            return losses
        total = losses.sum()
        if self.reduction == "sum":
            return total
        return total * (1.0 / self.count) if self.count else total * float("nan")

    def row_factor(self, g):
        if self.reduction == "none":
            c = g.reshape(-1, 1)
        elif self.reduction == "mean":
            c = g * (1.0 / self.count) if self.count else g * float("nan")
        else:
            c = g
        return c * self.valid[:, None] if self.valid is not None else c


class CrossEntropyFunction(_Reduced):
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
        # exp(z) and 1 / sum_c exp(z): softmax(x) = exp(z) / sum, all that backward needs; the
        # division waits for backward, which multiplies each row by a factor anyway (one pass
        # over the (N, C) array less: a language model's is 7 million numbers)
        self.exps = exps = xp.empty_like(x)
        self.inv_sums = xp.empty((n, 1), dtype=x.dtype)
        losses = xp.empty(n, dtype=x.dtype)

        def rows(r):                                  # a block of rows, in cache, on any core
            lo, hi = r
            e = exps[lo:hi]
            xp.subtract(x[lo:hi], x[lo:hi].max(axis=1, keepdims=True), out=e)   # z = x - max
            z_target = e[xp.arange(hi - lo), self.index[lo:hi]]
            xp.exp(e, out=e)
            sums = e.sum(axis=1)
            losses[lo:hi] = xp.log(sums) - z_target   # log sum exp(z) - z_t
            self.inv_sums[lo:hi, 0] = 1.0 / sums
        threads.map_chunks(rows, self.chunks)
        return self.reduced(losses)

    def backward(self, g):
        c = self.row_factor(g)
        xp = self.xp
        # exp(z) is needed no more once backward has run, unless the graph is kept for another
        # backward: then the gradient gets its own array
        grad = xp.empty_like(self.exps) if self.graph_kept else self.exps

        def rows(r):                                  # (softmax - onehot) * c, a block of rows
            lo, hi = r
            c_rows = c[lo:hi] if c.ndim else c
            # softmax * c = exp(z) * (c / sum): one multiplication by a factor per row
            xp.multiply(self.exps[lo:hi], self.inv_sums[lo:hi] * c_rows, out=grad[lo:hi])
            grad[lo:hi][xp.arange(hi - lo), self.index[lo:hi]] -= \
                c_rows.reshape(-1) if c.ndim else c
        threads.map_chunks(rows, self.chunks)
        return (grad,)


class SoftCrossEntropy(_Reduced):
    """Fused log-softmax + cross-entropy against soft targets: logits (N, C) and either class
    probabilities ``t`` (N, C) (a second input, which gets a gradient too) or class ``index``
    (N,) smoothed by ``eps``. Reduction and ignored rows as ``CrossEntropyFunction``."""

    saved_inputs = ()

    def __init__(self, index, valid, count: int, reduction: str, eps: float):
        self.index, self.valid, self.count, self.reduction = index, valid, count, reduction
        self.eps = eps

    def _targets(self, lo, hi, t, classes):
        """w for a block of rows: the smoothed probabilities (None for index targets)."""
        if t is None:
            return None
        return t[lo:hi] * (1.0 - self.eps) + self.eps / classes if self.eps else t[lo:hi]

    def forward(self, x, t=None):
        xp, (n, classes) = self.xp, x.shape
        self.t = t
        if t is not None:          # backward reads x and t for t's gradient
            self.saved_inputs = None
        self.chunks = threads.batch_chunks(x, n, classes, threads.SLICE_ELEMENTS)
        self.probs = probs = xp.empty_like(x)
        self.shift = xp.empty(n, dtype=x.dtype)      # log p = x - shift, for t's gradient
        losses = xp.empty(n, dtype=x.dtype)
        eps = self.eps

        def rows(r):
            lo, hi = r
            e = probs[lo:hi]
            top = x[lo:hi].max(axis=1, keepdims=True)
            xp.subtract(x[lo:hi], top, out=e)                                  # z = x - max
            w = self._targets(lo, hi, t, classes)
            if w is None:                                     # sum_c w_c z_c, sum_c w_c = 1
                wz = e[xp.arange(hi - lo), self.index[lo:hi]] * (1.0 - eps) \
                    + e.sum(axis=1) * (eps / classes)
                w_sum = 1.0
            else:
                wz, w_sum = (w * e).sum(axis=1), w.sum(axis=1)
            xp.exp(e, out=e)
            sums = e.sum(axis=1)
            log_sums = xp.log(sums)
            losses[lo:hi] = log_sums * w_sum - wz     # sum_c w_c (log sum exp(z) - z_c)
            self.shift[lo:hi] = top[:, 0] + log_sums
            e /= sums[:, None]
        threads.map_chunks(rows, self.chunks)
        return self.reduced(losses)

    def backward(self, g):
        c = self.row_factor(g)
        xp, t, eps = self.xp, self.t, self.eps
        n, classes = self.probs.shape
        c = xp.broadcast_to(c.reshape(-1, 1), (n, 1))          # one factor per row
        grad = xp.empty_like(self.probs) if self.graph_kept else self.probs
        want_t = t is not None and self.needs_grad(1)
        grad_t = xp.empty_like(t) if want_t else None
        x = self.inputs[0].data if want_t else None

        def rows(r):                                  # c (p sum_c w_c - w), a block of rows
            lo, hi = r
            c_rows = c[lo:hi]
            w = self._targets(lo, hi, t, classes)
            if w is None:
                xp.multiply(self.probs[lo:hi], c_rows, out=grad[lo:hi])
                grad[lo:hi] -= c_rows * (eps / classes)
                grad[lo:hi][xp.arange(hi - lo), self.index[lo:hi]] -= \
                    c_rows.reshape(-1) * (1.0 - eps)
            else:
                xp.multiply(self.probs[lo:hi], c_rows * w.sum(axis=1, keepdims=True),
                            out=grad[lo:hi])
                grad[lo:hi] -= c_rows * w
            if want_t:                                # -(1 - eps) c log p
                log_p = x[lo:hi] - self.shift[lo:hi, None]
                xp.multiply(log_p, c_rows * -(1.0 - eps), out=grad_t[lo:hi])
        threads.map_chunks(rows, self.chunks)
        return (grad,) if t is None else (grad, grad_t)


def soft_cross_entropy(logits, probs, index, valid, count: int, reduction: str, eps: float):
    """Entry point for label smoothing and probability targets: ``probs`` a (rows, C) tensor of
    class probabilities, or None and ``index`` as prepared by ``autodiff.nn.losses._Targets``."""
    inputs = (logits,) if probs is None else (logits, probs)
    return SoftCrossEntropy.apply(*inputs, index=index, valid=valid, count=count,
                                  reduction=reduction, eps=eps)


def cross_entropy(logits, index, valid, count: int, reduction: str):
    """The kernel's entry point: logits (rows, C) and the targets as prepared by
    ``autodiff.nn.losses._Targets``."""
    return CrossEntropyFunction.apply(logits, index=index, valid=valid, count=count,
                                      reduction=reduction)
