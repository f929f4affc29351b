"""Batch normalization and layer normalization (as ``torch.nn.BatchNorm1d/2d``, ``LayerNorm``).

Batch norm, per channel c, over the n = N * (spatial size) entries x_i of that channel:

    mu = (1/n) sum_i x_i,   sigma^2 = (1/n) sum_i (x_i - mu)^2          (biased, for normalizing)
    xhat_i = (x_i - mu) / sqrt(sigma^2 + eps),   y_i = gamma * xhat_i + beta

While training, the running statistics follow the batch ones with momentum m (PyTorch's
convention: m weighs the *new* value), the variance entering unbiased:

    running_mean <- (1 - m) running_mean + m mu
    running_var  <- (1 - m) running_var  + m sigma^2 * n / (n - 1)

In eval mode the running statistics replace mu and sigma^2, and y is an affine function of x.

The training forward is one fused ``Function`` whose backward is derived by hand. With
g = dL/dy and dxhat = gamma * g, every xhat_i depends on every x_j of its channel through mu and
sigma, which gives

    dL/dx_i = (1/n) inv_std (n dxhat_i - sum_j dxhat_j - xhat_i sum_j dxhat_j xhat_j)
            = gamma inv_std (g_i - sum_j g_j / n - xhat_i sum_j g_j xhat_j / n),
    dL/dgamma = sum_i g_i xhat_i,      dL/dbeta = sum_i g_i,

so the two sums the backward needs anyway for gamma and beta also give dL/dx.
``batch_norm_composite`` is the same computation written with primitives, for teaching and for
checking the fused one.
"""
from __future__ import annotations

from .. import backend, threads
from ..errors import DeviceError, ShapeError
from ..function import Function
from ..tensor import Tensor, expect_tensor
from .module import Module, Parameter


def _channel_axes(ndim: int) -> tuple:
    """The axes a channel's statistics run over: the batch and every spatial axis."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(ndim: int, channels: int) -> tuple:
    """(1, C, 1, ...): per-channel vectors broadcast against an (N, C, ...) input."""
    return (1, channels) + (1,) * (ndim - 2)


# elements per batch chunk on the CPU: each pass over a chunk stays in cache, and the chunks of
# a pass run on all cores (autodiff.threads)
CHUNK_ELEMENTS = 1 << 17


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

    def forward(self, x, weight=None, bias=None):
        xp = self.xp
        n_batch, channels = x.shape[:2]
        x3 = x.reshape(n_batch, channels, -1)                   # (N, C, S)
        n = x.size // channels
        chunks = threads.batch_chunks(x, n_batch, x3[0].size, CHUNK_ELEMENTS)

        def stats(r):         # count, mean, sum of squared deviations: per channel, one chunk
            xc = x3[r[0]:r[1]]
            count = xc.shape[0] * xc.shape[2]
            m = xc.sum(axis=(0, 2)) / count
            d = xc - m[:, None]
            return count, m, xp.einsum("ncs,ncs->nc", d, d).sum(axis=0)
        parts = threads.map_chunks(stats, chunks, blas=False)
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
        y = xp.empty_like(x3)

        def normalize(r):     # y = (x - mu) * gamma inv_std + beta
            out = y[r[0]:r[1]]
            xp.subtract(x3[r[0]:r[1]], mean[:, None], out=out)
            out *= scale[:, None]
            if bias is not None:
                out += bias[:, None]
        threads.map_chunks(normalize, chunks, blas=False)
        return y.reshape(x.shape)

    def backward(self, g):
        xp, n, inv_std, mean, x3 = self.xp, self.n, self.inv_std, self.mean, self.x3
        g3 = g.reshape(x3.shape)

        def sums(r):
            gc = g3[r[0]:r[1]]
            centered = x3[r[0]:r[1]] - mean[:, None]
            return gc.sum(axis=(0, 2)), xp.einsum("ncs,ncs->nc", gc, centered).sum(axis=0)
        parts = threads.map_chunks(sums, self.chunks, blas=False)
        sum_g = sum(p[0] for p in parts)                            # dL/dbeta
        sum_g_xhat = sum(p[1] for p in parts) * inv_std             # dL/dgamma
        gx = None
        if self.needs_grad(0):
            # gx = scale (g - sum_g / n - xhat sum_g_xhat / n),  xhat = (x - mu) inv_std
            scale = inv_std if self.weight is None else inv_std * self.weight
            per_centered = (scale * inv_std * sum_g_xhat / n)[:, None]
            offset = (scale * sum_g / n)[:, None]
            gx = xp.empty_like(g3)

            def grad_x(r):
                out = gx[r[0]:r[1]]
                xp.subtract(x3[r[0]:r[1]], mean[:, None], out=out)
                out *= -per_centered
                out += g3[r[0]:r[1]] * scale[:, None]
                out -= offset
            threads.map_chunks(grad_x, self.chunks, blas=False)
            gx = gx.reshape(g.shape)
        if self.weight is None:
            return (gx,)
        return (gx,
                sum_g_xhat if self.needs_grad(1) else None,
                sum_g if self.needs_grad(2) else None)


def _buffer(value, like):
    """A running-statistics argument (array, Tensor or None) as an array on ``like``'s backend."""
    if value is None:
        return None
    arr = value.data if isinstance(value, Tensor) else value
    if backend.backend_of(arr) is not backend.backend_of(like):
        raise DeviceError("batch_norm: running statistics must live on the input's backend "
                          f"({backend.backend_of(like).name}); move them with "
                          f"autodiff.backend.asarray")
    return arr


