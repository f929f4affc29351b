"""Checkpoints as .npz files: no pickle, written to a temporary file and renamed."""
from __future__ import annotations

import os
import tempfile
import zipfile

from .. import backend


def save(model, path) -> None:
    """Write ``model.state_dict()`` to ``path`` (.npz). A crash never leaves a half checkpoint:
    the file appears under its name only once complete."""
    arrays = model.state_dict()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".checkpoint-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            backend.write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())               # on disk before it takes the final name
        os.chmod(tmp, 0o666 & ~_umask())       # mkstemp makes it private; a checkpoint is not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(model, path, strict: bool = True) -> None:
    """Load a checkpoint written by ``save`` into ``model`` (checked like ``load_state_dict``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = backend.read_npz(path)
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a minioptim checkpoint (.npz without pickle): {exc}") \
            from None
    model.load_state_dict(state, strict=strict)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
