r"""The batch-norm kernel: replaces ``autodiff.nn.normalization.batch_norm`` in training mode
(the batch statistics computed with primitives).

Per channel c, over the n entries of that channel, with xhat = (x - mu) / sqrt(sigma^2 + eps),
y = gamma xhat + beta and g = dL/dy, every xhat_i depends on every x_j of its channel through mu
and sigma; working it out gives

    dL/dx_i = gamma inv_std (g_i - sum_j g_j / n - xhat_i sum_j g_j xhat_j / n),
    dL/dgamma = sum_i g_i xhat_i,      dL/dbeta = sum_i g_i,

so the two sums the backward needs anyway for gamma and beta also give dL/dx. The reference
gets the same numbers from the primitives' backward through mean, subtraction and sqrt.
"""
from __future__ import annotations

from ..function import Function
from . import threads


# elements per batch chunk on the CPU: each pass over a chunk stays in cache, and the chunks of
# a pass run on all cores (threads.py); 1 MB of float32 ran ResNet-20's batch norms ~15% faster
# than 512 KB (fewer hand-overs; these passes are bound by memory, not by the cores)
CHUNK_ELEMENTS = 1 << 18


class BatchNormFunction(Function):
    """Training-mode batch norm over the batch and spatial axes of an (N, C, ...) input: forward
    normalizes with the batch statistics (and updates ``running_mean`` / ``running_var`` in
    place when given); backward as in the module docstring. Inputs: x, then weight and bias
    when ``affine``.

    It works on x as (N, C, S) (S the spatial size), cut into batch chunks that run on all CPU
    cores, and streams x from memory as few times as it can: forward reads x once for the
    statistics (each chunk's mean and sum of squared deviations, combined exactly as Chan,
    Golub and LeVeque's parallel variance), once more to write y; it keeps only x itself (which
    the graph holds anyway) and recomputes x - mu chunk by chunk in backward. Per-chunk sums
    are added in chunk order, so the result does not depend on the number of threads."""

    def __init__(self, eps: float, momentum: float, running_mean, running_var):
        self.eps, self.momentum = eps, momentum
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x, weight=None, bias=None):
        xp = self.xp
        n_batch, channels = x.shape[:2]
        x3 = x.reshape(n_batch, channels, -1)                   # (N, C, S)
        n, size = x.size // channels, x3.shape[2]
        chunks = threads.batch_chunks(x, n_batch, x3[0].size, CHUNK_ELEMENTS)

        def stats(r):         # count, mean, sum of squared deviations: per channel, one chunk
            xc = x3[r[0]:r[1]]
            count = xc.shape[0] * xc.shape[2]
            m = _channel_sums(xp, xc) / count
            d = xc - _rows(xp, m, size)
            return count, m, _channel_dots(xp, d, d)
        parts = threads.map_chunks(stats, chunks)
        mean = sum(k * m for k, m, _ in parts) / n
        var = sum(s + k * (m - mean) ** 2 for k, m, s in parts) / n   # biased, for normalizing
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        self.x3, self.mean, self.inv_std, self.weight, self.n = x3, mean, inv_std, weight, n
        self.chunks = chunks
        if self.running_mean is not None:
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean
            self.running_var[...] = (1 - m) * self.running_var + (m * n / (n - 1)) * var
        scale = inv_std if weight is None else inv_std * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        y = xp.empty_like(x3)
        scale, shift = _rows(xp, scale, size), _rows(xp, shift, size)

        def normalize(r):     # y = (x - mu) gamma inv_std + beta = x scale + shift
            out = y[r[0]:r[1]]
            xp.multiply(x3[r[0]:r[1]], scale, out=out)
            out += shift
        threads.map_chunks(normalize, chunks)
        return y.reshape(x.shape)

    def backward(self, g):
        xp, n, inv_std, mean, x3 = self.xp, self.n, self.inv_std, self.mean, self.x3
        g3 = g.reshape(x3.shape)
        mean_rows = _rows(xp, mean, x3.shape[2])

        def sums(r):
            gc = g3[r[0]:r[1]]
            return _channel_sums(xp, gc), _channel_dots(xp, gc, x3[r[0]:r[1]] - mean_rows)
        parts = threads.map_chunks(sums, self.chunks)
        sum_g = sum(p[0] for p in parts)                            # dL/dbeta
        sum_g_xhat = sum(p[1] for p in parts) * inv_std             # dL/dgamma
        gx = None
        if self.needs_grad(0):
            # gx = scale (g - sum_g / n - xhat sum_g_xhat / n),  xhat = (x - mu) inv_std
            #    = g scale - x per_x + (mu per_x - scale sum_g / n)
            scale = inv_std if self.weight is None else inv_std * self.weight
            per_x = scale * inv_std * sum_g_xhat / n
            const = _rows(xp, mean * per_x - scale * sum_g / n, x3.shape[2])
            scale, per_x = _rows(xp, scale, x3.shape[2]), _rows(xp, per_x, x3.shape[2])
            gx = xp.empty_like(g3)

            def grad_x(r):
                out, xc = gx[r[0]:r[1]], x3[r[0]:r[1]]
                xp.multiply(g3[r[0]:r[1]], scale, out=out)
                out -= xc * per_x
                out += const
            threads.map_chunks(grad_x, self.chunks)
            gx = gx.reshape(g.shape)
        if self.weight is None:
            return (gx,)
        return (gx,
                sum_g_xhat if self.needs_grad(1) else None,
                sum_g if self.needs_grad(2) else None)


def _rows(xp, v, size):
    """(C, S): each channel's number v[c] repeated along its row. NumPy multiplies an (nb, C, S)
    chunk by this ~2.5x faster than by the broadcast column v[:, None] (its loop over a stride-0
    operand is not vectorized; measured on 8 x 16 x 1024 float32)."""
    return xp.ascontiguousarray(xp.broadcast_to(v[:, None], (v.shape[0], size)))


def _channel_sums(xp, a3):
    """Per channel, the sum of a3 (nb, C, S) over nb and S: one product with a vector of ones
    (BLAS sums rows several times faster than a NumPy reduction over two axes)."""
    nb, c, s = a3.shape
    return (a3.reshape(nb * c, s) @ xp.ones(s, dtype=a3.dtype)).reshape(nb, c).sum(axis=0)


def _channel_dots(xp, a3, b3):
    """Per channel, sum over nb and S of a3 * b3: a batch of dot products, one per (n, c) row."""
    nb, c, s = a3.shape
    rows = xp.matmul(a3.reshape(nb * c, 1, s), b3.reshape(nb * c, s, 1))
    return rows.reshape(nb, c).sum(axis=0)


def batch_norm(input, weight, bias, running_mean, running_var, momentum: float, eps: float):
    """The kernel's entry point (training mode; arguments checked by
    ``autodiff.nn.normalization.batch_norm``)."""
    params = dict(eps=eps, momentum=momentum, running_mean=running_mean, running_var=running_var)
    if weight is None:
        return BatchNormFunction.apply(input, **params)
    return BatchNormFunction.apply(input, weight, bias, **params)
