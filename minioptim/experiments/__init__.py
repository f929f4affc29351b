"""Experiments that reproduce the talk's figures; ``minioptim reproduce NAME`` runs them.

The table below names each experiment's module without importing it, so ``minioptim --help``
lists them without loading the array backend. A module defines
``reproduce(out_dir, seed=0, progress=print, ...) -> {label: path written}``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str        # the command-line name
    module: str      # minioptim.experiments.<module>
    summary: str     # what the figure shows (one line for --help)

    def load(self):
        return importlib.import_module(f"{__name__}.{self.module}")


EXPERIMENTS = {e.name: e for e in (
    Experiment("scale-free", "scale_free",
               "GD, Adam, AdaGrad and Lion with and without preconditioning on ill-conditioned "
               "quadratics (the talk's scale-freeness panels; a few seconds)"),
)}
