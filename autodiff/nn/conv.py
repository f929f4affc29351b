r"""2-d convolution (NCHW, PyTorch's cross-correlation) as im2col and one matrix product.

For an input x of shape (N, C, H, W), a weight w of shape (O, C, KH, KW), stride s, padding p:

    y[n, o, a, b] = bias[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, c, s*a + i, s*b + j]

with xpad the input padded by p zeros on each side, OH = (H + 2p - KH) // s + 1 (and so OW).

im2col ("unfold") turns this into one matrix product. Put every input patch in a column:

    cols[n, (c, i, j), (a, b)] = xpad[n, c, s*a + i, s*b + j]       shape (N, C*KH*KW, OH*OW)
    Y[n] = W @ cols[n],   W = w.reshape(O, C*KH*KW)                  shape (N, O, OH*OW)

``unfold`` is the one new primitive (``Unfold``): its forward copies the patches (a strided view
of xpad, no data moved, then one reshape that copies), and its backward, col2im, sends each column
entry back to the input pixel it was copied from. The rest is the engine's matmul, whose backward
gives the two other derivatives:

    dL/dW    = sum_n G[n] @ cols[n]^T         dL/dcols[n] = W^T @ G[n]

and dL/dx = col2im(dL/dcols). For a fixed kernel offset (i, j) the pixels that column rows
(c, i, j) came from form the strided slice xpad[:, :, i : i + s*OH : s, j : j + s*OW : s], so
col2im is KH*KW slice-additions.

This is the reference a student reads. ``autodiff/kernels/conv2d.py`` computes the same in one
fused node on all CPU cores (``ad.use_kernels`` picks the path).
"""
from __future__ import annotations

import math

from .. import backend
from ..errors import ShapeError
from ..function import Function
from ..kernels import kernels_enabled
from ..tensor import Tensor, expect_tensor
from . import init
from .module import Module, Parameter


def _pair(value, name: str, minimum: int) -> tuple:
    """An int or a pair of ints (as PyTorch accepts for kernel_size, stride, padding)."""
    pair = (value, value) if isinstance(value, int) else \
        tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in pair):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _pad(xp, x, ph: int, pw: int, value=0):
    """x (N, C, H, W) with ph rows and pw columns of ``value`` added on each side."""
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _windows(xp, xpad, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int):
    """A strided view (no copy) of every kh x kw window of xpad (N, C, Hp, Wp), with axes
    (N, C, KH, KW, OH, OW): entry [n, c, i, j, a, b] is xpad[n, c, sh*a + i, sw*b + j]."""
    s_n, s_c, s_h, s_w = xpad.strides
    shape = xpad.shape[:2] + (kh, kw, oh, ow)
    strides = (s_n, s_c, s_h, s_w, sh * s_h, sw * s_w)
    return xp.lib.stride_tricks.as_strided(xpad, shape=shape, strides=strides)


def _offset_slices(i: int, j: int, sh: int, sw: int, oh: int, ow: int) -> tuple:
    """The entries of the padded input that kernel offset (i, j) touches, one per output pixel."""
    return (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
            slice(j, j + sw * (ow - 1) + 1, sw))


