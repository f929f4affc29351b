"""2-d convolution (NCHW, PyTorch's cross-correlation), fused: im2col + one matrix product.

For an input x of shape (N, C, H, W), a weight w of shape (O, C, KH, KW), stride s, padding p:

    y[n, o, a, b] = bias[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, c, s*a + i, s*b + j]

with xpad the input padded by p zeros on each side, OH = (H + 2p - KH) // s + 1 (and so OW).

im2col turns this into one matrix product. Put every input patch in a column:

    cols[(c, i, j), (n, a, b)] = xpad[n, c, s*a + i, s*b + j]       shape (C*KH*KW, N*OH*OW)
    Y = W @ cols,  W = w.reshape(O, C*KH*KW)                         shape (O, N*OH*OW)

``cols`` is first a *view* of xpad (``as_strided``: six axes, no data moved), and one reshape
copies it into the (C*KH*KW, N*OH*OW) matrix: the only large copy of the forward pass. Its row
axis (c, i, j) matches w's memory order, so W needs no copy, and the columns run over (n, a, b),
so the product is one large BLAS call. The local derivatives of Y = W @ cols are

    dL/dW    = G @ cols^T         (one matrix product; G = dL/dY as (O, N*OH*OW))
    dL/dcols = W^T @ G            (one matrix product)
    dL/dxpad = col2im(dL/dcols):  each column entry goes back to the input pixel it was copied
               from. For a fixed kernel offset (i, j) those pixels form the strided slice
               xpad[:, :, i : i + s*OH : s, j : j + s*OW : s], so col2im is KH*KW slice-additions.
    dL/dbias = sum of G over (n, a, b)

With stride 1 the input gradient is computed another way, as a convolution itself:
dL/dx[n, c, u, v] = sum_{o, i, j} w[o, c, i, j] G[n, o, u - i + p, v - j + p], i.e. G padded by
K - 1 - p correlated with the kernel flipped in space and with its two channel axes swapped. That
costs one patch copy and one product, ~20% less than W^T G followed by col2im (measured on the
ResNet-20 layers); strided convolutions keep the col2im path.

Batch chunks (CPU). The columns of cols are independent across images, so the batch is cut
into chunks and each chunk handled by the same steps (pad it, copy its patches, one product).
The chunks are sized (``CHUNK_ELEMENTS`` patch entries, 2 MB in float32) so that a chunk's
patch matrix is still in the processor's cache when the product reads it: for a batch of 128
CIFAR images at 16 channels the whole-batch patch matrix is 75 MB, written to and read back
from main memory; chunked, forward + backward of such a layer ran ~1.5x faster. Chunks run on
all CPU cores (``autodiff.threads``; every step of a chunk, copies included, runs in parallel,
not only the product). It also saves memory: only the input is kept for backward, which pads
it again and rebuilds each chunk's patches. On a GPU (cupy) the whole batch is one chunk.

Patch rows. With stride 1, the row of cols for (c, i, j) and one image may run over whole rows
of the padded input (OH * Wp entries, Wp = W + 2p) instead of OH * OW: those entries are
consecutive in memory, so the copy is ~3x faster, and the Wp - OW extra outputs per row are
computed and dropped (``_patches``; used while that waste is at most 25%).

``conv2d_naive`` computes the same with a Python loop over output positions, each a small
matrix product through the autodiff primitives: slow, but every step is visible; the tests check
that the two agree in values and gradients.
"""
from __future__ import annotations

import math

from .. import backend, threads
from ..errors import ShapeError
from ..function import Function
from ..functions import concatenate, stack
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


def _windows(xp, xpad, kh, kw, sh, sw, oh, ow, channels_first: bool):
    """A strided view (no copy) of all kh x kw windows of xpad (N, C, Hp, Wp).

    channels_first: shape (C, KH, KW, N, OH, OW), the im2col layout of the convolution;
    otherwise (N, C, OH, OW, KH, KW), one window per output pixel (pooling)."""
    s_n, s_c, s_h, s_w = xpad.strides
    if channels_first:
        shape = (xpad.shape[1], kh, kw, xpad.shape[0], oh, ow)
        strides = (s_c, s_h, s_w, s_n, sh * s_h, sw * s_w)
    else:
        shape = (xpad.shape[0], xpad.shape[1], oh, ow, kh, kw)
        strides = (s_n, s_c, sh * s_h, sw * s_w, s_h, s_w)
    return xp.lib.stride_tricks.as_strided(xpad, shape=shape, strides=strides)


def _offset_slices(i: int, j: int, sh: int, sw: int, oh: int, ow: int) -> tuple:
    """The entries of the padded input that kernel offset (i, j) touches, one per output pixel."""
    return (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
            slice(j, j + sw * (ow - 1) + 1, sw))


