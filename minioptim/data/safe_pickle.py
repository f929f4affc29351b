"""Reading third-party pickles (CIFAR-10's official python batches) without running code.

minioptim never writes pickles (checkpoints and caches are ``.npz``, loaded with
``allow_pickle=False``). CIFAR-10 is published only as Python-2 pickles, so reading the real
dataset needs an unpickler; this one resolves no global except the three that rebuild a NumPy
array (``_reconstruct``, ``ndarray``, ``dtype``) and, for copies re-pickled by Python 3, a
latin-1-only stand-in for ``_codecs.encode`` / ``bytes``. Dicts, lists, strings, bytes and
numbers need no globals. Anything else (``os.system``, ``builtins.eval``, ...) raises
``UnsafePickleError``.
"""
from __future__ import annotations

import io
import os
import pickle

import numpy as np

from .errors import UnsafePickleError

# numpy's array-rebuilding function, found through the array's own reduce (its module moved
# from numpy.core to numpy._core in NumPy 2; pickles name either).
_RECONSTRUCT = np.empty(0).__reduce__()[0]


def _latin1_bytes(text="", encoding="latin1"):
    # Python 3 writes bytes at protocol 2 as _codecs.encode(text, "latin1"), b"" as bytes();
    # only that exact form is accepted (no other codec, no bytes(n)).
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"refusing to unpickle a call encode({type(text).__name__}, "
                                f"{encoding!r}): only latin-1 text to bytes is allowed")
    return text.encode("latin-1")


ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _latin1_bytes,
    ("__builtin__", "bytes"): _latin1_bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: this reader only rebuilds dicts, lists, "
                f"strings, numbers and NumPy arrays (the content of CIFAR-10's batches); the file "
                f"is not an official dataset file.") from None


def load_pickle(source, encoding: str = "bytes"):
    """Unpickle a path, bytes or binary file with ``RestrictedUnpickler``. ``encoding="bytes"``
    keeps Python 2 strings as bytes (so CIFAR's keys are ``b"data"``, ``b"labels"``)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return RestrictedUnpickler(f, encoding=encoding).load()
    return RestrictedUnpickler(source, encoding=encoding).load()
