"""autodiff.files: a file appears complete or not at all, temporary files do not pile up, the
umask is never touched, and .npz archives are checked from their headers and never unpickled."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from autodiff import files

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _once(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("host-side files; checked once")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with files.atomic_write(path) as f:
            f.write(b"new, half")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
    with files.atomic_write(path, text=True) as f:
        f.write("line 1\nline 2\n")
    assert path.read_text() == "line 1\nline 2\n" and os.listdir(tmp_path) == ["out.bin"]


def test_the_mode_follows_the_umask_which_is_never_changed(tmp_path, monkeypatch):
    def refuse(*args):
        raise AssertionError("os.umask was called: it changes the mode of every thread's files")
    monkeypatch.setattr(os, "umask", refuse)
    files.save_npz(tmp_path / "a.npz", {"x": np.arange(3)})
    mode = os.stat(tmp_path / "a.npz").st_mode & 0o777
    assert mode == 0o666 & ~files._umask() and not mode & 0o002


def test_stale_temporaries_of_dead_processes_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".model.npz.{dead}.abc123.part"
    stale.write_bytes(b"x" * 100)
    mine = tmp_path / f".model.npz.{os.getpid()}.zzz.part"   # this process: in use, kept
    mine.write_bytes(b"y")
    files.save_npz(tmp_path / "model.npz", {"w": np.ones(2)})
    assert not stale.exists() and mine.exists()
    assert files.load_npz(tmp_path / "model.npz")["w"].tolist() == [1.0, 1.0]


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX")
def test_sigterm_during_a_write_removes_the_temporary(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {REPO!r})
        from autodiff import files
        with files.atomic_write({str(tmp_path / 'big.bin')!r}) as f:
            f.write(b"x" * 1000)
            print("writing", flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert any(n.endswith(".part") for n in os.listdir(tmp_path))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM          # still dies of SIGTERM
    assert os.listdir(tmp_path) == []


def test_npz_headers_are_read_without_the_data(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, w=np.zeros((3, 4), np.float32), n=np.array(7))
    assert files.npz_headers(path) == {"w": ((3, 4), np.dtype("float32")),
                                       "n": ((), np.dtype(np.array(7).dtype))}


def test_a_header_that_lies_about_its_size_is_refused_before_allocating(tmp_path):
    real = tmp_path / "real.npy"
    np.save(real, np.zeros(4))
    header = real.read_bytes()
    forged = header.replace(b"(4,)", b"(1000000000000,)".ljust(4, b" "))
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", forged)
    start = time.perf_counter()
    with pytest.raises(files.NpzError, match=r"declares shape \(1000000000000,\).*damaged or forged"):
        files.load_npz(path)
    assert time.perf_counter() - start < 1.0


def test_a_check_on_the_headers_runs_before_any_data_is_read(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, w=np.zeros((50, 1000, 1000), np.uint8))   # 50 MB inflated
    assert os.path.getsize(path) < 1_000_000
    seen = []

    def check(headers):
        seen.append(headers)
        raise ValueError("the model wants w of shape (3,)")
    with pytest.raises(ValueError, match="wants w of shape"):
        files.load_npz(path, check=check)
    assert seen == [{"w": ((50, 1000, 1000), np.dtype("uint8"))}]


def test_object_arrays_are_neither_written_nor_read(tmp_path):
    with pytest.raises(TypeError, match="Python objects"):
        files.save_npz(tmp_path / "o.npz", {"o": np.array([{"a": 1}], dtype=object)})
    np.savez(tmp_path / "p.npz", o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(files.NpzError, match="pickled Python objects"):
        files.load_npz(tmp_path / "p.npz")
