"""Files that are never half-written, and ``.npz`` archives that are never unpickled.

This is host-side code (file formats), so it uses NumPy directly; device arrays cross with
``backend.to_numpy`` before they are written.

``atomic_write(path)`` gives a binary file that writes to a hidden temporary name beside
``path`` (``.NAME.PID.RANDOM.part``, same folder, so the final rename is atomic). Only when the
block finishes without an error is the file flushed to disk (fsync) and renamed to ``path``; a
reader sees the old file or the complete new one, never a mixture. The temporary file is removed
when the block raises, when the process receives SIGTERM during the write (main thread only:
Python runs signal handlers there), and, if a ``kill -9`` left it behind, the next time
something is written into that folder (a temporary name whose process no longer exists is
stale). Its permissions are the usual ones for a new file (0666 less the process's umask, read
without changing it), set explicitly because ``mkstemp`` makes files private.

``save_npz(path, arrays)`` writes arrays as ``.npz`` through ``atomic_write``; ``npz_headers``
reads each member's shape and dtype without reading its data (so a caller can check names and
shapes before anything large is read); ``load_npz`` reads the arrays, refusing pickled (object)
members and members whose declared size does not match their data.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import tempfile
import threading
import zipfile

import numpy as np

from . import backend

_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]+\.part$")
_in_progress: set[str] = set()          # temporary files being written by this process
_lock = threading.Lock()


class NpzError(ValueError):
    """An .npz file that is not a plain archive of arrays (damaged, pickled, inconsistent);
    ``path`` is the file, ``reason`` what is wrong with it."""

    def __init__(self, path, reason: str):
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"{self.path}: {reason}")


def _umask() -> int:
    """The process's umask, read without changing it (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:           # someone else's process: alive
        return True
    return True


def remove_stale_parts(folder: str, name: str | None = None) -> list[str]:
    """Delete the temporary files of atomic writes (of ``name``, or of any file) in ``folder``
    whose process no longer exists; returns what was removed."""
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        m = _PART.match(entry)
        if m and (name is None or m["name"] == name) and not _alive(int(m["pid"])):
            path = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                os.remove(path)
                removed.append(path)
    return removed


def _on_sigterm(previous):
    def handler(signum, frame):
        with _lock:
            leftovers = list(_in_progress)
        for path in leftovers:
            with contextlib.suppress(OSError):
                os.remove(path)
        signal.signal(signal.SIGTERM, previous)
        if callable(previous):
            previous(signum, frame)
        else:
            os.kill(os.getpid(), signal.SIGTERM)     # the previous (default) action
    return handler


@contextlib.contextmanager
def _sigterm_cleanup():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:   # ignored, or set outside Python
        yield
        return
    try:
        signal.signal(signal.SIGTERM, _on_sigterm(previous))
    except (ValueError, OSError):     # not allowed here (embedded interpreters)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_write(path, text: bool = False, fsync: bool = True):
    """``with atomic_write(path) as f: f.write(...)``: ``path`` appears complete or not at all
    (see the module docstring). ``text=True`` gives a UTF-8 text file (newlines as written, as
    the csv module wants)."""
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    remove_stale_parts(folder, name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.{os.getpid()}.", suffix=".part")
    with _lock:
        _in_progress.add(tmp)
    try:
        with _sigterm_cleanup():
            with os.fdopen(fd, "wb") as f:
                if text:
                    wrapper = io.TextIOWrapper(f, encoding="utf-8", newline="")
                    yield wrapper
                    wrapper.flush()
                    wrapper.detach()              # f stays open for the fsync below
                else:
                    yield f
                f.flush()
                if fsync:
                    os.fsync(f.fileno())       # on disk before it takes the final name
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    finally:
        with _lock:
            _in_progress.discard(tmp)


def save_npz(path, arrays: dict) -> None:
    """Write ``arrays`` (name -> host or device array) to ``path`` as .npz, atomically."""
    host = {}
    for k, v in arrays.items():
        if not backend.is_array(v) and not isinstance(v, np.ndarray):
            raise TypeError(f"save_npz: '{k}' is a {type(v).__name__}, not an array (a "
                            f"module's buffers must be arrays)")
        host[k] = backend.to_numpy(v)
    for k, v in host.items():
        if v.dtype.hasobject:
            raise TypeError(f"save_npz: '{k}' holds Python objects ({v.dtype}); only numeric "
                            f"and string arrays are saved (no pickle)")
    with atomic_write(path) as f:
        np.savez(f, **host)


def _open_zip(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        what = "a single .npy array" if _starts_with(path, b"\x93NUMPY") else "not a zip archive"
        raise NpzError(path, f"not an .npz archive of arrays: it is {what} ({exc})") from None


def _starts_with(path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _header(z: zipfile.ZipFile, info: zipfile.ZipInfo, path):
    """(shape, dtype, offset of the data) of one .npy member, from its header alone."""
    with z.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = read(f)
        except (ValueError, OSError, EOFError) as exc:
            raise NpzError(path, f"member {info.filename} is not a NumPy array ({exc})") from None
        offset = f.tell()
    if dtype.hasobject:
        raise NpzError(path, f"'{info.filename[:-4]}' holds pickled Python objects; this reader "
                             f"never unpickles (it only reads numeric and string arrays)")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if info.file_size != expected:
        raise NpzError(path, f"member {info.filename} declares shape {shape} of {dtype} "
                             f"({expected - offset} bytes) but holds {info.file_size - offset}; "
                             f"the file is damaged or forged")
    return tuple(shape), dtype, fortran


def npz_headers(path) -> dict:
    """name -> (shape, dtype) of every array in the .npz at ``path``, without reading data."""
    with _open_zip(path) as z:
        out = {}
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                raise NpzError(path, f"member {info.filename} is not a .npy array")
            shape, dtype, _ = _header(z, info, path)
            out[info.filename[:-4]] = (shape, dtype)
        return out


def load_npz(path, check=None) -> dict:
    """name -> host array of the .npz at ``path``. ``check(headers)`` (headers as from
    ``npz_headers``) runs before any data is read and may raise to refuse the file."""
    headers = npz_headers(path)
    if check is not None:
        check(headers)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in headers}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise NpzError(path, f"could not read the arrays ({exc})") from None


__all__ = ["NpzError", "atomic_write", "load_npz", "npz_headers", "remove_stale_parts",
           "save_npz"]
