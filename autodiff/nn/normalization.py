"""Batch normalization and layer normalization (as ``torch.nn.BatchNorm1d/2d``, ``LayerNorm``).

Batch norm, per channel c, over the n = N * (spatial size) entries x_i of that channel:

    mu = (1/n) sum_i x_i,   sigma^2 = (1/n) sum_i (x_i - mu)^2          (biased, for normalizing)
    xhat_i = (x_i - mu) / sqrt(sigma^2 + eps),   y_i = gamma * xhat_i + beta

While training, the running statistics follow the batch ones with momentum m (PyTorch's
convention: m weighs the *new* value), the variance entering unbiased:

    running_mean <- (1 - m) running_mean + m mu
    running_var  <- (1 - m) running_var  + m sigma^2 * n / (n - 1)

In eval mode the running statistics replace mu and sigma^2, and y is an affine function of x.

Here every line is written with the engine's primitives (mean, subtraction, sqrt, ...), so the
backward through mu and sigma comes from their local derivatives. ``autodiff/kernels/
batch_norm.py`` computes the same in one node with a hand-derived backward (``ad.use_kernels``).
"""
from __future__ import annotations

from .. import backend
from ..errors import DeviceError, ShapeError
from ..kernels import kernels_enabled
from ..modes import no_grad
from ..tensor import Tensor, expect_tensor
from .module import Module, Parameter


def _channel_axes(ndim: int) -> tuple:
    """The axes a channel's statistics run over: the batch and every spatial axis."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(ndim: int, channels: int) -> tuple:
    """(1, C, 1, ...): per-channel vectors broadcast against an (N, C, ...) input."""
    return (1, channels) + (1,) * (ndim - 2)


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

    training=True: normalize with the batch statistics and, when running_mean/running_var
    arrays are given, update them in place. training=False: normalize with
    running_mean/running_var."""
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
        n = input.size // max(channels, 1)
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"of shape {input.shape}")
        rm, rv = _buffer(running_mean, input.data), _buffer(running_var, input.data)
        if kernels_enabled():
            from ..kernels.batch_norm import batch_norm as fused
            return fused(input, weight, bias, rm, rv, float(momentum), float(eps))
        axes, shape = _channel_axes(input.ndim), _channel_shape(input.ndim, channels)
        mean = input.mean(axis=axes, keepdims=True)                        # mu
        centered = input - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)        # sigma^2 (biased)
        if rm is not None:
            m = float(momentum)
            with no_grad():
                rm[...] = (1 - m) * rm + m * mean.data.reshape(channels)
                rv[...] = (1 - m) * rv + (m * n / (n - 1)) * var.data.reshape(channels)
        xhat = centered / (var + eps).sqrt()
        return xhat if weight is None else xhat * weight.reshape(shape) + bias.reshape(shape)
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
        counting = self.training and self.track_running_stats
        if counting and self.momentum is None:      # cumulative average, as PyTorch
            factor = 1.0 / (int(self.num_batches_tracked) + 1)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        out = batch_norm(input, self.running_mean if track else None,
                         self.running_var if track else None, self.weight, self.bias,
                         use_batch_stats, factor, self.eps)
        if counting:    # only a batch that went through counts (in place: it is a buffer)
            self.num_batches_tracked[...] += 1
        return out

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


__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "batch_norm", "layer_norm"]
