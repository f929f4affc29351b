"""A sweep's spec: the fixed training settings and the grid, read from JSON and checked whole.

    {"train": {"model": "resnet20", "dataset": "digits", "epochs": 2},
     "grid":  {"optimizer": ["adam", "adamw"], "lr": [1e-3, 3e-3], "seed": [0, 1]}}

Names are those of ``minioptim train`` with underscores (``TrainConfig``'s fields). Every grid
point is checked before anything runs, so a point that does not fit (``momentum`` for Adam) is
named at once, not after an hour of the others. Each point has a stable id made of its grid
values (``optimizer-adamw_lr-0.001_seed-0``): the folder of its run, the same in every call.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass

from ..training.config import FIELDS, TrainConfig


@dataclass
class Point:
    """One run of the grid: its id, its grid values and all its settings."""

    id: str
    values: dict
    settings: dict

    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.settings, where=f"run {self.id}")


@dataclass
class SweepSpec:
    train: dict
    grid: dict
    retries: int = 2

    @classmethod
    def from_dict(cls, d, where: str = "the spec") -> "SweepSpec":
        if not isinstance(d, dict):
            raise ValueError(f"{where} must be a JSON object with 'train' and 'grid', got "
                             f"{type(d).__name__}")
        unknown = sorted(set(d) - {"train", "grid", "retries"})
        if unknown:
            raise ValueError(f"{where}: unknown entries {', '.join(map(repr, unknown))}; a spec "
                             f"has 'train' (fixed settings), 'grid' (lists of values) and "
                             f"optionally 'retries'")
        train, grid = d.get("train", {}), d.get("grid")
        if not isinstance(train, dict):
            raise ValueError(f"{where}: 'train' must be an object of settings")
        if not isinstance(grid, dict) or not grid:
            raise ValueError(f"{where}: 'grid' must be an object of setting -> list of values, "
                             f"with at least one setting")
        for name, values in grid.items():
            if name not in FIELDS or name in ("backend", "extra"):
                raise ValueError(f"{where}: the grid's '{name}' is not a training setting; "
                                 f"known: {', '.join(f for f in FIELDS if f != 'extra')}")
            if not isinstance(values, list) or not values:
                raise ValueError(f"{where}: grid['{name}'] must be a non-empty list of values")
            if len({json.dumps(v) for v in values}) != len(values):
                raise ValueError(f"{where}: grid['{name}'] lists a value twice")
        both = sorted(set(train) & set(grid))
        if both:
            raise ValueError(f"{where}: {', '.join(both)} is both fixed in 'train' and swept in "
                             f"'grid'; keep it in one")
        retries = d.get("retries", 2)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"{where}: 'retries' must be a whole number >= 0, got {retries!r}")
        spec = cls(dict(train), dict(grid), retries)
        spec.points()                                  # every point checked now
        return spec

    @classmethod
    def read(cls, path: str) -> "SweepSpec":
        from ..training.records import read_json
        return cls.from_dict(read_json(path, "sweep spec"), where=path)

    def to_dict(self) -> dict:
        return {"train": self.train, "grid": self.grid, "retries": self.retries}

    def points(self) -> list[Point]:
        """Every grid point, in the order of the grid's lists (the last axis fastest)."""
        names = list(self.grid)
        out, seen = [], set()
        for combo in itertools.product(*(self.grid[n] for n in names)):
            values = dict(zip(names, combo))
            settings = {**self.train, **values}
            if isinstance(settings.get("betas"), list):
                settings["betas"] = tuple(settings["betas"])
            point = Point(run_id(values), values, settings)
            try:
                config = point.config()
                from ..training import builders
                builders.check(config)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"grid point {point.id}: {exc}") from None
            if point.id in seen:
                raise ValueError(f"two grid points have the id {point.id}; make the values "
                                 f"differ in their text")
            seen.add(point.id)
            out.append(point)
        return out


def run_id(values: dict) -> str:
    """``optimizer-adamw_lr-0.001_seed-0``: the grid values, safe as a folder name."""
    parts = []
    for name, value in values.items():
        text = json.dumps(value) if not isinstance(value, str) else value
        parts.append(f"{name}-{re.sub(r'[^A-Za-z0-9.+-]+', '.', text).strip('.')}")
    return "_".join(parts)