class Unfold(Function):
    """cols = unfold(x): the KH x KW patches of x (N, C, H, W), padded by (ph, pw), as the
    columns of (N, C*KH*KW, OH*OW); backward is col2im (see the module docstring)."""

    saved_inputs = ()

    def __init__(self, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = x.shape
        self.oh, self.ow = _out_size(h, kh, sh, ph), _out_size(w, kw, sw, pw)
        view = _windows(self.xp, _pad(self.xp, x, ph, pw), kh, kw, sh, sw, self.oh, self.ow)
        return view.reshape(n, c * kh * kw, self.oh * self.ow)         # the one copy

    def backward(self, g):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = self.inputs[0].shape
        g6 = g.reshape(n, c, kh, kw, self.oh, self.ow)
        gpad = self.xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        for i in range(kh):                                             # col2im: KH*KW adds
            for j in range(kw):
                gpad[_offset_slices(i, j, sh, sw, self.oh, self.ow)] += g6[:, :, i, j]
        return (gpad[:, :, ph:ph + h, pw:pw + w],)


def unfold(input: Tensor, kernel_size, stride=1, padding=0) -> Tensor:
    """The patches of ``input`` (N, C, H, W) as columns: (N, C*KH*KW, OH*OW), in PyTorch's order
    (``torch.nn.functional.unfold``; dilation 1)."""
    expect_tensor(input, "unfold")
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    if input.ndim != 4:
        raise ShapeError(f"unfold: expected a 4-d input (N, C, H, W), got shape {input.shape}")
    hp, wp = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if hp < kernel[0] or wp < kernel[1]:
        raise ShapeError(f"unfold: the padded input is {hp}x{wp} but the kernel is "
                         f"{kernel[0]}x{kernel[1]} (input shape {input.shape})")
    return Unfold.apply(input, kernel_size=kernel, stride=stride, padding=padding)


def _check_conv_args(x, weight, bias, stride, padding, where: str):
    expect_tensor(x, f"{where} (input)")
    expect_tensor(weight, f"{where} (weight)")
    if weight.ndim != 4:
        raise ShapeError(f"{where}: weight must have shape (out_channels, in_channels, kh, kw), "
                         f"got {weight.shape}")
    o, c, kh, kw = weight.shape
    if x.ndim != 4:
        raise ShapeError(f"{where}: expected a 4-d input (N, C, H, W) with C={c}, got shape "
                         f"{x.shape}" + ("; add the batch dimension with x.unsqueeze(0)"
                                         if x.ndim == 3 else ""))
    if x.shape[1] != c:
        raise ShapeError(f"{where}: expected input with {c} channels (N, {c}, H, W), got shape "
                         f"{x.shape}")
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (o,)):
        raise ShapeError(f"{where}: bias must be a tensor of shape ({o},), got "
                         f"{getattr(bias, 'shape', type(bias).__name__)}")
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    hp, wp = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if hp < kh or wp < kw:
        raise ShapeError(f"{where}: the padded input is {hp}x{wp} but the kernel is {kh}x{kw}: "
                         f"the input of shape {x.shape} is too small (padding={padding})")
    return stride, padding


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """2-d convolution of x (N, C, H, W) with weight (O, C, KH, KW) and optional bias (O,):
    output (N, O, OH, OW), as ``torch.nn.functional.conv2d``. The kernel
    ``autodiff/kernels/conv2d.py`` when kernels are on, else unfold and one matrix product."""
    stride, padding = _check_conv_args(x, weight, bias, stride, padding, "conv2d")
    if kernels_enabled():
        from ..kernels.conv2d import conv2d as fused
        return fused(x, weight, bias, stride, padding)
    n, (o, c, kh, kw) = x.shape[0], weight.shape
    oh = _out_size(x.shape[2], kh, stride[0], padding[0])
    ow = _out_size(x.shape[3], kw, stride[1], padding[1])
    cols = unfold(x, (kh, kw), stride, padding)                 # (N, C*KH*KW, OH*OW)
    y = weight.reshape(o, c * kh * kw) @ cols                    # (N, O, OH*OW) = W cols[n]
    y = y.reshape(n, o, oh, ow)
    return y if bias is None else y + bias.reshape(1, o, 1, 1)


class Conv2d(Module):
    """A 2-d convolution layer, as ``torch.nn.Conv2d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, bias=True)``: weight (out, in, kh, kw), bias (out,).

    Initialization as PyTorch: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-b, b) with
    b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + 5)), so b = 1/sqrt(fan_in); bias ~
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = in_channels * kh * kw."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {v!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        shape = (out_channels, in_channels) + self.kernel_size
        self.weight = Parameter(backend.xp.zeros(shape, dtype="float32"))
        self.bias = Parameter(backend.xp.zeros((out_channels,), dtype="float32")) if bias \
            else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, then the bias (drawn
        in this order from the seeded generator)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        expect_tensor(x, repr(self))
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.in_channels}, H, W) "
                             f"({self.in_channels} channels), got {x.shape}")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + ("" if self.bias is not None else ", bias=False")


__all__ = ["Conv2d", "Unfold", "conv2d", "unfold"]
