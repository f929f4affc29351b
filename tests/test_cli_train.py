"""``minioptim train`` as a user meets it: a subprocess with the system PATH. A run writes its
folder, Ctrl-C stops it with a checkpoint, ``--resume`` ends where one run in one go ends, a
non-finite loss exits 3, and mistakes are one line with exit status 2."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from test_cli import REPO, minioptim, one_line

QUICK = ["--model", "resnet8", "--dataset", "digits", "--optimizer", "adamw", "--lr", "2e-3",
         "--batch-size", "32", "--train-batches", "6", "--eval-batches", "2", "--log-steps"]


@pytest.fixture(autouse=True)
def _once(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("runs the command in its own process; checked once")


def _metrics(folder):
    with open(os.path.join(folder, "metrics.csv"), newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_a_run_and_its_resume_equal_one_run_in_one_go(tmp_path):
    done = minioptim("train", *QUICK, "--epochs", "2", "--out", str(tmp_path / "straight"))
    assert done.returncode == 0, done.stderr
    assert "done: epoch 2" in done.stdout and "test_accuracy" in done.stdout
    assert sorted(os.listdir(tmp_path / "straight")) == [
        "checkpoint.npz", "config.json", "curves.png", "metrics.csv", "steps.csv"]
    first = minioptim("train", *QUICK, "--epochs", "1", "--out", str(tmp_path / "two-part"),
                      "--quiet")
    assert first.returncode == 0 and first.stdout == "", first.stderr
    second = minioptim("train", "--resume", str(tmp_path / "two-part"), "--epochs", "2")
    assert second.returncode == 0, second.stderr
    assert "resuming resnet8 on digits" in second.stdout
    assert _metrics(tmp_path / "two-part") == _metrics(tmp_path / "straight")


def test_ctrl_c_writes_a_checkpoint_and_the_resume_is_exact(tmp_path):
    args = [*QUICK[:-5], "--epochs", "3", "--log-steps"]       # whole epochs: 47 steps each
    straight = minioptim("train", *args, "--quiet", "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    env = {k: v for k, v in os.environ.items() if k != "MINIOPTIM_BACKEND"}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", MPLBACKEND="Agg", PYTHONPATH=str(REPO))
    folder = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "minioptim", "train", *args, "--out",
                             str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    steps = folder / "steps.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:                  # wait until it is in its first epoch
        if steps.exists() and len(steps.read_text().splitlines()) > 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped (SIGINT)" in out and "continue with --resume" in out, out
    assert "Traceback" not in err
    resumed = minioptim("train", "--resume", str(folder), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert _metrics(folder) == _metrics(tmp_path / "straight")
    assert (folder / "steps.csv").read_text() == (tmp_path / "straight" / "steps.csv").read_text()


def test_a_non_finite_loss_exits_3_with_one_line(tmp_path):
    done = minioptim("train", *QUICK, "--optimizer", "sgd", "--lr", "1e6", "--no-batch-norm",
                     "--out", str(tmp_path / "x"), "--quiet")
    assert done.returncode == 3
    err = [line for line in done.stderr.splitlines() if "RuntimeWarning" not in line
           and not line.startswith(" ")]
    assert len(err) == 1 and "stopped: the loss became" in err[0] and "lr 1e+06" in err[0], \
        done.stderr


@pytest.mark.parametrize("args, words", [
    (["--lr", "-1"], ["--lr", "must be > 0"]),
    (["--epochs", "0"], ["--epochs", "must be >= 1"]),
    (["--optimizer", "adam", "--momentum", "0.9"], ["adam takes no momentum", "betas"]),
    (["--optimizer", "nadam"], ["unknown optimizer 'nadam'", "adamw"]),
    (["--model", "resnet7"], ["resnet7", "6n + 2"]),
    (["--model", "lstm"], ["text data", "pydoc"]),
    (["--dataset", "mnist"], ["unknown dataset 'mnist'", "digits"]),
    (["--betas", "0.9"], ["--betas", "expected 2 arguments"]),
    (["--schedule", "step"], ["--schedule", "invalid choice"]),
])
def test_mistakes_are_one_line(tmp_path, args, words):
    done = minioptim("train", *args, "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    one_line(done, *words)
    assert not (tmp_path / "run").exists()              # refused before anything was made


def test_resume_mistakes_are_one_line(tmp_path):
    one_line(minioptim("train", "--resume", str(tmp_path / "none")), "no checkpoint.npz")
    done = minioptim("train", *QUICK, "--epochs", "1", "--out", str(tmp_path / "r"), "--quiet")
    assert done.returncode == 0, done.stderr
    one_line(minioptim("train", "--resume", str(tmp_path / "r"), "--lr", "0.1"),
             "only --epochs may be given", "--lr")
    one_line(minioptim("train", *QUICK, "--out", str(tmp_path / "r")), "a run is already there",
             "--resume")
    one_line(minioptim("train", "--resume", str(tmp_path / "r"), "--backend", "strict"),
             "a resume keeps its backend")
