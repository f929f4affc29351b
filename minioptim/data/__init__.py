"""Datasets and loaders: CIFAR-10 and Penn Treebank in their published formats, offline
defaults that ship with the installed packages, and batches on the active backend.

>>> from minioptim import data
>>> data.names()       # digits and pydoc ship with the installed packages; the others download
['digits', 'cifar10', 'pydoc', 'ptb']
>>> ds = data.load("digits")
>>> ds.train.images.shape, ds.classes[:3]
((1500, 1, 8, 8), ('0', '1', '2'))
>>> train, test = ds.loaders(batch_size=64, seed=0)
>>> x, y = next(iter(train)); x.shape, str(x.dtype), str(y.dtype)
((64, 1, 8, 8), 'float32', 'int64')

Files are cached in the data folder: ``root=`` when given, else ``$MINIOPTIM_DATA``, else
``~/.cache/minioptim`` (``cifar10/cifar-10-python.tar.gz``, ``ptb/ptb.{train,valid,test}.txt``).
Every file is checked against its published md5 before use.
"""
from . import sources, transforms
from .bptt import BPTTIterator, batchify
from .cache import ENV_VAR, data_dir
from .cifar import cifar10
from .datasets import ImageDataset, ImageSplit
from .digits import digits
from .downloads import download, fetch, md5sum
from .errors import (ChecksumError, DataError, DataNotFoundError, UnsafeArchiveError,
                     UnsafePickleError)
from .loader import DataLoader
from .ptb import ptb
from .pydoc_text import pydoc
from .registry import DatasetInfo, describe_all, info, load, names, register
from .text import EOS, UNK, Corpus, Vocabulary
from .transforms import (Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToFloat,
                         channel_stats)

__all__ = [
    "BPTTIterator", "ChecksumError", "Compose", "Corpus", "DataError", "DataLoader",
    "DataNotFoundError", "DatasetInfo", "ENV_VAR", "EOS", "ImageDataset", "ImageSplit",
    "Normalize", "RandomCrop", "RandomHorizontalFlip", "ToFloat", "UNK", "UnsafeArchiveError",
    "UnsafePickleError", "Vocabulary", "batchify", "channel_stats", "cifar10", "data_dir",
    "describe_all", "digits", "download", "fetch", "info", "load", "md5sum", "names", "ptb",
    "pydoc", "register", "sources", "transforms",
]
