"""``run_sweep``: every grid point as one task on Dask distributed, results collected as they
finish.

By default a ``LocalCluster`` of worker processes on this machine (no set-up), each worker one
task at a time with ``cores / workers`` engine threads, listening on 127.0.0.1 only; with
``scheduler="tcp://host:8786"`` the same tasks go to a running Dask cluster. A task is
``task.run_point``: ``minioptim train`` into ``runs/<id>/``, resuming from that run's checkpoint
when it has one. Dask re-runs the task of a worker that dies (``retries`` more times, and its
own allowed failures), so a killed worker costs the epoch in progress, not the run.
"""
from __future__ import annotations

import json
import logging
import os

from ..training.records import read_csv, read_json, write_json
from . import report
from .spec import SweepSpec
from .task import RESULT, row_of, run_point

SPEC, RESULTS, SUMMARY, FIGURE = "spec.json", "results.csv", "summary.md", "summary.png"


def finished_row(folder: str, settings: dict) -> dict | None:
    """The row of a run that has finished with these settings (its result.json), else None."""
    path = os.path.join(folder, RESULT)
    if not os.path.isfile(path):
        return None
    try:
        saved = read_json(path, "run result")
    except ValueError:
        return None
    same = json.loads(json.dumps(saved.get("settings"))) == json.loads(json.dumps(settings))
    return saved.get("row") if same else None


def _check_folder(out: str, spec: SweepSpec) -> None:
    """A folder that holds a sweep with other fixed settings is refused (its runs' checkpoints
    would not fit); a new grid over the same fixed settings adds runs to it."""
    path = os.path.join(out, SPEC)
    if os.path.isfile(path):
        before = read_json(path, "sweep spec")
        if json.loads(json.dumps(before.get("train"))) != json.loads(json.dumps(spec.train)):
            raise ValueError(f"{out} holds a sweep with other fixed settings ({path}); give "
                             f"another --out, or the same 'train' settings to continue it")
    write_json(path, spec.to_dict())


def start_client(workers: int | None, scheduler: str | None, runs: int, printer=print):
    """A Dask client: of a new LocalCluster, or connected to ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
        printer(f"dask: connected to {scheduler} ({len(client.scheduler_info()['workers'])} "
                f"workers); dashboard {client.dashboard_link}")
        return client, None
    cores = os.cpu_count() or 1
    n = workers or max(1, min(cores, runs))
    env = {"MINIOPTIM_NUM_THREADS": str(max(1, cores // n))}
    if os.environ.get("MINIOPTIM_BACKEND"):
        env["MINIOPTIM_BACKEND"] = os.environ["MINIOPTIM_BACKEND"]
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                           env=env)
    client = Client(cluster)
    printer(f"dask: local cluster of {n} worker processes, {env['MINIOPTIM_NUM_THREADS']} "
            f"engine thread(s) each; dashboard {client.dashboard_link}")
    return client, cluster


def run_sweep(spec: SweepSpec, out: str, workers: int | None = None,
              scheduler: str | None = None, progress: bool = True, printer=print) -> list[dict]:
    """Run every grid point of ``spec`` not yet finished in ``out``; returns all rows (grid
    order) after writing results.csv, summary.md and summary.png."""
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    _check_folder(out, spec)
    axes = list(spec.grid)
    final = run_points(spec.points(), out, axes, spec.retries, workers, scheduler, progress,
                       printer)
    title = f"sweep of {', '.join(axes)}: " + ", ".join(
        f"{k}={v}" for k, v in spec.train.items() if k in ("model", "dataset", "epochs"))
    report.write_summary(os.path.join(out, SUMMARY), os.path.join(out, FIGURE), final, axes,
                         title)
    return final


def run_points(points, out: str, axes, retries: int = 2, workers: int | None = None,
               scheduler: str | None = None, progress: bool = True, printer=print,
               in_process: bool = False, keep_other_rows: bool = False) -> list[dict]:
    """Run the points (``spec.Point``: id, grid values, settings) not yet finished in
    ``out/runs/``, on Dask (or one after another in this process with ``in_process``, for runs
    of a few seconds); rewrites ``out/results.csv`` as they finish (``keep_other_rows``: with
    the rows of earlier calls that are not among these points) and returns every point's row,
    in the order given."""
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    rows: dict[str, dict] = {}
    results_path = os.path.join(out, RESULTS)
    ids = {p.id for p in points}
    others = [r for r in read_csv(results_path) if r.get("run") not in ids] \
        if keep_other_rows and os.path.exists(results_path) else []
    todo = []
    for p in points:
        row = finished_row(os.path.join(out, "runs", p.id), p.settings)
        if row is not None:
            rows[p.id] = row
        else:
            todo.append(p)

    def save():
        report.write_results(results_path,
                             others + [rows[p.id] for p in points if p.id in rows], axes)

    if rows:
        save()
    printer(f"sweep: {len(points)} runs, {len(rows)} already finished, {len(todo)} to run, "
            f"into {out}")
    if todo and in_process:
        for p in todo:
            rows[p.id] = run_point(os.path.join(out, "runs", p.id), p.id, p.values, p.settings)
            save()
            printer(_line(p, rows[p.id]))
    elif todo:
        _run_tasks(todo, out, retries, workers, scheduler, progress, printer, rows, save)
    save()
    return [rows[p.id] for p in points]


def _line(p, row) -> str:
    return f"{p.id}: {row['status']}" + "".join(
        f", {k} {v:.4g}" for k, v in row.items()
        if k.startswith("final_") and k.endswith(("accuracy", "perplexity")))


def _run_tasks(todo, out, retries, workers, scheduler, progress, printer, rows, save) -> None:
    from distributed import as_completed

    client, cluster = start_client(workers, scheduler, len(todo), printer)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc="runs", unit="run", dynamic_ncols=True)
    try:
        futures = {}
        for p in todo:
            folder = os.path.join(out, "runs", p.id)
            future = client.submit(run_point, folder, p.id, p.values, p.settings,
                                   key=f"minioptim-run-{p.id}", pure=False, retries=retries)
            futures[future] = p
        for future in as_completed(futures):
            p = futures[future]
            try:
                row = future.result()
            except Exception as exc:                  # the run failed (after its retries)
                message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                row = row_of(p.values, [], "", True, f"failed: {message}",
                             p.config().epochs)
                row["run"] = p.id
            rows[p.id] = row
            save()
            line = _line(p, row)
            if bar is not None:
                bar.update(1)
                bar.write(line)
            else:
                printer(line)
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
