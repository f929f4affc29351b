"""What every experiment writes, written one way: ``NAME.png``, ``NAME.csv`` (long format: one
row per run and step or epoch) and ``NAME_summary.json`` (the numbers the figure states), each
replaced atomically. Presets name the scale of a run:

    smoke  offline data, seconds on 2 CPU cores (the test suite runs it)
    small  offline data, a CPU, 3 seeds: minutes to an hour on 2 cores
    paper  the papers' settings on CIFAR-10 / Penn Treebank (hours to days; a GPU helps)
"""
from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np

from autodiff.files import atomic_write

PRESETS = ("smoke", "small", "paper")


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    return preset


def write_long_csv(path: str, columns, rows) -> str:
    """``rows`` (dicts) under ``columns``; floats with every digit."""
    with atomic_write(path, text=True, fsync=False) as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def _plain(obj):
    """JSON-able: NumPy numbers as Python numbers, NaN and infinities as None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_summary(path: str, summary: dict) -> str:
    with atomic_write(path, text=True, fsync=False) as f:
        json.dump(_plain(summary), f, indent=2)
        f.write("\n")
    return path


def save_figure(fig, path: str, dpi: int = 110) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    with atomic_write(path, fsync=False) as f:
        f.write(buffer.getvalue())
    return path


def outputs(out_dir: str, name: str) -> dict:
    """The three paths of experiment ``name`` in ``out_dir`` (created)."""
    os.makedirs(out_dir, exist_ok=True)
    stem = name.replace("-", "_")
    return {"figure": os.path.join(out_dir, f"{stem}.png"),
            "data": os.path.join(out_dir, f"{stem}.csv"),
            "summary": os.path.join(out_dir, f"{stem}_summary.json")}


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (0 for one value, NaN for none)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def log_scale(ax, axis: str = "y") -> None:
    """A log axis labelled 1, 2, 5 x 10^k in plain numbers (matplotlib's default writes
    "2 x 10^0" on short ranges)."""
    from matplotlib import ticker

    for name in axis:
        which = ax.xaxis if name == "x" else ax.yaxis
        (ax.set_xscale if name == "x" else ax.set_yscale)("log")
        which.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        which.set_major_formatter(ticker.FormatStrFormatter("%g"))
        which.set_minor_formatter(ticker.NullFormatter())
