"""Image datasets as plain host arrays: ``ImageSplit`` (images, labels) and ``ImageDataset``, and
the two image datasets: scikit-learn's handwritten digits (offline) and CIFAR-10.

Images are uint8 arrays of shape (N, C, H, W) (channels first, as the layers expect), labels
int64 arrays of shape (N,). ``ImageDataset`` has ``.train``, ``.test``, ``.classes``,
``loaders()`` and ``describe()``, which states the size and how the dataset differs from the
paper-scale one.

CIFAR-10 comes from its official python-format tarball, ``cifar-10-python.tar.gz``, found (or
downloaded) and verified by md5 in ``<data folder>/cifar10/``, extracted safely into a
temporary folder there; its batches ``data_batch_1`` .. ``_5`` (training) and ``test_batch`` are
pickled dicts with ``b"data"``, a (10000, 3072) uint8 array whose rows hold the red, green and
blue 32x32 planes in turn, and ``b"labels"``; ``batches.meta`` holds ``b"label_names"``. The
arrays are then cached beside the tarball as ``cifar-10.npz`` (with its own md5 beside it, read
without pickle), so later loads take a second.
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import tarfile
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

from autodiff.files import NpzError, atomic_write, load_npz, save_npz

from .files import CIFAR10, DataError, data_dir, fetch, load_pickle, md5sum, safe_extract
from .loader import DataLoader
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToFloat, channel_stats


@dataclass(eq=False)
class ImageSplit:
    """One split: ``images`` uint8 (N, C, H, W) and ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        if not isinstance(self.images, np.ndarray) or self.images.ndim != 4 \
                or self.images.dtype != np.uint8:
            raise ValueError(f"images must be a uint8 NumPy array (N, C, H, W); got "
                             f"{getattr(self.images, 'dtype', type(self.images).__name__)} of "
                             f"shape {getattr(self.images, 'shape', '?')}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},) to match the "
                             f"images; got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.images, self.labels

    def __repr__(self):
        return f"ImageSplit({len(self)} images of shape {self.images.shape[1:]})"


@dataclass(eq=False)
class ImageDataset:
    """A train/test pair of image splits with class names and a description.

    ``source`` says where the data comes from; ``differs`` how it differs from CIFAR-10, the
    paper-scale image dataset ("" for CIFAR-10 itself). ``crop_padding`` and ``flip`` give the
    standard augmentation for this dataset (digits are not flipped: a mirrored 3 is no 3).
    """

    name: str
    train: ImageSplit
    test: ImageSplit
    classes: tuple[str, ...]
    source: str = ""
    differs: str = ""
    crop_padding: int = 4
    flip: bool = True
    _stats: tuple | None = field(default=None, repr=False, init=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def channel_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std of the training images, on the [0, 1] scale."""
        if self._stats is None:
            self._stats = channel_stats(self.train.images)
        return self._stats

    def transforms(self, augment: bool = True):
        """(train transform, evaluation transform): the standard augmentation (random crop with
        zero padding, flips where they make sense) then ``ToFloat`` and ``Normalize`` with the
        training split's statistics; evaluation only converts and normalizes."""
        norm = Normalize(*self.channel_stats())
        aug = []
        if augment and self.crop_padding:
            aug.append(RandomCrop(padding=self.crop_padding))
        if augment and self.flip:
            aug.append(RandomHorizontalFlip())
        return Compose(aug + [ToFloat(), norm]), Compose([ToFloat(), norm])

    def loaders(self, batch_size: int = 128, seed: int = 0, augment: bool = True,
                prefetch: bool = False, eval_batch_size: int | None = None):
        """(train loader: shuffled, augmented; test loader: in order), yielding float32 images
        and int64 labels on the active backend."""
        train_tf, eval_tf = self.transforms(augment)
        return (DataLoader(self.train, batch_size, shuffle=True, seed=seed, transform=train_tf,
                           prefetch=prefetch),
                DataLoader(self.test, eval_batch_size or batch_size, shuffle=False,
                           transform=eval_tf, prefetch=prefetch))

    def describe(self) -> str:
        c, h, w = self.image_shape
        lines = [f"{self.name}: {len(self.train) + len(self.test):,} images of {c}x{h}x{w} "
                 f"(train {len(self.train):,} / test {len(self.test):,}), "
                 f"{self.num_classes} classes: {', '.join(self.classes)}."]
        if self.source:
            lines.append(f"Source: {self.source}")
        lines.append(f"Compared with the paper-scale dataset: {self.differs}" if self.differs
                     else "This is the paper-scale dataset of the talk's image experiments.")
        return "\n".join(lines)

    def __repr__(self):
        return (f"ImageDataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"shape={self.image_shape}, classes={self.num_classes})")


# -- the offline default: scikit-learn's handwritten digits -------------------------------------
N_IMAGES, TEST_SIZE, SPLIT_SEED = 1797, 297, 0
CLASSES = tuple(str(d) for d in range(10))
DIGITS_SOURCE = ("scikit-learn's bundled copy of the UCI optical handwritten digits (1,797 "
                 "images of 8x8, grey levels 0..16 scaled to 0..255); ships with scikit-learn, "
                 "no download.")
DIGITS_DIFFERS = ("CIFAR-10 has 50,000 / 10,000 colour photographs of 3x32x32 in 10 object "
                  "classes; this has 1,500 / 297 grey-scale 1x8x8 digits, a much easier task, "
                  "augmented with 1-pixel (not 4-pixel) crops and no flips. Good for checking "
                  "code and quick CPU runs; differences between optimizers seen on CIFAR-10 "
                  "need not show here.")


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
        ImageSplit(images[test_idx], labels[test_idx]), CLASSES, source=DIGITS_SOURCE,
        differs=DIGITS_DIFFERS, crop_padding=1, flip=False)


# -- CIFAR-10 ------------------------------------------------------------------------------------
CIFAR_FOLDER = "cifar10"
ARCHIVE_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CACHE_NAME = "cifar-10.npz"
_KEYS = ("train_images", "train_labels", "test_images", "test_labels", "classes", "source_md5")
CIFAR_SOURCE = ("CIFAR-10, python version (Krizhevsky, 2009, https://www.cs.toronto.edu/~kriz/"
          "cifar.html): 32x32 colour photographs of 10 object classes.")


def read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch as (uint8 images (N, 3, 32, 32), int64 labels (N,))."""
    d = load_pickle(path)
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        keys = sorted(d)[:6] if isinstance(d, dict) else type(d).__name__
        raise DataError(f"{path} is not a CIFAR-10 python batch: expected a dict with b'data' "
                        f"and b'labels', got {keys}")
    data = np.asarray(d[b"data"])
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: b'data' should be uint8 rows of 3072 pixels, got "
                        f"{data.dtype} of shape {data.shape}")
    if labels.shape != (len(data),):
        raise DataError(f"{path}: {len(labels)} labels for {len(data)} images")
    return data.reshape(-1, 3, 32, 32), labels


def read_label_names(path: str) -> tuple[str, ...]:
    d = load_pickle(path)
    if not isinstance(d, dict) or b"label_names" not in d:
        raise DataError(f"{path} is not CIFAR-10's batches.meta: no b'label_names'")
    return tuple(n.decode("ascii") if isinstance(n, bytes) else str(n)
                 for n in d[b"label_names"])


def read_tarball(archive: str) -> dict[str, np.ndarray]:
    """The arrays of a CIFAR-10 python tarball: extracted (safely) into a temporary folder
    beside it, read, and the folder removed."""
    try:  # beside the archive (same disk); a read-only data folder falls back to the temp dir
        workdir = tempfile.TemporaryDirectory(prefix=".cifar-10-extract-",
                                              dir=os.path.dirname(os.path.abspath(archive)))
    except OSError:
        workdir = tempfile.TemporaryDirectory(prefix="cifar-10-extract-")
    with workdir as tmp:
        try:
            safe_extract(archive, tmp)
        except (tarfile.TarError, EOFError, zlib.error) as exc:    # damaged or truncated
            raise DataError(f"{archive} is not a readable tar archive ({type(exc).__name__}: "
                            f"{exc}); delete it and download it again") from None
        base = os.path.join(tmp, ARCHIVE_FOLDER)
        for name in (*TRAIN_BATCHES, TEST_BATCH, META):
            if not os.path.isfile(os.path.join(base, name)):
                raise DataError(f"{archive} has no {ARCHIVE_FOLDER}/{name}: it is not the python "
                                f"version of CIFAR-10 ({CIFAR10.filename})")
        train = [read_batch(os.path.join(base, n)) for n in TRAIN_BATCHES]
        test_images, test_labels = read_batch(os.path.join(base, TEST_BATCH))
        classes = read_label_names(os.path.join(base, META))
    train_labels = np.concatenate([y for _, y in train])
    for split, labels in (("training", train_labels), ("test", test_labels)):
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise DataError(f"{archive}: {split} labels outside 0..{len(classes) - 1}")
    return {"train_images": np.concatenate([x for x, _ in train]), "train_labels": train_labels,
            "test_images": test_images, "test_labels": test_labels,
            "classes": np.array(classes, dtype=str)}


def _read_cache(path: str):
    """The arrays of the CIFAR-10 cache, or None when it is missing, damaged, inconsistent, or
    not the one this code wrote: its own md5 must match the one recorded beside it when it was
    written, it must say it was built from the published tarball, and every shape and label must
    be right. Anything in doubt is rebuilt from the tarball."""
    sidecar = path + ".md5"
    try:
        with open(sidecar) as f:
            recorded = f.read().strip()
        if md5sum(path) != recorded:
            return None
        arrays = load_npz(path)
    except (OSError, NpzError):
        return None
    n_classes = len(arrays.get("classes", ()))
    ok = (set(_KEYS) <= set(arrays) and str(arrays["source_md5"]) == CIFAR10.md5
          and n_classes == 10)
    for split in ("train", "test") if ok else ():
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        ok = ok and images.dtype == np.uint8 and images.shape[1:] == (3, 32, 32) \
            and labels.shape == images.shape[:1] and labels.dtype.kind in "iu" \
            and (labels.size == 0 or (labels.min() >= 0 and labels.max() < n_classes))
    return arrays if ok else None


def _write_cache(path: str, arrays: dict) -> None:
    save_npz(path, {**arrays, "source_md5": np.array(CIFAR10.md5)})
    with atomic_write(path + ".md5", fsync=False) as f:
        f.write(md5sum(path).encode() + b"\n")


def cifar10(root=None, download: bool = True, progress: bool = True, timeout: float = 60.0,
            deadline: float | None = None) -> ImageDataset:
    """CIFAR-10: 50,000 training and 10,000 test images, uint8 (N, 3, 32, 32), 10 classes.
    ``timeout`` and ``deadline`` bound a download (see ``minioptim.data.download``).

    Files live in ``<data folder>/cifar10/`` (data folder: ``root``, else ``$MINIOPTIM_DATA``,
    else ``~/.cache/minioptim``). Without the tarball, it is downloaded when ``download`` is
    true; offline, ``DataNotFoundError`` says which file to put where and its md5.
    """
    src = CIFAR10
    folder = os.path.join(data_dir(root), CIFAR_FOLDER)
    cache = os.path.join(folder, CACHE_NAME)
    arrays = _read_cache(cache)
    if arrays is None:
        (archive,) = fetch([src], folder, "CIFAR-10", download, progress, timeout, deadline)
        arrays = read_tarball(archive)
        try:
            _write_cache(cache, arrays)
        except OSError as exc:  # e.g. a shared read-only data folder: work without the cache
            warnings.warn(f"could not write the CIFAR-10 cache {cache} ({exc}); the tarball "
                          f"will be read again next time", stacklevel=2)
    return ImageDataset(
        "cifar10", ImageSplit(arrays["train_images"], arrays["train_labels"]),
        ImageSplit(arrays["test_images"], arrays["test_labels"]),
        tuple(str(c) for c in arrays["classes"]), source=CIFAR_SOURCE, differs="",
        crop_padding=4, flip=True)
