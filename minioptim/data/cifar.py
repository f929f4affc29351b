"""CIFAR-10 from its official python-format tarball, ``cifar-10-python.tar.gz``.

The tarball is found (or downloaded) and verified by md5 in ``<data folder>/cifar10/``, extracted
safely into a temporary folder there, and its batches are read: ``data_batch_1`` .. ``_5``
(training) and ``test_batch``, each a pickled dict with ``b"data"``, a (10000, 3072) uint8 array
whose rows hold the red, green and blue 32x32 planes in turn, and ``b"labels"``; ``batches.meta``
holds ``b"label_names"``. The arrays are then cached beside the tarball as ``cifar-10.npz``
(written under a temporary name, read with ``allow_pickle=False``), so later loads take a second
and read no pickle at all.
"""
from __future__ import annotations

import os
import tarfile
import tempfile
import warnings

import numpy as np

from . import sources
from .archive import safe_extract
from .cache import data_dir, load_npz, save_npz
from .datasets import ImageDataset, ImageSplit
from .downloads import fetch
from .errors import DataError
from .safe_pickle import load_pickle

FOLDER = "cifar10"
ARCHIVE_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CACHE_NAME = "cifar-10.npz"
_KEYS = ("train_images", "train_labels", "test_images", "test_labels", "classes", "source_md5")
SOURCE = ("CIFAR-10, python version (Krizhevsky, 2009, https://www.cs.toronto.edu/~kriz/"
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
        except tarfile.TarError as exc:
            raise DataError(f"{archive} is not a readable tar archive ({exc})") from None
        base = os.path.join(tmp, ARCHIVE_FOLDER)
        for name in (*TRAIN_BATCHES, TEST_BATCH, META):
            if not os.path.isfile(os.path.join(base, name)):
                raise DataError(f"{archive} has no {ARCHIVE_FOLDER}/{name}: it is not the python "
                                f"version of CIFAR-10 ({sources.CIFAR10.filename})")
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


def _usable(arrays, md5) -> bool:
    return (arrays is not None and str(arrays["source_md5"]) == md5
            and arrays["train_images"].dtype == np.uint8 and arrays["test_images"].dtype == np.uint8
            and arrays["train_images"].shape[1:] == (3, 32, 32)
            and arrays["test_images"].shape[1:] == (3, 32, 32)
            and arrays["train_labels"].shape == arrays["train_images"].shape[:1]
            and arrays["test_labels"].shape == arrays["test_images"].shape[:1])


def cifar10(root=None, download: bool = True, progress: bool = True) -> ImageDataset:
    """CIFAR-10: 50,000 training and 10,000 test images, uint8 (N, 3, 32, 32), 10 classes.

    Files live in ``<data folder>/cifar10/`` (data folder: ``root``, else ``$MINIOPTIM_DATA``,
    else ``~/.cache/minioptim``). Without the tarball, it is downloaded when ``download`` is
    true; offline, ``DataNotFoundError`` says which file to put where and its md5.
    """
    src = sources.CIFAR10
    folder = os.path.join(data_dir(root), FOLDER)
    cache = os.path.join(folder, CACHE_NAME)
    arrays = load_npz(cache, _KEYS)
    if not _usable(arrays, src.md5):
        (archive,) = fetch([src], folder, "CIFAR-10", download, progress)
        arrays = read_tarball(archive)
        try:
            save_npz(cache, **arrays, source_md5=np.array(src.md5))
        except OSError as exc:  # e.g. a shared read-only data folder: work without the cache
            warnings.warn(f"could not write the CIFAR-10 cache {cache} ({exc}); the tarball "
                          f"will be read again next time", stacklevel=2)
    return ImageDataset(
        "cifar10", ImageSplit(arrays["train_images"], arrays["train_labels"]),
        ImageSplit(arrays["test_images"], arrays["test_labels"]),
        tuple(str(c) for c in arrays["classes"]), source=SOURCE, differs="",
        crop_padding=4, flip=True)
