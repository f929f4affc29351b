"""One grid point, as a Dask worker runs it: exactly ``minioptim train`` into ``runs/<id>/``.

A run that finds its own checkpoint (a worker killed in mid-run, a sweep interrupted and called
again) resumes from it, so a retried task ends with the numbers of an uninterrupted one. At the
end ``result.json`` is written (atomically): the row of results.csv, the proof that the run is
finished. ``run.json`` says which process on which host ran it last.
"""
from __future__ import annotations

import os
import socket
import time

RESULT, RUN = "result.json", "run.json"


def row_of(values: dict, history: list, metric: str, higher_is_better: bool, status: str,
           epochs: int) -> dict:
    """results.csv's row of a run: its grid values, final and best metrics, status."""
    row = {"run": None, **values, "status": status, "epochs_done": len(history)}
    final = history[-1] if history else {}
    for k, v in final.items():
        if k not in ("epoch", "seconds"):
            row[f"final_{k}"] = v
    if history:
        pick = max if higher_is_better else min
        best = pick(history, key=lambda r: r[metric])
        row[f"best_{metric}"], row["best_epoch"] = best[metric], best["epoch"]
    row["seconds"] = round(sum(r["seconds"] for r in history), 3)
    row["epochs"] = epochs
    return row


def run_point(folder: str, run: str, values: dict, settings: dict) -> dict:
    """Train the grid point (resuming from its checkpoint if it has one); returns its row."""
    from ..errors import NonFiniteLossError
    from ..training import TrainConfig, Trainer, checkpoint, records

    os.makedirs(folder, exist_ok=True)
    records.write_json(os.path.join(folder, RUN), {"pid": os.getpid(),
                                                   "host": socket.gethostname(),
                                                   "started": time.time()})
    config = TrainConfig.from_dict(settings, where=f"run {run}")
    _threads_for_this_worker()
    resume = os.path.isfile(os.path.join(folder, checkpoint.FILENAME))
    trainer = Trainer(config, folder, progress=False, resume=resume)
    try:
        result = trainer.fit()
        history, status = result.history, "done"
        metric, higher = result.metric, result.higher_is_better
    except NonFiniteLossError as exc:
        history, status = trainer.history, f"diverged at step {exc.step}"
        metric = f"{trainer._split()}_{trainer.task.metric}"
        higher = trainer.task.higher_is_better
    except Exception as exc:
        # Returned, not raised: Dask retries a task whose worker died, and a run that fails by
        # itself would fail again. No result.json, so the next call of the sweep tries again.
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        row = row_of(values, [], "", True, f"failed: {message}",
                     config.epochs)
        row["run"] = run
        return row
    row = row_of(values, history, metric, higher, status, config.epochs)
    row["run"] = run
    records.write_json(os.path.join(folder, RESULT), {"row": row, "settings": settings})
    return row


def _threads_for_this_worker() -> None:
    """The engine's threads: MINIOPTIM_NUM_THREADS when the worker's environment sets it (the
    local cluster does: cores / workers); else the cores shared by the worker's task threads."""
    import autodiff as ad

    if os.environ.get("MINIOPTIM_NUM_THREADS"):
        return
    try:
        from distributed import get_worker
        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return
    ad.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, nthreads)))
