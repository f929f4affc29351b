"""The errors of ``minioptim.data``; each message names the file, folder or checksum to fix."""
from __future__ import annotations


class DataError(Exception):
    """A dataset could not be read or prepared."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset's files are not on this machine and could not be downloaded. The message says
    which file to put in which folder, with its md5 and where it is published."""


class ChecksumError(DataError):
    """A file's md5 is not the published one: it is damaged, truncated or a different file."""


class UnsafeArchiveError(DataError):
    """An archive member would land outside the extraction folder (or is a link or device)."""


class UnsafePickleError(DataError):
    """A pickle asked for an object that the restricted reader does not allow."""
