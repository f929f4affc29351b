"""2-d pooling on NCHW tensors: max, average, and global (adaptive to 1x1) average.

A window of size KH x KW slides with stride s over the input padded by p on each side; output
pixel (a, b) summarizes xpad[:, :, s*a : s*a + KH, s*b : s*b + KW], OH = (H + 2p - KH) // s + 1.

    max pool:  y = max of the window;  dy/dx = 1 at the (first) largest entry, 0 elsewhere,
               so backward routes each output gradient to the argmax of its window. Ties go to
               the first maximum in row-major window order, as in PyTorch; padding is -inf.
    avg pool:  y = sum of the window / KH*KW  (count_include_pad=True, PyTorch's default, counts
               padded zeros; False divides by the number of real pixels in the window);
               dy/dx = 1/divisor for every pixel of the window.

Both backward passes add the gradient back window offset by window offset: for a kernel offset
(i, j), the pixels xpad[:, :, i + s*a, j + s*b] over all (a, b) are one strided slice, so the
whole scatter is KH*KW slice-additions (no per-element loop).
"""
from __future__ import annotations

from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor, expect_tensor
from .conv import _offset_slices, _out_size, _pad, _pair, _windows
from .module import Module


def _pool_args(x, kernel_size, stride, padding, where: str):
    expect_tensor(x, where)
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    if x.ndim != 4:
        raise ShapeError(f"{where}: expected a 4-d input (N, C, H, W), got shape {x.shape}"
                         + ("; add the batch dimension with x.unsqueeze(0)" if x.ndim == 3
                            else ""))
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{where}: padding {padding} must be at most half the kernel size "
                         f"{kernel} (as in PyTorch)")
    hp, wp = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if hp < kernel[0] or wp < kernel[1]:
        raise ShapeError(f"{where}: the window {kernel[0]}x{kernel[1]} is larger than the padded "
                         f"input {hp}x{wp} (input shape {x.shape}, padding {padding})")
    return kernel, stride, padding


class _Pool2d(Function):
    """Shared geometry; parameters kernel_size, stride, padding (pairs)."""

    saved_inputs = ()          # max pooling keeps the position of each maximum, not x

    def __init__(self, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def _geometry(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = x.shape[2:]
        self.in_shape = x.shape
        self.oh, self.ow = _out_size(h, kh, sh, ph), _out_size(w, kw, sw, pw)
        return kh, kw, sh, sw, ph, pw

    def _scatter(self, per_offset):
        """dL/dx from the gradient each kernel offset k = i*KW + j sends back: KH*KW
        strided slice-additions into a padded zero array, then the padding cut off."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        n, c, h, w = self.in_shape
        gpad = None
        for i in range(kh):
            for j in range(kw):
                part = per_offset(i * kw + j)
                if gpad is None:
                    gpad = self.xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=part.dtype)
                gpad[_offset_slices(i, j, sh, sw, self.oh, self.ow)] += part
        return gpad[:, :, ph:ph + h, pw:pw + w] if ph or pw else gpad


class MaxPool2dFunction(_Pool2d):
    def forward(self, x):
        xp = self.xp
        kh, kw, sh, sw, ph, pw = self._geometry(x)
        fill = float("-inf") if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        xpad = _pad(xp, x, ph, pw, value=fill)
        n, c = x.shape[:2]
        windows = _windows(xp, xpad, kh, kw, sh, sw, self.oh, self.ow)  # (N, C, KH, KW, OH, OW)
        windows = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c, self.oh, self.ow, kh * kw)
        self.arg = windows.argmax(axis=-1)                              # first maximum
        return xp.take_along_axis(windows, self.arg[..., None], axis=-1)[..., 0]

    def backward(self, g):
        return (self._scatter(lambda k: g * (self.arg == k)),)

    def op_name(self) -> str:
        return "max_pool2d"


class AvgPool2dFunction(_Pool2d):
    def __init__(self, kernel_size, stride, padding, count_include_pad: bool):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad
    def forward(self, x):
        xp = self.xp
        kh, kw, sh, sw, ph, pw = self._geometry(x)
        xpad = _pad(xp, x, ph, pw)
        total = None
        for i in range(kh):
            for j in range(kw):
                part = xpad[_offset_slices(i, j, sh, sw, self.oh, self.ow)]
                if total is None:
                    total = part.copy()
                else:
                    total += part
        if self.count_include_pad or (ph == 0 and pw == 0):
            self.divisor = kh * kw
        else:                       # real pixels per window: the same pooling of a ones image
            ones = _pad(xp, xp.ones((1, 1) + x.shape[2:], dtype=x.dtype), ph, pw)
            self.divisor = sum(ones[_offset_slices(i, j, sh, sw, self.oh, self.ow)]
                               for i in range(kh) for j in range(kw))
        return total / self.divisor

    def backward(self, g):
        share = g / self.divisor
        return (self._scatter(lambda k: share),)

    def op_name(self) -> str:
        return "avg_pool2d"


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Max over KH x KW windows of x (N, C, H, W); stride defaults to kernel_size."""
    kernel, stride, padding = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    return MaxPool2dFunction.apply(x, kernel_size=kernel, stride=stride, padding=padding)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> Tensor:
    """Mean over KH x KW windows of x (N, C, H, W); stride defaults to kernel_size."""
    kernel, stride, padding = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2dFunction.apply(x, kernel_size=kernel, stride=stride, padding=padding,
                                   count_include_pad=bool(count_include_pad))


def adaptive_avg_pool2d(x: Tensor, output_size=1) -> Tensor:
    """Average pooling to an output of ``output_size`` (N, C, oh, ow). Output 1 (the global
    average, shape (N, C, 1, 1)) works for any input; a larger size needs H and W divisible by
    it (then it is avg_pool2d with kernel = stride = input / output)."""
    oh, ow = _pair(output_size, "output_size", 1)
    if expect_tensor(x, "adaptive_avg_pool2d").ndim != 4:
        raise ShapeError(f"adaptive_avg_pool2d: expected a 4-d input (N, C, H, W), got "
                         f"{x.shape}")
    if (oh, ow) == (1, 1):
        return x.mean(axis=(2, 3), keepdims=True)
    h, w = x.shape[2:]
    if h % oh or w % ow:
        raise ShapeError(
            f"adaptive_avg_pool2d: output size {(oh, ow)} must divide the input size {(h, w)} "
            f"here (uneven adaptive windows are not implemented); use output_size=1 or "
            f"avg_pool2d")
    return avg_pool2d(x, (h // oh, w // ow))


def global_avg_pool2d(x: Tensor) -> Tensor:
    """The mean over H and W of x (N, C, H, W): shape (N, C) (adaptive_avg_pool2d(x, 1) then
    flatten, as at the end of a ResNet)."""
    if expect_tensor(x, "global_avg_pool2d").ndim != 4:
        raise ShapeError(f"global_avg_pool2d: expected a 4-d input (N, C, H, W), got "
                         f"{x.shape}")
    return x.mean(axis=(2, 3))


class MaxPool2d(Module):
    """As ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0)``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """As ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, count_include_pad=True)``."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """As ``torch.nn.AdaptiveAvgPool2d(output_size)``; output_size defaults to 1 (global
    average pooling, output (N, C, 1, 1))."""

    def __init__(self, output_size=1):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "AvgPool2dFunction",
    "MaxPool2d",
    "MaxPool2dFunction",
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "max_pool2d",
]
