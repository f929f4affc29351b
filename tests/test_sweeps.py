"""Sweeps: the spec is checked whole before anything runs; on a local Dask cluster of two worker
processes (127.0.0.1) a 4-run grid gives the numbers of the same runs made alone, a second call
skips finished runs and resumes unfinished ones, and a worker killed in mid-run has its task
retried so that every row lands with the numbers of an uninterrupted run."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from minioptim.sweeps import SweepSpec
from minioptim.sweeps import report
from minioptim.sweeps.spec import run_id
from minioptim.training import TrainConfig, Trainer
from minioptim.training.records import read_csv
from test_cli import REPO, minioptim, one_line

TRAIN = {"model": "resnet8", "dataset": "digits", "epochs": 2, "batch_size": 32,
         "train_batches": 4, "eval_batches": 2}
GRID = {"optimizer": ["adam", "adamw"], "lr": [0.001, 0.004]}


@pytest.fixture
def first_backend_only(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("a cluster of its own processes; checked once")


def _write(path, spec):
    path.write_text(json.dumps(spec))
    return str(path)


def _numbers(row):
    """The row's numbers, as the CSV holds them (every digit), seconds left out."""
    return {k: float(v) for k, v in row.items() if k.startswith(("final_", "best_"))
            and k != "best_epoch"}


# -- the spec ------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, words", [
    ({"grid": {}}, "at least one setting"),
    ({"grid": {"lr": 0.1}}, "must be a non-empty list"),
    ({"grid": {"learning_rate": [0.1]}}, "'learning_rate' is not a training setting"),
    ({"grid": {"lr": [0.1, 0.1]}}, "lists a value twice"),
    ({"train": {"lr": 0.1}, "grid": {"lr": [0.2]}}, "both fixed in 'train' and swept"),
    ({"grid": {"optimizer": ["adam", "sgd"], "momentum": [0.9]}},
     "grid point optimizer-adam_momentum-0.9: adam takes no momentum"),
    ({"grid": {"lr": [-1.0]}}, "grid point lr--1.0: lr \\(--lr\\) must be"),
    ({"grid": {"optimizer": ["sgdclipgrad"]}}, "SGDClipGrad needs gamma > 0"),
    ({"grid": {"lr": [0.1]}, "workers": 3}, "unknown entries 'workers'"),
    ([1, 2], "must be a JSON object"),
])
def test_a_spec_is_checked_whole_before_anything_runs(spec, words):
    with pytest.raises(ValueError, match=words):
        SweepSpec.from_dict(spec)


def test_points_follow_the_grid_and_have_stable_ids():
    spec = SweepSpec.from_dict({"train": TRAIN, "grid": {**GRID, "seed": [0, 1]}})
    points = spec.points()
    assert len(points) == 8
    assert points[0].id == "optimizer-adam_lr-0.001_seed-0"
    assert points[-1].values == {"optimizer": "adamw", "lr": 0.004, "seed": 1}
    assert points[-1].settings == {**TRAIN, "optimizer": "adamw", "lr": 0.004, "seed": 1}
    assert run_id({"betas": [0.9, 0.99], "weight_decay_mode": "l2"}) == \
        "betas-0.9.0.99_weight_decay_mode-l2"


def test_a_run_that_fails_by_itself_is_a_row_and_is_tried_again_next_time(tmp_path, offline):
    """An error of the run (here: CIFAR-10 is not in the data folder and there is no network)
    comes back as a 'failed' row, not as a task error that Dask would retry, and leaves no
    result.json, so the next call of the sweep tries it again."""
    from minioptim.sweeps import run_point
    settings = {**TRAIN, "dataset": "cifar10", "optimizer": "adam", "data_root": str(tmp_path)}
    row = run_point(str(tmp_path / "run"), "r", {"optimizer": "adam"}, settings)
    assert row["status"].startswith("failed: DataNotFoundError: CIFAR-10 is not available")
    assert not (tmp_path / "run" / "result.json").exists()


# -- the report ----------------------------------------------------------------------------------
def test_the_best_setting_is_the_best_mean_over_seeds(tmp_path):
    rows = []
    for opt, lr, seed, acc in [("adam", 0.1, 0, 0.5), ("adam", 0.1, 1, 0.7),    # mean 0.6
                               ("adam", 0.2, 0, 0.8), ("adam", 0.2, 1, 0.2),    # mean 0.5
                               ("sgd", 0.1, 0, 0.3), ("sgd", 0.1, 1, 0.3)]:
        rows.append({"run": f"{opt}{lr}{seed}", "optimizer": opt, "lr": lr, "seed": seed,
                     "status": "done", "final_test_accuracy": acc})
    rows.append({"run": "bad", "optimizer": "sgd", "lr": 0.2, "seed": 0,
                 "status": "diverged at step 3"})
    best = report.best_settings(rows, ["optimizer", "lr", "seed"])
    assert best[0]["setting"] == {"optimizer": "adam", "lr": 0.1}
    assert best[0]["mean"] == pytest.approx(0.6) and best[0]["std"] == pytest.approx(
        math.sqrt(0.02)) and best[0]["seeds"] == 2
    assert best[1]["setting"] == {"optimizer": "sgd", "lr": 0.1} and best[1]["std"] == 0.0
    report.write_summary(str(tmp_path / "s.md"), str(tmp_path / "s.png"), rows,
                         ["optimizer", "lr", "seed"], "test")
    text = (tmp_path / "s.md").read_text()
    assert "| adam | lr=0.1 | 0.6000 | 0.1414 | 2 |" in text and "diverged at step 3" in text
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert report.numeric_axes(rows, ["optimizer", "lr", "seed"]) == ["lr"]


