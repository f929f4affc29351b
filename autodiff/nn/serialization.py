"""Checkpoints as .npz files: no pickle, written atomically (``autodiff.files``), and checked
against the model before any array is read."""
from __future__ import annotations

import os

from ..files import NpzError, load_npz, save_npz


def save(model, path) -> None:
    """Write ``model.state_dict()`` to ``path`` (.npz). A crash never leaves a half checkpoint:
    the file appears under its name only once complete."""
    save_npz(path, model.state_dict())


def load(model, path, strict: bool = True) -> None:
    """Load a checkpoint written by ``save`` into ``model``. The names and shapes in the file are
    checked against the model from the file's headers, before any data is read (a damaged or
    forged file cannot make it allocate what the model would not hold), then the arrays are
    loaded as ``load_state_dict`` does."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = load_npz(path, check=lambda headers: model.check_state_shapes(
            {k: shape for k, (shape, _) in headers.items()}, strict, source=str(path)))
    except NpzError as exc:
        raise ValueError(f"{path} is not a minioptim checkpoint: {exc.reason}") from None
    model.load_state_dict(state, strict=strict)
