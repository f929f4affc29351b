"""One registry of datasets, so experiments and the command line can say ``--data NAME``.

>>> names()
['digits', 'cifar10', 'pydoc', 'ptb']
>>> names(kind="text", offline=True)
['pydoc']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str               # "image" (an ImageDataset) or "text" (a Corpus)
    loader: Callable        # loader(root=None, download=True, progress=True, **options)
    offline: bool           # True: ships with the installed packages, never downloads
    summary: str


_REGISTRY: dict[str, DatasetInfo] = {}


def register(name: str, loader: Callable, kind: str, offline: bool, summary: str) -> None:
    """Add a dataset under ``name`` (its loader takes ``root``, ``download``, ``progress``)."""
    if kind not in ("image", "text"):
        raise ValueError(f"kind must be 'image' or 'text', got {kind!r}")
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
    """Load the dataset called ``name``: an ``ImageDataset`` or a text ``Corpus``."""
    return info(name).loader(root=root, download=download, progress=progress, **options)


def describe_all() -> str:
    """One line per registered dataset (for ``--help`` texts)."""
    return "\n".join(f"{i.name:8s} {i.kind:5s} {'offline ' if i.offline else 'download'}  "
                     f"{i.summary}" for i in _REGISTRY.values())


def _register_builtin() -> None:
    from .cifar import cifar10
    from .digits import digits
    from .ptb import ptb
    from .pydoc_text import pydoc

    register("digits", digits, "image", True,
             "1,797 handwritten digits, 1x8x8 (scikit-learn), train 1,500 / test 297")
    register("cifar10", cifar10, "image", False,
             "CIFAR-10, 3x32x32, train 50,000 / test 10,000 (163 MiB download)")
    register("pydoc", pydoc, "text", True,
             "Python's documentation text, PTB-style, ~70k tokens, 2,000-word vocabulary")
    register("ptb", ptb, "text", False,
             "Penn Treebank (Mikolov), 929k / 74k / 82k tokens, 10,000-word vocabulary (6 MB)")


_register_builtin()
