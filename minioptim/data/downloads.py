"""Downloading a published file, and finding a dataset's files (or saying how to place them).

``download(url, dest, md5)`` streams to a temporary file beside ``dest``, checks the md5 and
only then renames it to ``dest``: an interrupted or wrong download never appears under the final
name. ``fetch(files, folder, dataset)`` returns verified local paths, downloading what is missing
when allowed, or raises ``DataNotFoundError`` saying which file to put where, with its md5.
"""
from __future__ import annotations

import hashlib
import os
import sys

from .cache import part_name, remove_quietly
from .errors import ChecksumError, DataError, DataNotFoundError
from .sources import RemoteFile

CHUNK = 1 << 16


def md5sum(path: str, chunk: int = 1 << 20) -> str:
    """The md5 of a file, as 32 hex digits."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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


def download(url: str, dest: str, md5: str, progress: bool = True, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest`` and return ``dest``.

    The bytes go to a temporary file in ``dest``'s folder and their md5 is computed on the way;
    the file is renamed to ``dest`` (``os.replace``) only when it is complete and its md5 is
    ``md5``. On any failure (network error, interruption, wrong checksum) the temporary file is
    deleted and the error raised: nothing is left under ``dest``'s name (an existing ``dest`` is
    left as it was). ``progress`` shows a tqdm bar on stderr.
    """
    import urllib.request  # looked up at call time, so tests can replace urlopen

    dest = os.path.abspath(dest)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = part_name(dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "xb") as out:
            length = getattr(response, "headers", {}).get("Content-Length")
            total = int(length) if length and str(length).isdigit() else None
            h, written = hashlib.md5(usedforsecurity=False), 0
            bar = _progress_bar(total, os.path.basename(dest), progress)
            try:
                while block := response.read(CHUNK):
                    out.write(block)
                    h.update(block)
                    written += len(block)
                    bar.update(len(block))
            finally:
                bar.close()
        if total is not None and written != total:
            raise DataError(f"download of {url} stopped after {written} of {total} bytes; "
                            f"nothing was saved as {dest}. Try again.")
        actual = h.hexdigest()
        if actual != md5.lower():
            raise ChecksumError(
                f"the file downloaded from {url} has md5 {actual}, expected {md5} (a damaged "
                f"transfer, an error page or a different version); it was discarded, "
                f"nothing was saved as {dest}.")
        os.replace(tmp, dest)
    except BaseException:
        remove_quietly(tmp)
        raise
    return dest


def _how_to_place(missing: list[tuple[RemoteFile, str, str]], folder: str, dataset: str) -> str:
    lines = [f"{dataset} is not available: "
             + ("the file below is" if len(missing) == 1 else "the files below are")
             + " missing or wrong and could not be downloaded.",
             f"Put {'it' if len(missing) == 1 else 'them'} into the folder {folder}"
             f" (create it if needed):"]
    for f, _, why in missing:
        size = f" ({f.size:,} bytes)" if f.size else ""
        lines += [f"  - {f.filename}{size}", f"      md5:    {f.md5}",
                  f"      from:   {f.url}", f"      reason: {why}"]
    lines.append("Check a copy with `md5sum FILE` (macOS: `md5 FILE`). To use another data folder, "
                 "pass root=... or set MINIOPTIM_DATA. The offline datasets 'digits' and 'pydoc' "
                 "need no download.")
    return "\n".join(lines)


def fetch(files, folder: str, dataset: str, download_missing: bool = True,
          progress: bool = True) -> list[str]:
    """The verified local paths of ``files`` (``RemoteFile``s) in ``folder``.

    A file already there is used only if its md5 matches. A missing or wrong one is downloaded
    when ``download_missing`` (a verified download replaces a wrong file); otherwise, or if the
    download fails, ``DataNotFoundError`` lists every file still needed: name, folder, md5, URL
    and why it is missing.
    """
    folder = os.path.abspath(folder)
    paths, missing = [], []
    for f in files:
        path = os.path.join(folder, f.filename)
        paths.append(path)
        if os.path.isfile(path):
            actual = md5sum(path)
            if actual == f.md5:
                continue
            why = (f"{path} has md5 {actual}, expected {f.md5}: it is damaged or a different "
                   f"file and is not used; delete or replace it")
        elif os.path.exists(path):
            why = f"{path} exists but is not a regular file"
        else:
            why = f"{path} does not exist"
        if download_missing:
            try:
                download(f.url, path, f.md5, progress=progress)
                continue
            except (OSError, DataError) as exc:  # URLError and timeouts are OSErrors
                why += f"; downloading it failed ({type(exc).__name__}: {exc})"
        else:
            why += "; download=False"
        missing.append((f, path, why))
    if missing:
        raise DataNotFoundError(_how_to_place(missing, folder, dataset))
    return paths
