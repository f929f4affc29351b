"""Extracting a tar archive without letting any member escape the target folder.

Every member is checked before anything is written: only regular files and folders, with
relative names that stay inside ``target`` once resolved; links, devices, absolute names and
``..`` are refused with ``UnsafeArchiveError``. Where Python has the tarfile ``data`` filter
(3.11.4+, 3.12+), extraction also goes through it, which re-checks the same and drops unsafe
permission bits.
"""
from __future__ import annotations

import os
import tarfile

from .errors import UnsafeArchiveError


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
