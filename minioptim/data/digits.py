"""The offline image default: scikit-learn's bundled handwritten digits, as 1-channel images.

1,797 grey-scale 8x8 digits (the test part of the UCI "Optical Recognition of Handwritten
Digits" data, grey levels 0..16, stored here as uint8 0..255), shipped inside scikit-learn: no
download. A fixed seeded split gives 1,500 training and 297 test images (CIFAR-10's 5:1 ratio).
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
import os

import numpy as np

from .datasets import ImageDataset, ImageSplit
from .errors import DataError

N_IMAGES, TEST_SIZE, SPLIT_SEED = 1797, 297, 0
CLASSES = tuple(str(d) for d in range(10))
SOURCE = ("scikit-learn's bundled copy of the UCI optical handwritten digits (1,797 images of "
          "8x8, grey levels 0..16 scaled to 0..255); ships with scikit-learn, no download.")
DIFFERS = ("CIFAR-10 has 50,000 / 10,000 colour photographs of 3x32x32 in 10 object classes; "
           "this has 1,500 / 297 grey-scale 1x8x8 digits, a much easier task, augmented with "
           "1-pixel (not 4-pixel) crops and no flips. Good for checking code and quick CPU "
           "runs; differences between optimizers seen on CIFAR-10 need not show here.")


def _read_bundled_csv() -> np.ndarray | None:
    """scikit-learn's ``datasets/data/digits.csv.gz`` read directly (importing sklearn.datasets
    takes seconds); None when the file is not where scikit-learn has always kept it."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = os.path.join(base, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            with gzip.open(path, "rt") as f:
                return np.loadtxt(f, delimiter=",", dtype=np.float64)
    return None


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    table = _read_bundled_csv()
    if table is not None and table.shape == (N_IMAGES, 65):
        pixels, labels = table[:, :64], table[:, 64]
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise DataError("the 'digits' dataset ships with scikit-learn, which is not installed: "
                            "pip install scikit-learn") from None
        bunch = load_digits()
        pixels, labels = bunch.data, bunch.target
    if pixels.shape != (N_IMAGES, 64) or pixels.min() < 0 or pixels.max() > 16:
        raise DataError(f"scikit-learn's digits have an unexpected form {pixels.shape}, values "
                        f"{pixels.min()}..{pixels.max()} (expected (1797, 64), 0..16)")
    images = np.round(pixels * (255 / 16)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return images, labels.astype(np.int64)


def digits(root=None, download: bool = True, progress: bool = True,
           test_size: int = TEST_SIZE, seed: int = SPLIT_SEED) -> ImageDataset:
    """The digits as an ``ImageDataset``: uint8 (N, 1, 8, 8) images, int64 labels 0..9.

    The split is a permutation drawn from ``seed`` (``test_size`` images for test), the same on
    every machine. ``root``, ``download`` and ``progress`` are accepted so every dataset is
    loaded alike, and unused: nothing is read from disk but scikit-learn's own file.
    """
    images, labels = _raw()
    if not 0 < test_size < len(images):
        raise ValueError(f"test_size must be between 1 and {len(images) - 1}, got {test_size}")
    order = np.random.default_rng(seed).permutation(len(images))
    test_idx, train_idx = np.sort(order[:test_size]), np.sort(order[test_size:])
    return ImageDataset(
        "digits", ImageSplit(images[train_idx], labels[train_idx]),
        ImageSplit(images[test_idx], labels[test_idx]), CLASSES, source=SOURCE,
        differs=DIFFERS, crop_padding=1, flip=False)
