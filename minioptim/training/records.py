"""What a run writes beside its checkpoint: ``config.json``, ``metrics.csv``, ``steps.csv`` and
``curves.png``. Every file is replaced atomically (``autodiff.files.atomic_write``) except
``steps.csv``, a log appended step by step and cut back to the checkpoint's step on a resume.
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform

from autodiff.files import atomic_write

CONFIG, METRICS, STEPS, CURVES = "config.json", "metrics.csv", "steps.csv", "curves.png"
STEP_COLUMNS = ("step", "epoch", "batch", "loss", "lr", "grad_norm")


def metric_columns(metric: str, split: str) -> tuple[str, ...]:
    """metrics.csv's columns: ``test_accuracy`` for images, ``test_perplexity`` for text (or
    ``valid_...`` when the run evaluates on the validation split)."""
    return ("epoch", "train_loss", f"{split}_loss", f"{split}_{metric}", "lr", "grad_norm",
            "seconds")


def versions() -> dict:
    import numpy

    import autodiff as ad
    from .. import __version__

    found = {"minioptim": __version__, "numpy": numpy.__version__,
             "python": platform.python_version(), "backend": ad.get_backend(),
             "kernels": ad.kernels_enabled(), "threads": ad.num_threads()}
    if ad.get_backend() == "cupy":
        import cupy
        found["cupy"] = cupy.__version__
    return found


def write_json(path: str, data: dict) -> None:
    with atomic_write(path, text=True, fsync=False) as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")


def read_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def write_csv(path: str, columns, rows) -> None:
    """All ``rows`` (dicts) under ``columns``, replacing ``path`` atomically. Floats are written
    with every digit (Python's repr), so a file compares equal to a float."""
    with atomic_write(path, text=True, fsync=False) as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def read_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class StepLog:
    """``steps.csv``: one row per optimizer step, appended and flushed as the run goes."""

    def __init__(self, path: str, keep: int):
        """Open for appending after cutting the file back to its first ``keep`` rows (the steps
        the checkpoint has seen; later rows belong to a run that was interrupted)."""
        self.path = path
        rows = read_csv(path)[:keep] if keep and os.path.exists(path) else []
        write_csv(path, STEP_COLUMNS, rows)
        self._file = open(path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=list(STEP_COLUMNS))

    def write(self, row: dict) -> None:
        self._writer.writerow(row)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def plot_curves(path: str, history: list[dict], metric: str, split: str, title: str,
                lr_curve=None) -> None:
    """Loss (train and evaluation), the evaluation metric and the lr against the epoch;
    ``lr_curve`` = (epochs as fractions, lr of each step) draws the lr step by step."""
    from matplotlib.figure import Figure

    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(11, 3.4))      # margins by hand: a layout engine doubles the time
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.84, wspace=0.33)
    ax_loss, ax_metric, ax_lr = fig.subplots(1, 3)
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r[f"{split}_loss"] for r in history], "s-", label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss (cross-entropy)", title="loss")
    ax_loss.legend()
    ax_metric.plot(epochs, [r[f"{split}_{metric}"] for r in history], "s-", color="C1")
    ax_metric.set(xlabel="epoch", ylabel=f"{split} {metric}", title=f"{split} {metric}")
    if lr_curve is not None:
        ax_lr.plot(*lr_curve, "-", color="C2")
        ax_lr.set(xlabel="epoch", ylabel="lr", title="learning rate (each step)")
    else:
        ax_lr.plot(epochs, [r["lr"] for r in history], "o-", color="C2")
        ax_lr.set(xlabel="epoch", ylabel="lr at the epoch's last step", title="learning rate")
    ax_lr.ticklabel_format(axis="y", useOffset=False)
    ax_lr.set_ylim(bottom=0)
    for ax in (ax_loss, ax_metric, ax_lr):
        ax.grid(alpha=0.3)
        if len(epochs) < 12:
            ax.set_xticks(epochs)
    fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    with atomic_write(path, fsync=False) as f:
        f.write(buffer.getvalue())
