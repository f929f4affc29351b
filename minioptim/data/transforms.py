"""Image transforms on host batches: NumPy arrays of shape (B, C, H, W).

A transform is a callable ``t(x, rng)`` taking a batch and a ``np.random.Generator`` and
returning a new batch; ``DataLoader`` passes its own seeded generator, so augmentation repeats
with the seed. Each image of a batch draws its own crop offset and flip.

The standard CIFAR-10 pipeline (He et al., 2016) for training is ``Compose([RandomCrop(padding=4),
RandomHorizontalFlip(), ToFloat(), Normalize.from_images(train)])`` and for evaluation
``Compose([ToFloat(), Normalize(...)])``: zero padding (black pixels) is added before
normalization, and the statistics come from the training split only.

>>> import numpy as np
>>> x = np.arange(2 * 1 * 3 * 3, dtype=np.uint8).reshape(2, 1, 3, 3)
>>> crop(pad(x, 1), tops=np.array([0, 2]), lefts=np.array([0, 1]), size=(3, 3))[1, 0]
array([[12, 13, 14],
       [15, 16, 17],
       [ 0,  0,  0]], dtype=uint8)
>>> hflip(x, np.array([True, False]))[:, 0, 0]
array([[ 2,  1,  0],
       [ 9, 10, 11]], dtype=uint8)
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _check_batch(x, who):
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ValueError(f"{who} expects a host batch of images, a NumPy array of shape "
                         f"(B, C, H, W); got {type(x).__name__} of shape "
                         f"{getattr(x, 'shape', '?')}")


def _rng(rng):
    return rng if rng is not None else np.random.default_rng()


def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the last two axes of a (B, C, H, W) batch by ``padding`` pixels on each side."""
    _check_batch(x, "pad")
    p = int(padding)
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x


def crop(x: np.ndarray, tops, lefts, size) -> np.ndarray:
    """Image ``i`` of ``x`` cut to ``size`` = (h, w) from row ``tops[i]``, column ``lefts[i]``."""
    _check_batch(x, "crop")
    h, w = size
    tops, lefts = np.asarray(tops, dtype=np.intp), np.asarray(lefts, dtype=np.intp)
    if tops.shape != (len(x),) or lefts.shape != (len(x),):
        raise ValueError(f"crop needs one top and one left offset per image ({len(x)}); got "
                         f"shapes {tops.shape} and {lefts.shape}")
    if tops.min(initial=0) < 0 or lefts.min(initial=0) < 0 or \
            tops.max(initial=0) + h > x.shape[2] or lefts.max(initial=0) + w > x.shape[3]:
        raise ValueError(f"crop window {size} at offsets up to ({tops.max(initial=0)}, "
                         f"{lefts.max(initial=0)}) leaves the {x.shape[2]}x{x.shape[3]} images")
    windows = sliding_window_view(x, (h, w), axis=(2, 3))  # (B, C, H-h+1, W-w+1, h, w), no copy
    return windows[np.arange(len(x)), :, tops, lefts]      # (B, C, h, w), a copy of the crops


def hflip(x: np.ndarray, mask) -> np.ndarray:
    """``x`` with the images where ``mask`` is True mirrored left-right."""
    _check_batch(x, "hflip")
    mask = np.asarray(mask, dtype=bool).reshape(-1, 1, 1, 1)
    return np.where(mask, x[..., ::-1], x)


def channel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), on the [0, 1]
    scale that ``ToFloat`` produces; exact integer sums, a chunk at a time (no float copy of
    the whole set)."""
    _check_batch(images, "channel_stats")
    if images.dtype != np.uint8:
        raise ValueError(f"channel_stats expects uint8 images, got {images.dtype}")
    c = images.shape[1]
    s, ss = np.zeros(c, dtype=np.int64), np.zeros(c, dtype=np.int64)
    for i in range(0, len(images), chunk):
        block = images[i:i + chunk].astype(np.int64)
        s += block.sum(axis=(0, 2, 3))
        ss += (block * block).sum(axis=(0, 2, 3))
    n = images.shape[0] * images.shape[2] * images.shape[3]
    mean = s / n
    var = np.maximum(ss / n - mean * mean, 0.0)
    return mean / 255.0, np.sqrt(var) / 255.0


class RandomCrop:
    """Pad with ``padding`` zero pixels, then cut a random ``size`` window (default: the
    original size) from each image; the 4-pixel CIFAR-10 augmentation."""

    def __init__(self, padding: int = 4, size=None):
        self.padding, self.size = int(padding), size

    def __call__(self, x, rng=None):
        _check_batch(x, "RandomCrop")
        size = tuple(self.size) if self.size is not None else x.shape[2:]
        padded = pad(x, self.padding)
        rng = _rng(rng)
        tops = rng.integers(0, padded.shape[2] - size[0] + 1, size=len(x))
        lefts = rng.integers(0, padded.shape[3] - size[1] + 1, size=len(x))
        return crop(padded, tops, lefts, size)

    def __repr__(self):
        return f"RandomCrop(padding={self.padding}, size={self.size})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __call__(self, x, rng=None):
        return hflip(x, _rng(rng).random(len(x)) < self.p)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class ToFloat:
    """uint8 pixels to float32 on [0, 1] (multiply by ``scale``)."""

    def __init__(self, scale: float = 1 / 255):
        self.scale = scale

    def __call__(self, x, rng=None):
        return x.astype(np.float32) * np.float32(self.scale)

    def __repr__(self):
        return f"ToFloat(scale={self.scale:.6g})"


class Normalize:
    """(x - mean[c]) / std[c] per channel, on float images (after ``ToFloat``)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize needs positive standard deviations, got {std}")

    @classmethod
    def from_images(cls, images: np.ndarray) -> "Normalize":
        """Statistics of uint8 images (use the training split only)."""
        return cls(*channel_stats(images))

    def __call__(self, x, rng=None):
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"Normalize expects float images on [0, 1]; got {x.dtype} (put "
                             f"ToFloat() before it)")
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"Normalize has statistics for {self.mean.shape[0]} channels, the "
                             f"batch has {x.shape[1]}")
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().round(4).tolist()}, " \
               f"std={self.std.ravel().round(4).tolist()})"


class Compose:
    """Apply transforms in order, passing the same generator along."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        rng = _rng(rng)
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self):
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"
