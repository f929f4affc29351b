"""Experiments that reproduce the talk's figures; ``minioptim reproduce NAME`` runs them.

The table below names each experiment's module without importing it, so ``minioptim --help``
lists them without loading the array backend. A module defines
``reproduce(out_dir, seed=0, progress=print, preset="small", ...) -> {label: path written}``
and writes ``NAME.png``, ``NAME.csv`` and ``NAME_summary.json`` (``common.py``); the training
experiments run their runs with the trainer on Dask (``runs.py``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str        # the command-line name
    module: str      # minioptim.experiments.<module>
    claim: str       # the talk's claim it reproduces
    summary: str     # what the figure shows (one line for --help)
    times: str       # how long each preset takes (measured on a 2-core CPU)

    def load(self):
        return importlib.import_module(f"{__name__}.{self.module}")


EXPERIMENTS = {e.name: e for e in (
    Experiment("scale-free", "scale_free", "C1-C3",
               "GD, Adam, AdaGrad and Lion with and without preconditioning on ill-conditioned "
               "quadratics (the talk's scale-freeness panels)",
               "every preset: a few seconds"),
    Experiment("adamw-depth", "adamw_depth", "C5/C6",
               "Adam + L2 vs AdamW vs AdamProx on ResNets without batch norm: test error over "
               "the (eta_0, lambda) grid and the best one against depth",
               "smoke ~15 s; small ~50 min (2 busy cores); paper: CIFAR-10, weeks of CPU "
               "(a GPU cluster)"),
    Experiment("sign-sgd", "sign_sgd", "C10",
               "generalized SignSGD vs Adam, SGD, normalized SGD and clipped SGD on a ResNet and "
               "an LSTM language model: training loss and test metric over epochs",
               "smoke ~15 s; small ~20 min (2 busy cores); paper: CIFAR-10 and PTB, days on "
               "a GPU"),
    Experiment("smoothness", "smoothness", "C7/C8",
               "local smoothness along training against the gradient norm, and by layer, for "
               "an LSTM LM (clipped SGD) and ResNet-20",
               "smoke ~10 s; small ~3 min (2 busy cores); paper: PTB and CIFAR-10, hours on a "
               "CPU"),
    Experiment("transformer", "transformer", "C8/C10",
               "generalized SignSGD vs Adam and the SGD variants on a Transformer (translation, "
               "warmup, label smoothing 0.1), and the local smoothness of each of its layers",
               "smoke ~10 s; small ~11 min (2 busy cores); paper: Multi30k, days on a GPU"),
    Experiment("gd-lower-bound", "gd_lower_bound", "C9",
               "GD with the best step size of a grid vs generalized SignSGD on the 1-d "
               "(L0, L1)-smooth construction, with the theorem's lower bound",
               "smoke ~3 s; small ~12 s; paper ~2 min"),
)}
