"""The data folder, and files that appear under their final name only once complete.

The data folder is ``root`` when given, else ``$MINIOPTIM_DATA``, else ``~/.cache/minioptim``;
each dataset has its own subfolder (``cifar10/``, ``ptb/``).
"""
from __future__ import annotations

import contextlib
import os
import uuid
import zipfile

import numpy as np

ENV_VAR = "MINIOPTIM_DATA"
DEFAULT_DIR = os.path.join("~", ".cache", "minioptim")


def data_dir(root: str | os.PathLike | None = None) -> str:
    """The data folder as an absolute path: ``root``, else ``$MINIOPTIM_DATA``, else
    ``~/.cache/minioptim``. Nothing is created here."""
    if root is None:
        root = os.environ.get(ENV_VAR, "").strip() or DEFAULT_DIR
    return os.path.abspath(os.path.expanduser(os.fspath(root)))


def part_name(dest: str) -> str:
    """A unique temporary name beside ``dest`` (same folder, so the final rename is atomic)."""
    folder, name = os.path.split(dest)
    return os.path.join(folder, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")


def remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


@contextlib.contextmanager
def atomic_file(dest: str):
    """Open a temporary binary file beside ``dest``; it becomes ``dest`` (``os.replace``) only
    when the block finishes without an error, and is deleted otherwise."""
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = part_name(dest)
    try:
        with open(tmp, "xb") as f:
            yield f
        os.replace(tmp, dest)
    except BaseException:
        remove_quietly(tmp)
        raise


def save_npz(dest: str, **arrays) -> None:
    """``np.savez`` under a temporary name, renamed to ``dest`` when complete."""
    with atomic_file(dest) as f:
        np.savez(f, **arrays)


def load_npz(path: str, keys) -> dict[str, np.ndarray] | None:
    """The arrays of an ``.npz`` written by ``save_npz`` (never unpickling anything), or None
    when it is missing, unreadable or lacks one of ``keys``: such a cache is simply rebuilt."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if not set(keys) <= set(z.files):
                return None
            return {k: z[k] for k in keys}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