def batch_norm(input: Tensor, running_mean=None, running_var=None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch norm of an (N, C, ...) input (``torch.nn.functional.batch_norm``).

    training=True: normalize with the batch statistics (fused forward and backward) and, when
    running_mean/running_var arrays are given, update them in place. training=False: normalize
    with running_mean/running_var."""
    if expect_tensor(input, "batch_norm").ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C, ...), got {input.shape}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ShapeError(f"batch_norm: {name} has shape {tuple(t.shape)} but the input of "
                             f"shape {input.shape} has {channels} channels (dimension 1)")
    if weight is not None and bias is None:
        bias = Tensor._make(backend.array_module(input.data).zeros_like(weight.data))
    if bias is not None and weight is None:
        weight = Tensor._make(backend.array_module(input.data).ones_like(bias.data))
    if training:
        if input.size // max(channels, 1) <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"of shape {input.shape}")
        params = dict(eps=float(eps), momentum=float(momentum),
                      running_mean=_buffer(running_mean, input.data),
                      running_var=_buffer(running_var, input.data))
        if weight is None:
            return BatchNormFunction.apply(input, **params)
        return BatchNormFunction.apply(input, weight, bias, **params)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when "
                         "training=False")
    # y = x * scale + shift with scale = gamma / sqrt(running_var + eps) and
    # shift = beta - running_mean * scale: two elementwise passes over x, gradients by the ops
    xp = backend.array_module(input.data)
    mean, var = _buffer(running_mean, input.data), _buffer(running_var, input.data)
    inv_std = 1.0 / xp.sqrt(var + eps)
    scale = Tensor._make(inv_std) if weight is None else weight * Tensor._make(inv_std)
    shift = -(Tensor._make(mean) * scale) if bias is None else bias - Tensor._make(mean) * scale
    shape = _channel_shape(input.ndim, channels)
    return input * scale.reshape(shape) + shift.reshape(shape)


def batch_norm_composite(x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None,
                         eps: float = 1e-5) -> Tensor:
    """Training-mode batch norm from primitives (mean, subtraction, sqrt, ...): the same values
    and, through the primitives' backward, the same gradients as the fused version."""
    axes = _channel_axes(x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)    # biased, as for normalizing
    xhat = centered / (var + eps).sqrt()
    shape = _channel_shape(x.ndim, x.shape[1])
    y = xhat if weight is None else xhat * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d: parameters ``weight`` (gamma, ones) and ``bias``
    (beta, zeros), buffers ``running_mean`` (zeros), ``running_var`` (ones) and
    ``num_batches_tracked``, all as PyTorch (so state dicts carry over)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        xp = backend.xp
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(xp.ones((num_features,), dtype="float32"))
            self.bias = Parameter(xp.zeros((num_features,), dtype="float32"))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", xp.zeros((num_features,), dtype="float32"))
            self.register_buffer("running_var", xp.ones((num_features,), dtype="float32"))
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype="int64"))
        else:  # PyTorch registers None buffers, which its state dict skips: so do we, by omission
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    input_ndims: tuple = ()   # the input ranks a subclass accepts
    input_layout = ""

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self.input_ndims:
            ranks = " or ".join(f"{n}D" for n in self.input_ndims)
            raise ShapeError(f"{type(self).__name__}: expected {ranks} input "
                             f"{self.input_layout}, got {input.ndim}D input of shape "
                             f"{input.shape}")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(expect_tensor(input, type(self).__name__))
        if input.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}({self.num_features}): the input of shape "
                             f"{input.shape} has {input.shape[1]} channels (dimension 1), "
                             f"expected {self.num_features}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            # in place: assigning the attribute would replace the registered buffer
            self.num_batches_tracked[...] += 1
            if self.momentum is None:  # cumulative average, as PyTorch
                factor = 1.0 / int(self.num_batches_tracked)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of an (N, C) or (N, C, L) input, statistics per channel C."""

    input_ndims, input_layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm of an (N, C, H, W) input, statistics per channel C over N, H and W."""

    input_ndims, input_layout = (4,), "(N, C, H, W)"


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last len(normalized_shape) dimensions, per sample:
    y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance; as
    ``torch.nn.functional.layer_norm``). Written with primitives."""
    expect_tensor(input, "layer_norm")
    normalized_shape = _as_shape(normalized_shape)
    k = len(normalized_shape)
    if input.ndim < k or input.shape[input.ndim - k:] != normalized_shape:
        raise ShapeError(f"layer_norm: the input of shape {input.shape} does not end in the "
                         f"normalized shape {normalized_shape}")
    axes = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(axis=axes, keepdims=True)
    centered = input - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    y = centered / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _as_shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)


class LayerNorm(Module):
    """Layer norm over the trailing ``normalized_shape`` dimensions; ``weight`` (ones) and
    ``bias`` (zeros) of that shape when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        xp = backend.xp
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = Parameter(xp.ones(self.normalized_shape, dtype="float32")) \
            if elementwise_affine else None
        self.bias = Parameter(xp.zeros(self.normalized_shape, dtype="float32")) \
            if elementwise_affine and bias else None

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "batch_norm", "batch_norm_composite",
           "layer_norm", "BatchNormFunction"]
