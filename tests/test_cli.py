"""Every wrong invocation of ``minioptim`` ends in one clear line on stderr and a non-zero exit.

Each case runs the installed command's code in a subprocess (``python -m minioptim``), as a user
would meet it, with the system folders alone on PATH.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def minioptim(*args, env=None, cwd=None, timeout=120):
    environment = {k: v for k, v in os.environ.items() if k != "MINIOPTIM_BACKEND"}
    environment.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "MPLBACKEND": "Agg",
                        "PYTHONPATH": str(REPO)})
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "minioptim", *args], capture_output=True,
                          text=True, env=environment, cwd=cwd, timeout=timeout)


@pytest.fixture(autouse=True)
def _once(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("runs the command in its own process; checked once")


def one_line(done, *words):
    """The command failed with exactly one line on stderr containing every word."""
    err = done.stderr.strip()
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("args, words", [
    (["reproduce", "scale-free", "--seed", "-1"], ["--seed", "must be >= 0", "-1"]),
    (["reproduce", "scale-free", "--seed", "x"], ["--seed", "whole number", "'x'"]),
    (["reproduce", "nope"], ["invalid choice", "scale-free"]),
    (["reproduce", "smoothness", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
     ["--workers sizes a local cluster", "give one of the two"]),
    (["reproduce", "smoothness", "--workers", "0"], ["--workers", "must be >= 1"]),
    (["demo", "--steps", "-5"], ["--steps", "must be >= 0", "-5"]),
    (["demo", "--print-every", "0"], ["--print-every", "must be >= 1"]),
    (["demo", "--lr", "nan"], ["--lr", "finite"]),
    (["demo", "--lr", "-1"], ["--lr", "must be > 0", "-1"]),
    (["demo", "--lr", "inf"], ["--lr", "finite"]),
    (["no-such-command"], ["invalid choice", "demo"]),
])
def test_bad_option_values_name_the_option_and_the_range(args, words):
    done = minioptim(*args)
    assert done.returncode == 2
    one_line(done, *words)


@pytest.mark.parametrize("out, words", [
    ("", ["--out is empty"]),
    ("/proc/nope", ["--out /proc/nope", "cannot write there"]),
    ("/proc", ["--out /proc", "cannot write there"]),
    ("/etc/passwd/sub", ["/etc/passwd is a file, not a folder"]),
])
def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(out, words):
    done = minioptim("reproduce", "scale-free", "--out", out)
    assert done.returncode == 2
    one_line(done, *words)
    assert "reproducing" not in done.stdout


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("x")
    one_line(minioptim("reproduce", "scale-free", "--out", str(taken)), "is a file, not a folder")
    assert taken.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write into any folder")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    done = minioptim("reproduce", "scale-free", "--out", str(folder))
    one_line(done, "cannot write there")
    assert "reproducing" not in done.stdout


@pytest.mark.parametrize("value, words", [
    ("bogus", ["MINIOPTIM_BACKEND='bogus'", "unknown backend", "numpy, cupy, strict"]),
    ("cupy", ["MINIOPTIM_BACKEND='cupy'", "CuPy"]),
])
def test_a_bad_backend_in_the_environment_is_one_line(value, words):
    if value == "cupy" and _cupy_works():
        pytest.skip("CuPy runs here")
    done = minioptim("demo", "--steps", "1", env={"MINIOPTIM_BACKEND": value})
    assert done.returncode == 2
    one_line(done, *words)


def test_backend_option_overrides_the_environment():
    done = minioptim("demo", "--steps", "2", "--backend", "strict",
                     env={"MINIOPTIM_BACKEND": "bogus"})
    assert done.returncode == 0, done.stderr
    assert "backend: strict" in done.stdout


def test_debug_shows_the_traceback():
    done = minioptim("demo", "--steps", "1", "--debug", env={"MINIOPTIM_BACKEND": "bogus"})
    assert done.returncode != 0 and "Traceback" in done.stderr and "BackendError" in done.stderr


def test_a_diverging_run_stops_with_one_line_and_status_3():
    done = minioptim("demo", "--lr", "1e38", "--steps", "20")
    assert done.returncode == 3
    err = [line for line in done.stderr.splitlines() if "minioptim demo" in line]
    assert len(err) == 1 and "the loss became inf at step 1" in err[0] and "too large" in err[0]
    assert "Traceback" not in done.stderr


def test_version_and_help():
    from minioptim import __version__
    done = minioptim("--version")
    assert done.returncode == 0 and done.stdout.startswith(f"minioptim {__version__} (Python ")
    done = minioptim("--help")
    assert done.returncode == 0 and "reproduce" in done.stdout and "demo" in done.stdout


def _cupy_works() -> bool:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def test_the_pytorch_comparison_without_pytorch_says_what_to_install():
    try:
        import torch  # noqa: F401
        pytest.skip("PyTorch is installed here")
    except ImportError:
        pass
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "check_lstm_against_torch.py")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode != 0
    one_line(done, "PyTorch", "pip install -e '.[bench]'")
