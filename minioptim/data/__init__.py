"""Datasets and loaders: CIFAR-10 and Penn Treebank in their published formats, offline
defaults that ship with the installed packages, and batches as tensors on the active backend.

    files.py       the data folder, published files and their md5, downloads, safe readers
    images.py      ImageSplit / ImageDataset, digits (offline) and CIFAR-10
    text.py        Vocabulary / Corpus, BPTT batches, pydoc (offline) and Penn Treebank
    translation.py TranslationDataset, length-grouped batches, synthetic (offline) and Multi30k
    transforms.py  image augmentation and normalization on host batches
    loader.py      DataLoader: seeded batches, moved to the device as tensors
    (this file)    the registry: one name per dataset, for experiments and the command line

>>> from minioptim import data
>>> data.names()       # digits, pydoc, synthetic-translation are offline; the others download
['digits', 'cifar10', 'pydoc', 'ptb', 'synthetic-translation', 'multi30k']
>>> ds = data.load("digits")
>>> ds.train.images.shape, ds.classes[:3]
((1500, 1, 8, 8), ('0', '1', '2'))
>>> train, test = ds.loaders(batch_size=64, seed=0)
>>> x, y = next(iter(train)); x.shape, str(x.dtype), str(y.dtype)
((64, 1, 8, 8), 'float32', 'int64')

Files are cached in the data folder: ``root=`` when given, else ``$MINIOPTIM_DATA``, else
``~/.cache/minioptim`` (``cifar10/cifar-10-python.tar.gz``, ``ptb/ptb.{train,valid,test}.txt``,
``multi30k/*.tar.gz``). Every file is checked against its published md5 (or sha256) before use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import transforms
from .files import (CIFAR10, ENV_VAR, PTB, ChecksumError, DataError, DataNotFoundError,
                    RemoteFile, UnsafeArchiveError, UnsafePickleError, data_dir, download, fetch,
                    load_pickle, md5sum, safe_extract, sha256sum)
from .images import ImageDataset, ImageSplit, cifar10, digits
from .loader import DataLoader
from .text import EOS, UNK, BPTTIterator, Corpus, Vocabulary, batchify, ptb, pydoc
from .translation import MULTI30K, TranslationDataset, multi30k, synthetic_translation
from .transforms import (Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToFloat,
                         channel_stats)

__all__ = [
    "BPTTIterator", "CIFAR10", "ChecksumError", "Compose", "Corpus", "DataError", "DataLoader",
    "DataNotFoundError", "DatasetInfo", "ENV_VAR", "EOS", "ImageDataset", "ImageSplit",
    "Normalize", "PTB", "RandomCrop", "RandomHorizontalFlip", "RemoteFile", "ToFloat", "UNK",
    "UnsafeArchiveError", "UnsafePickleError", "Vocabulary", "batchify", "channel_stats",
    "cifar10", "data_dir", "describe_all", "digits", "download", "fetch", "info", "load",
    "load_pickle", "md5sum", "names", "ptb", "pydoc", "register", "safe_extract", "transforms",
    "MULTI30K", "TranslationDataset", "multi30k", "sha256sum", "synthetic_translation",
]


# -- the registry: ``--dataset NAME`` ------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str               # "image" (ImageDataset), "text" (Corpus), "translation"
    loader: Callable        # loader(root=None, download=True, progress=True, **options)
    offline: bool           # True: ships with the installed packages, never downloads
    summary: str


_REGISTRY: dict[str, DatasetInfo] = {}


def register(name: str, loader: Callable, kind: str, offline: bool, summary: str) -> None:
    """Add a dataset under ``name`` (its loader takes ``root``, ``download``, ``progress``)."""
    if kind not in ("image", "text", "translation"):
        raise ValueError(f"kind must be 'image', 'text' or 'translation', got {kind!r}")
    _REGISTRY[name] = DatasetInfo(name, kind, loader, offline, summary)


def names(kind: str | None = None, offline: bool | None = None) -> list[str]:
    """Registered names (optionally of one kind, or only offline / only downloaded ones)."""
    return [n for n, i in _REGISTRY.items()
            if (kind is None or i.kind == kind) and (offline is None or i.offline == offline)]


def info(name: str) -> DatasetInfo:
    try:
        return _REGISTRY[name.lower() if isinstance(name, str) else name]
    except KeyError:
        listing = "; ".join(f"{i.name} ({i.kind}, {'offline' if i.offline else 'download'})"
                            for i in _REGISTRY.values())
        raise ValueError(f"unknown dataset {name!r}; known: {listing}") from None


def load(name: str, root=None, download: bool = True, progress: bool = True, **options):
    """Load the dataset called ``name``: an ``ImageDataset``, a text ``Corpus`` or a
    ``TranslationDataset``."""
    return info(name).loader(root=root, download=download, progress=progress, **options)


def describe_all() -> str:
    """One line per registered dataset (for ``--help`` texts)."""
    name = max(map(len, _REGISTRY), default=0)
    kind = max((len(i.kind) for i in _REGISTRY.values()), default=0)
    return "\n".join(f"{i.name:{name}s} {i.kind:{kind}s} {'offline ' if i.offline else 'download'}"
                     f"  {i.summary}" for i in _REGISTRY.values())


def _register_builtin() -> None:
    register("digits", digits, "image", True,
             "1,797 handwritten digits, 1x8x8 (scikit-learn), train 1,500 / test 297")
    register("cifar10", cifar10, "image", False,
             "CIFAR-10, 3x32x32, train 50,000 / test 10,000 (163 MiB download)")
    register("pydoc", pydoc, "text", True,
             "Python's documentation text, PTB-style, ~70k tokens, 2,000-word vocabulary")
    register("ptb", ptb, "text", False,
             "Penn Treebank (Mikolov), 929k / 74k / 82k tokens, 10,000-word vocabulary (6 MB)")
    register("synthetic-translation", synthetic_translation, "translation", True,
             "generated English-like -> Spanish-like pairs, 8,000 / 500 / 500, ~300-word vocabs")
    register("multi30k", multi30k, "translation", False,
             "Multi30k German -> English captions, 29,000 / 1,014 / 1,000 pairs (3 tar.gz)")


_register_builtin()
