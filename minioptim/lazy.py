"""Names of a package imported on first use, so that ``minioptim --help`` (and a wrong
``MINIOPTIM_BACKEND``) is answered without importing the engine."""
from __future__ import annotations

import importlib


def lazy_names(package: str, names: dict, submodules=()):
    """(``__getattr__``, ``__dir__``) for ``package``: ``names`` maps a name to the submodule
    that defines it; ``submodules`` are importable as attributes."""
    module = importlib.import_module(package)

    def __getattr__(name: str):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name in names:
            value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
            setattr(module, name, value)                 # found directly from now on
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(module)) | set(names) | set(submodules))

    return __getattr__, __dir__
