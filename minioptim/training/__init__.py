"""Training runs: the trainer that lessons, scripts, sweeps and ``minioptim train`` all call.

    config.py      TrainConfig: every setting of a run, checked, to and from JSON
    builders.py    names to objects: models, optimizers (by lowercase name), schedules, data
    tasks.py       image classification and language modelling: batches, loss, evaluation
    trainer.py     Trainer and train(): the loop, progress, faults, stopping, resume
    checkpoint.py  checkpoint.npz without pickle: model, optimizer, schedule, random state
    records.py     config.json, metrics.csv, steps.csv, curves.png
    callbacks.py   per-step hooks: the smoothness probe and the step statistics plug in there

>>> from minioptim.training import train
>>> result = train("resnet8", "digits", "adamw", lr=1e-3, epochs=1, train_batches=3,
...                eval_batches=2, progress=False)
>>> result.final["epoch"], 0 <= result.final["test_accuracy"] <= 1
(1, True)

The names are imported on first use, so the command line can read ``config`` (for its help)
without importing the engine.
"""
from __future__ import annotations

from ..lazy import lazy_names

_NAMES = {"OPTIMIZERS": "builders", "Callback": "callbacks", "Smoothness": "callbacks",
          "StepStatistics": "callbacks", "TrainConfig": "config", "TrainResult": "trainer",
          "Trainer": "trainer", "train": "trainer"}
__all__ = list(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
