"""Training runs for the experiments: each run is a ``minioptim train`` run (the trainer's code)
in ``<out>/<name>_runs/runs/<id>/``, run on Dask through the sweep machinery (or one after
another in this process for the smoke preset), finished runs skipped when called again.
"""
from __future__ import annotations

import math
import os

from ..sweeps.runner import run_points
from ..sweeps.spec import Point, run_id
from ..training.records import read_csv


def point(values: dict, settings: dict) -> Point:
    """A run: ``values`` name it (its id), ``settings`` are the TrainConfig fields."""
    return Point(run_id(values), dict(values), dict(settings))


def runs_folder(name: str, out_dir: str) -> str:
    """``<out>/<name>_runs``: its ``runs/<id>/`` hold the runs, ``results.csv`` a row each."""
    return os.path.join(out_dir, f"{name.replace('-', '_')}_runs")


def run_all(name: str, out_dir: str, points, workers=None, scheduler=None, in_process=False,
            progress=print) -> str:
    """Run every point (each id once); returns the folder that holds ``runs/<id>/``."""
    folder = runs_folder(name, out_dir)
    unique = list({p.id: p for p in points}.values())
    axes = sorted({k for p in unique for k in p.values}, key=lambda k: (k != "model", k))
    run_points(unique, folder, axes, workers=workers, scheduler=scheduler, progress=False,
               printer=progress, in_process=in_process, keep_other_rows=True)
    return folder


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def history(folder: str, p: Point) -> list[dict]:
    """metrics.csv of a run, as numbers (empty if the run wrote none)."""
    path = os.path.join(folder, "runs", p.id, "metrics.csv")
    if not os.path.exists(path):
        return []
    return [{k: _number(v) for k, v in row.items()} for row in read_csv(path)]


def table(folder: str, p: Point, name: str) -> list[dict]:
    """Another CSV of a run (steps.csv, smoothness.csv), as numbers."""
    path = os.path.join(folder, "runs", p.id, name)
    if not os.path.exists(path):
        return []
    return [{k: _number(v) for k, v in row.items()} for row in read_csv(path)]


def final(rows: list[dict], key: str) -> float:
    return float(rows[-1][key]) if rows else math.nan
