r"""The convolution kernel: replaces ``autodiff.nn.conv.conv2d`` (unfold + one matrix product).

It computes what the reference computes, Y = W cols (see ``autodiff/nn/conv.py`` for im2col
and its derivatives), as ONE ``Function`` with a hand-written backward, and faster:

Batch chunks (CPU). The columns of cols are independent across images, so the batch is cut
into chunks and each chunk handled by the same steps (pad it, copy its patches, one product).
The chunks are sized (``CHUNK_ELEMENTS`` patch entries, 2 MB in float32) so that a chunk's
patch matrix is still in the processor's cache when the product reads it: for a batch of 128
CIFAR images at 16 channels the whole-batch patch matrix is 75 MB, written to and read back
from main memory; chunked, forward + backward of such a layer ran ~1.5x faster. Chunks run on
all CPU cores (``threads.py``; every step of a chunk, copies included, runs in parallel, not
only the product). It also saves memory: only the input is kept for backward, which pads it
again and rebuilds each chunk's patches. On a GPU (cupy) the whole batch is one chunk.

Patch rows. With stride 1, the row of cols for (c, i, j) and one image may run over whole rows
of the padded input (OH * Wp entries, Wp = W + 2p) instead of OH * OW: those entries are
consecutive in memory, so the copy is ~3x faster, and the Wp - OW extra outputs per row are
computed and dropped (``_patches``; used while that waste is at most 25%).

The input gradient at stride 1 is itself a convolution:
dL/dx[n, c, u, v] = sum_{o, i, j} w[o, c, i, j] G[n, o, u - i + p, v - j + p], i.e. G padded by
K - 1 - p correlated with the kernel flipped in space and with its two channel axes swapped. That
costs one patch copy and one product, ~20% less than W^T G followed by col2im (measured on the
ResNet-20 layers); strided convolutions keep the col2im path. The weight gradient then reuses
those patches of G: dL/dw[o, c, i, j] = sum_{n, u, v} x[n, c, u, v] G[n, o, u - i + p, v - j + p]
is the product of G's patch matrix (rows (o, K-1-i, K-1-j)) with x laid on the same columns,
so backward copies patches once (of G) instead of twice (of G and of x): ~8% less time for the
stride-1 layers of ResNet-20, forward and backward together.
"""
from __future__ import annotations

from ..function import Function
from ..nn.conv import _offset_slices, _out_size, _pad, _windows
from . import threads


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
        view = _windows(xp, _pad(xp, x, ph, pw), kh, kw, sh, sw, oh, ow)
        view = view.transpose(1, 2, 3, 0, 4, 5)                   # (C, KH, KW, N, OH, OW)
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


def _correlate_chunk(xp, x, w2, kh, kw, sh, sw, ph, pw, oh, ow, out):
    """out (nb, O, OH, OW) = W2 @ cols for one chunk x (nb, C, H, W) of the batch: pad it,
    copy its patches, one product, back to NCHW. Returns (cols, width) for another product."""
    cols, width = _patches(xp, x, kh, kw, sh, sw, ph, pw, oh, ow)
    yc = w2 @ cols                                                      # Y = W cols
    out[...] = yc.reshape(w2.shape[0], x.shape[0], oh, width)[..., :ow].transpose(1, 0, 2, 3)
    return cols, width


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

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

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
            if as_conv:
                gcols, width = _correlate_chunk(xp, g[lo:hi], flipped, kh, kw, 1, 1, kh - 1 - ph,
                                                kw - 1 - pw, h, wd, gx[lo:hi])
                # dL/dW from the same patches of G (see the module docstring), in the flipped
                # order (O, KH, KW, C): no second patch copy, of x
                return gcols @ _on_grid(xp, self.x[lo:hi], width).T if need_w else None
            gw_part = None
            if need_w:
                cols, width = _patches(xp, self.x[lo:hi], kh, kw, sh, sw, ph, pw, oh, ow)
                # dL/dW = G cols^T, computed as its transpose cols G^T (the same sums):
                # BLAS runs the tall (C*KH*KW, O) product ~25% faster when O is small
                gw_part = cols @ _on_grid(xp, g[lo:hi], width).T
            if need_x:
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
            if as_conv:                 # rows (o, KH-1-i, KW-1-j), columns c
                gw = gw.reshape(o, kh, kw, c)[:, ::-1, ::-1].transpose(0, 3, 1, 2)
                gw = xp.ascontiguousarray(gw)
            else:
                gw = gw.T.reshape(o, c, kh, kw)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (g.sum(axis=(0, 2, 3)) if self.needs_grad(2) else None)

    def op_name(self) -> str:
        return "conv2d"


def conv2d(x, weight, bias, stride, padding):
    """The kernel's entry point (arguments checked by ``autodiff.nn.conv.conv2d``)."""
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2dFunction.apply(*inputs, stride=stride, padding=padding)