# patch-matrix entries per batch chunk on the CPU (see the module docstring)
CHUNK_ELEMENTS = 1 << 19
# stride-1 patch rows run over the padded width when that wastes at most this fraction of the
# product's columns (see _patches)
FULL_ROWS_MAX_WASTE = 0.25


def _patches(xp, x, kh, kw, sh, sw, ph, pw, oh, ow):
    """(cols, width): the patch matrix of a chunk x (nb, C, H, W), padded by (ph, pw), as
    cols (C*KH*KW, nb*OH*width), and the width of the output grid its columns run over.

    Usually width = OW, and the copy of the strided view moves rows of OW numbers at a time.
    With stride 1 the columns may instead run over whole rows of the padded input, width =
    Wp = W + 2pw: then for a fixed (c, i, j) and image the OH*Wp entries are *consecutive* in
    memory (row a + i, columns j .. j + Wp - 1 wrap into the next row), so the copy moves
    long runs (~3x faster), at the price of Wp - OW columns per output row that are computed
    and thrown away. Used when that waste is small (wide images)."""
    nb, c, h, wd = x.shape
    hp, wp = h + 2 * ph, wd + 2 * pw
    if (sh, sw) != (1, 1) or (wp - ow) > FULL_ROWS_MAX_WASTE * ow:
        view = _windows(xp, _pad(xp, x, ph, pw), kh, kw, sh, sw, oh, ow, True)
        return view.reshape(c * kh * kw, nb * oh * ow), ow
    # kw - 1 spare numbers at the end: the last image's last rows read that far past its end
    flat = xp.zeros(nb * c * hp * wp + kw - 1, dtype=x.dtype)
    flat[:nb * c * hp * wp].reshape(nb, c, hp, wp)[:, :, ph:ph + h, pw:pw + wd] = x
    e = flat.strides[0]
    view = xp.lib.stride_tricks.as_strided(
        flat, shape=(c, kh, kw, nb, oh * wp), strides=(hp * wp * e, wp * e, e, c * hp * wp * e, e))
    return view.reshape(c * kh * kw, nb * oh * wp), wp


def _on_grid(xp, g, width):
    """G (O, nb*OH*width) of a gradient chunk g (nb, O, OH, OW), laid on the columns of a patch
    matrix from _patches: zeros in the thrown-away columns."""
    nb, o, oh, ow = g.shape
    if width == ow:
        return g.transpose(1, 0, 2, 3).reshape(o, nb * oh * ow)
    grid = xp.zeros((o, nb, oh, width), dtype=g.dtype)
    grid[..., :ow] = g.transpose(1, 0, 2, 3)
    return grid.reshape(o, nb * oh * width)


def _correlate_chunk(xp, x, w2, kh, kw, sh, sw, ph, pw, oh, ow, out) -> None:
    """out (nb, O, OH, OW) = W2 @ cols for one chunk x (nb, C, H, W) of the batch: pad it,
    copy its patches, one product, back to NCHW."""
    cols, width = _patches(xp, x, kh, kw, sh, sw, ph, pw, oh, ow)
    yc = w2 @ cols                                                      # Y = W cols
    out[...] = yc.reshape(w2.shape[0], x.shape[0], oh, width)[..., :ow].transpose(1, 0, 2, 3)


def _correlate(xp, x, w2, kh, kw, sh, sw, ph, pw, oh, ow, chunks):
    """Y (N, O, OH, OW) = W2 @ cols of x (N, C, H, W) padded by (ph, pw): W2 (O, C*KH*KW);
    the batch chunks run on all CPU cores."""
    y = xp.empty((x.shape[0], w2.shape[0], oh, ow), dtype=xp.result_type(x.dtype, w2.dtype))

    def one(chunk):
        lo, hi = chunk
        _correlate_chunk(xp, x[lo:hi], w2, kh, kw, sh, sw, ph, pw, oh, ow, y[lo:hi])
    threads.map_chunks(one, chunks)
    return y


