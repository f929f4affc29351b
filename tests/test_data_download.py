"""download(): a file appears under its final name only when complete and its md5 matches;
fetch(): verified files, or an error saying which file to put where. No network: file://
URLs and a fake urlopen."""
import hashlib
import os
import urllib.request

import pytest

from minioptim import data
from minioptim.data import files as dl
from minioptim.data.files import RemoteFile

PAYLOAD = bytes(range(256)) * 1000  # 256 kB: several read chunks


pytestmark = pytest.mark.usefixtures("offline")


def md5(b):
    return hashlib.md5(b).hexdigest()


@pytest.fixture
def served(tmp_path):
    path = tmp_path / "server" / "blob.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


def leftovers(folder):
    return [f for f in os.listdir(folder) if f.endswith(".part")]


def test_download_verifies_and_renames(tmp_path, served, capsys):
    dest = tmp_path / "dl" / "blob.bin"
    assert data.download(served.as_uri(), str(dest), md5(PAYLOAD), progress=True) == str(dest)
    assert dest.read_bytes() == PAYLOAD and leftovers(dest.parent) == []
    assert data.md5sum(str(dest)) == md5(PAYLOAD)


def test_checksum_mismatch_is_refused_and_the_file_discarded(tmp_path, served):
    dest = tmp_path / "dl" / "blob.bin"
    with pytest.raises(data.ChecksumError) as err:
        data.download(served.as_uri(), str(dest), "0" * 32, progress=False)
    assert md5(PAYLOAD) in str(err.value) and "0" * 32 in str(err.value)
    assert not dest.exists() and leftovers(dest.parent) == []


def test_checksum_mismatch_leaves_an_existing_file_alone(tmp_path, served):
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"previous")
    with pytest.raises(data.ChecksumError):
        data.download(served.as_uri(), str(dest), "0" * 32, progress=False)
    assert dest.read_bytes() == b"previous"


class HalfwayResponse:
    """A response that sends half of PAYLOAD, then fails (or just ends)."""

    def __init__(self, error):
        self.headers = {"Content-Length": str(len(PAYLOAD))}
        self.sent, self.error = 0, error

    def read(self, n):
        if self.sent >= len(PAYLOAD) // 2:
            if self.error is None:
                return b""
            raise self.error
        chunk = PAYLOAD[self.sent:min(self.sent + n, self.sent + 10_000, len(PAYLOAD) // 2)]
        self.sent += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("error", [ConnectionResetError("peer reset"), KeyboardInterrupt(), None],
                         ids=["reset", "ctrl-c", "truncated"])
def test_an_interrupted_download_leaves_no_file(tmp_path, monkeypatch, error):
    response = HalfwayResponse(error)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: response)
    dest = tmp_path / "dl" / "blob.bin"
    expected = type(error) if error is not None else data.DataError
    with pytest.raises(expected):
        data.download("https://example.invalid/blob.bin", str(dest), md5(PAYLOAD), progress=False)
    assert response.sent == len(PAYLOAD) // 2  # it really stopped halfway
    assert not dest.exists() and leftovers(dest.parent) == []


def test_fetch_uses_a_verified_file_without_downloading(tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"alpha")
    monkeypatch.setattr(dl, "download", lambda *a, **k: pytest.fail("no download expected"))
    spec = RemoteFile("a.txt", "https://example.invalid/a.txt", md5(b"alpha"))
    assert dl.fetch([spec], str(folder), "Alpha") == [str(folder / "a.txt")]


def test_fetch_downloads_what_is_missing(tmp_path, served):
    spec = RemoteFile("blob.bin", served.as_uri(), md5(PAYLOAD))
    (path,) = dl.fetch([spec], str(tmp_path / "new" / "folder"), "Blob", progress=False)
    with open(path, "rb") as f:
        assert f.read() == PAYLOAD


def test_fetch_offline_lists_every_missing_file(tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    (folder / "b.txt").write_bytes(b"corrupted")
    specs = [RemoteFile("a.txt", "https://example.invalid/a.txt", md5(b"a")),
             RemoteFile("b.txt", "https://example.invalid/b.txt", md5(b"b")),
             RemoteFile("c.txt", "https://example.invalid/c.txt", md5(b"c"))]
    with pytest.raises(data.DataNotFoundError) as err:
        dl.fetch(specs, str(folder), "Toy", download_missing=True, progress=False)
    msg = str(err.value)
    assert f"Put them into the folder {folder}" in msg
    for s in specs:
        assert s.filename in msg and s.md5 in msg and s.url in msg
    assert md5(b"corrupted") in msg and "network disabled" in msg
    assert (folder / "b.txt").read_bytes() == b"corrupted"  # left alone, but not used


def test_data_dir_precedence(tmp_path, monkeypatch):
    assert data.data_dir(tmp_path / "x") == str(tmp_path / "x")
    assert data.data_dir() == str(tmp_path / "cache")
    monkeypatch.delenv("MINIOPTIM_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.data_dir() == str(tmp_path / "home" / ".cache" / "minioptim")
