"""minioptim: the optimizers of "Understanding Adam and AdamW through Proximal Updates,
Scale-Freeness, and Relaxed Smoothness", and everything that exercises them.

    import minioptim as mo
    opt = mo.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

The names below are imported on first use (``mo.Adam`` imports ``minioptim.optimizers``), so the
``minioptim`` command starts without loading NumPy or the array backend and can report a
mistake such as ``MINIOPTIM_BACKEND=bogus`` in one line.
"""
from __future__ import annotations

from .lazy import lazy_names

__version__ = "0.1.0"

# name -> the submodule that defines it
_NAMES = {
    "Optimizer": "optimizers", "DECAY_MODES": "optimizers", "SGD": "optimizers",
    "SGDNormalized": "optimizers", "SGDClipGrad": "optimizers", "SGDClipMomentum": "optimizers",
    "AdaGrad": "optimizers", "RMSprop": "optimizers", "Adam": "optimizers", "AdamW": "optimizers",
    "AdamProx": "optimizers", "Lion": "optimizers", "GeneralizedSignSGD": "optimizers",
    "SignSGD": "optimizers", "PreconditionedGD": "optimizers", "Point": "optimizers",
    "LRScheduler": "schedules",
    "clip_grad_norm": "clipping", "global_norm": "clipping",
    "NonFiniteLossError": "errors",
}
_SUBMODULES = ("analysis", "cli", "clipping", "course", "data", "demo", "errors", "experiments",
               "models", "optimizers", "problems", "schedules", "sweeps", "training")

__all__ = ["__version__", *_NAMES, *_SUBMODULES]


__getattr__, __dir__ = lazy_names(__name__, _NAMES, _SUBMODULES)