class Conv2dFunction(Function):
    """y = conv2d(x, w[, b]); parameters: stride (sh, sw), padding (ph, pw)."""

    def forward(self, x, w, *bias):
        xp = self.xp
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        oh, ow = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
        self.sizes = (n, c, h, wd, o, kh, kw, oh, ow)
        self.x = x                      # backward pads it again, chunk by chunk (saves memory)
        self.w2 = w.reshape(o, c * kh * kw)                              # W: (O, C*KH*KW)
        self.chunks = threads.batch_chunks(x, n, c * kh * kw * max(oh * ow, h * wd),
                                           CHUNK_ELEMENTS)
        y = _correlate(xp, x, self.w2, kh, kw, sh, sw, ph, pw, oh, ow, self.chunks)
        if bias:
            y += bias[0].reshape(1, o, 1, 1)
        return y

    def backward(self, g):
        xp = self.xp
        n, c, h, wd, o, kh, kw, oh, ow = self.sizes
        (sh, sw), (ph, pw) = self.stride, self.padding
        need_x, need_w = self.needs_grad(0), self.needs_grad(1)
        # with stride 1, dL/dx is itself a convolution: of G padded by K-1-p with the flipped,
        # channel-swapped kernel (one patch copy and one product, cheaper than W^T G + col2im)
        as_conv = need_x and (sh, sw) == (1, 1) and kh - 1 - ph >= 0 and kw - 1 - pw >= 0
        if as_conv:
            flipped = self.w2.reshape(o, c, kh, kw)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            flipped = flipped.reshape(c, o * kh * kw)
        gx = xp.empty((n, c, h, wd), dtype=g.dtype) if need_x else None

        def one(chunk):
            lo, hi = chunk
            gw_part = None
            if need_w:
                cols, width = _patches(xp, self.x[lo:hi], kh, kw, sh, sw, ph, pw, oh, ow)
                # dL/dW = G cols^T, computed as its transpose cols G^T (the same sums):
                # BLAS runs the tall (C*KH*KW, O) product ~25% faster when O is small
                gw_part = cols @ _on_grid(xp, g[lo:hi], width).T
            if as_conv:
                _correlate_chunk(xp, g[lo:hi], flipped, kh, kw, 1, 1, kh - 1 - ph, kw - 1 - pw,
                                 h, wd, gx[lo:hi])
            elif need_x:
                g2 = g[lo:hi].transpose(1, 0, 2, 3).reshape(o, -1)      # G: (O, nb*OH*OW)
                dcols = (self.w2.T @ g2).reshape(c, kh, kw, hi - lo, oh, ow)  # W^T G
                gpad = xp.zeros((hi - lo, c, h + 2 * ph, wd + 2 * pw), dtype=g.dtype)
                for i in range(kh):                                     # col2im: KH*KW adds
                    for j in range(kw):
                        gpad[_offset_slices(i, j, sh, sw, oh, ow)] += \
                            dcols[:, i, j].transpose(1, 0, 2, 3)
                gx[lo:hi] = gpad[:, :, ph:ph + h, pw:pw + wd]
            return gw_part

        parts = threads.map_chunks(one, self.chunks) if need_x or need_w else []
        gw = None
        if need_w:                      # summed in chunk order: the same on any thread count
            gw = parts[0]
            for part in parts[1:]:
                gw += part
            gw = gw.T.reshape(o, c, kh, kw)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (g.sum(axis=(0, 2, 3)) if self.needs_grad(2) else None)

    def op_name(self) -> str:
        return "conv2d"


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
    output (N, O, OH, OW). One fused operation (im2col and one matrix product); see the module
    docstring for the derivation."""
    stride, padding = _check_conv_args(x, weight, bias, stride, padding, "conv2d")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2dFunction.apply(*inputs, stride=stride, padding=padding)


def conv2d_naive(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                 padding=0) -> Tensor:
    """The same convolution from primitives only, one output position at a time:

        y[:, :, a, b] = patch(a, b).reshape(N, C*KH*KW) @ w.reshape(O, C*KH*KW)^T

    Padding is a concatenation of zeros. Slow (OH*OW small products); for teaching and tests."""
    (sh, sw), (ph, pw) = _check_conv_args(x, weight, bias, stride, padding, "conv2d_naive")
    n, c, h, wd = x.shape
    o, _, kh, kw = weight.shape
    dtype = str(x.dtype)
    xp = backend.array_module(x.data)

    def zeros(shape):
        return Tensor._make(xp.zeros(shape, dtype=dtype))

    if ph:
        x = concatenate([zeros((n, c, ph, wd)), x, zeros((n, c, ph, wd))], axis=2)
    if pw:
        x = concatenate([zeros((n, c, h + 2 * ph, pw)), x, zeros((n, c, h + 2 * ph, pw))], axis=3)
    oh, ow = _out_size(h, kh, sh, ph), _out_size(wd, kw, sw, pw)
    w_rows = weight.reshape(o, c * kh * kw).T                       # (C*KH*KW, O)
    columns = []
    for a in range(oh):
        for b in range(ow):
            patch = x[:, :, a * sh:a * sh + kh, b * sw:b * sw + kw]  # (N, C, KH, KW)
            columns.append(patch.reshape(n, c * kh * kw) @ w_rows)  # (N, O)
    y = stack(columns, axis=2).reshape(n, o, oh, ow)
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


__all__ = ["Conv2d", "Conv2dFunction", "conv2d", "conv2d_naive"]