# -- on a local cluster --------------------------------------------------------------------------
def test_a_sweep_equals_its_runs_alone_and_a_second_call_skips_them(tmp_path,
                                                                    first_backend_only):
    spec = _write(tmp_path / "spec.json", {"train": TRAIN, "grid": GRID})
    done = minioptim("sweep", spec, "--out", str(tmp_path / "sweep"), "--workers", "2",
                     "--quiet", timeout=240)
    assert done.returncode == 0, done.stderr
    assert "local cluster of 2 worker processes" in done.stdout
    assert "dashboard http://127.0.0.1:" in done.stdout
    rows = read_csv(tmp_path / "sweep" / "results.csv")
    assert [r["run"] for r in rows] == [p.id for p in SweepSpec.from_dict(
        {"train": TRAIN, "grid": GRID}).points()]
    assert all(r["status"] == "done" for r in rows)
    for row in (rows[0], rows[3]):                      # two of them, made alone here
        settings = {**TRAIN, "optimizer": row["optimizer"], "lr": float(row["lr"])}
        alone = Trainer(TrainConfig(**settings), tmp_path / row["run"], progress=False).fit()
        expected = {f"final_{k}": v for k, v in alone.final.items() if k not in ("epoch",
                                                                                 "seconds")}
        expected[f"best_{alone.metric}"] = alone.best[alone.metric]
        assert _numbers(row) == expected
    for name in ("summary.md", "summary.png", "spec.json"):
        assert (tmp_path / "sweep" / name).exists()
    again = minioptim("sweep", spec, "--out", str(tmp_path / "sweep"), "--quiet")
    assert again.returncode == 0, again.stderr
    assert "4 already finished, 0 to run" in again.stdout and "dask:" not in again.stdout
    # a wider grid over the same fixed settings runs only the new points
    wider = _write(tmp_path / "wider.json", {"train": TRAIN, "grid": {
        "optimizer": ["adam", "adamw"], "lr": [0.001, 0.004, 0.002]}})
    more = minioptim("sweep", wider, "--out", str(tmp_path / "sweep"), "--workers", "2",
                     "--quiet", timeout=240)
    assert more.returncode == 0, more.stderr
    assert "6 runs, 4 already finished, 2 to run" in more.stdout
    assert len(read_csv(tmp_path / "sweep" / "results.csv")) == 6
    other = _write(tmp_path / "other.json", {"train": {**TRAIN, "epochs": 3}, "grid": GRID})
    one_line(minioptim("sweep", other, "--out", str(tmp_path / "sweep")),
             "holds a sweep with other fixed settings")


def test_a_killed_worker_costs_nothing_but_time(tmp_path, first_backend_only):
    """kill -9 of the worker process running a task: Dask runs the task again, the run resumes
    from its last checkpoint, and its row equals a run made alone."""
    train = {**TRAIN, "epochs": 3, "train_batches": 30, "log_steps": True}
    spec = _write(tmp_path / "spec.json", {"train": train, "grid": GRID})
    env = {k: v for k, v in os.environ.items() if k != "MINIOPTIM_BACKEND"}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", MPLBACKEND="Agg", PYTHONPATH=str(REPO))
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "minioptim", "sweep", spec, "--out",
                             str(out), "--workers", "2", "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    victim, deadline = None, time.monotonic() + 120
    target = out / "runs" / "optimizer-adam_lr-0.001"
    while victim is None and time.monotonic() < deadline:  # in its second epoch: a checkpoint
        steps = target / "steps.csv"                       # exists and work would be lost
        if steps.exists() and len(steps.read_text().splitlines()) > 35:
            victim = json.loads((target / "run.json").read_text())["pid"]
        time.sleep(0.02)
    assert victim is not None, "the run never started"
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert json.loads((target / "run.json").read_text())["pid"] != victim    # ran again
    rows = {r["run"]: r for r in read_csv(out / "results.csv")}
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows.values())
    settings = {**train, "optimizer": "adam", "lr": 0.001}
    alone = Trainer(TrainConfig(**settings), tmp_path / "alone", progress=False).fit()
    got = _numbers(rows["optimizer-adam_lr-0.001"])
    assert got["final_test_accuracy"] == alone.final["test_accuracy"]
    assert got["final_train_loss"] == alone.final["train_loss"]
    assert (target / "steps.csv").read_text() == (tmp_path / "alone" / "steps.csv").read_text()


def test_sweep_mistakes_are_one_line(tmp_path, first_backend_only):
    one_line(minioptim("sweep", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")),
             "no such file")
    bad = _write(tmp_path / "bad.json", {"grid": {"optimizer": ["adam"], "momentum": [0.9]}})
    one_line(minioptim("sweep", bad, "--out", str(tmp_path / "o")), "adam takes no momentum")
    (tmp_path / "text.json").write_text("{not json")
    one_line(minioptim("sweep", str(tmp_path / "text.json"), "--out", str(tmp_path / "o")),
             "not valid JSON")
    one_line(minioptim("sweep", bad, "--out", str(tmp_path / "o"), "--workers", "2",
                       "--scheduler", "tcp://127.0.0.1:1"), "give one of the two")
