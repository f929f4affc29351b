"""Hyperparameter sweeps on Dask distributed: every point of a grid is one ``minioptim train``.

    spec.py     SweepSpec: fixed settings and a grid (JSON), every point checked, stable run ids
    task.py     run_point: the task a worker runs (train or resume into runs/<id>/)
    runner.py   run_sweep: a LocalCluster (or a scheduler address), results as runs finish
    report.py   results.csv, summary.md and summary.png (heatmap over two numeric axes)

``minioptim sweep SPEC.json --out DIR`` is the command; from Python::

    from minioptim.sweeps import SweepSpec, run_sweep
    rows = run_sweep(SweepSpec.read("spec.json"), "sweeps/adamw", workers=2)
"""
from __future__ import annotations

from ..lazy import lazy_names

_NAMES = {"SweepSpec": "spec", "Point": "spec", "run_sweep": "runner", "run_point": "task"}
__all__ = list(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
