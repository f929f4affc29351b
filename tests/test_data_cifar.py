"""CIFAR-10 in its published format: a small cifar-10-python.tar.gz built here the way the real
one is (Python 2 protocol-2 pickles of dicts with b"data" (N, 3072) uint8 rows, channel-major,
b"labels", and batches.meta with b"label_names"), loaded end to end; unsafe archives and
pickles refused; wrong files never used. No network: downloads use file:// URLs."""
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from minioptim import data
from minioptim.data import files, images

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]


pytestmark = pytest.mark.usefixtures("offline")


class Py2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for the real batches: strings as BINSTRING opcodes
    (read back as bytes with encoding="bytes") and numpy globals under numpy.core."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None):
        module, name = obj.__module__, name or obj.__qualname__
        if module.startswith("numpy._core"):
            module = "numpy.core" + module[len("numpy._core"):]
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def make_batches(seed=0, n_train=4, n_test=3):
    """Per batch name: (images (N, 3, 32, 32) uint8, labels) and the pickled bytes."""
    rng = np.random.default_rng(seed)
    out = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else n_train
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        rows = images.reshape(n, 3072)  # red plane, green plane, blue plane: channel-major
        batch = {"batch_label": f"{name} of the test set", "labels": labels, "data": rows,
                 "filenames": [f"img_{i}.png" for i in range(n)]}
        out[name] = (images, np.array(labels), py2_pickle(batch))
    meta = {"num_cases_per_batch": n_train, "label_names": CLASSES, "num_vis": 3072}
    return out, py2_pickle(meta)


def add_bytes(tar, name, payload, **info):
    ti = tarfile.TarInfo(name)
    ti.size = len(payload)
    for k, v in info.items():
        setattr(ti, k, v)
    tar.addfile(ti, io.BytesIO(payload))


def make_tarball(path, seed=0):
    batches, meta = make_batches(seed)
    with tarfile.open(path, "w:gz") as tar:
        d = tarfile.TarInfo("cifar-10-batches-py")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(d)
        for name, (_, _, raw) in batches.items():
            add_bytes(tar, f"cifar-10-batches-py/{name}", raw)
        add_bytes(tar, "cifar-10-batches-py/batches.meta", meta)
        add_bytes(tar, "cifar-10-batches-py/readme.html", b"<html></html>")
    return batches


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    """A small real-format tarball published at a file:// URL, accepted by its own md5."""
    served = tmp_path / "server" / "cifar-10-python.tar.gz"
    served.parent.mkdir()
    batches = make_tarball(served)
    monkeypatch.setattr(images, "CIFAR10", files.RemoteFile(
        "cifar-10-python.tar.gz", served.as_uri(), md5(served)))
    return served, batches


def expected_arrays(batches):
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    return (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]),
            batches["test_batch"][0], batches["test_batch"][1])


def test_the_test_pickle_has_the_real_opcodes():
    raw = py2_pickle({"data": np.zeros((1, 3072), np.uint8), "labels": [3]})
    assert raw.startswith(b"\x80\x02}") and b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert b"U\x04data" in raw  # a Python 2 str, read back as b"data"


def test_tarball_placed_by_hand_loads_end_to_end(tmp_path, fake_cifar):
    served, batches = fake_cifar
    root = tmp_path / "mydata"
    (root / "cifar10").mkdir(parents=True)
    (root / "cifar10" / served.name).write_bytes(served.read_bytes())
    ds = data.cifar10(root=str(root), download=False)
    train_x, train_y, test_x, test_y = expected_arrays(batches)
    assert ds.train.images.dtype == np.uint8 and ds.train.images.shape == (20, 3, 32, 32)
    assert ds.train.labels.dtype == np.int64 and ds.test.images.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(ds.train.images, train_x)
    np.testing.assert_array_equal(ds.train.labels, train_y)
    np.testing.assert_array_equal(ds.test.images, test_x)
    np.testing.assert_array_equal(ds.test.labels, test_y)
    assert ds.classes == tuple(CLASSES)
    # channel-major rows: pixel (c, i, j) is column c*1024 + 32*i + j of the pickled row
    row = batches["data_batch_1"][0].reshape(4, 3072)[2]
    assert ds.train.images[2, 1, 5, 7] == row[1024 + 32 * 5 + 7]
    assert "CIFAR-10" in ds.describe() and "20" in ds.describe()
    # the extraction folder is gone; the converted cache sits beside the tarball
    assert sorted(os.listdir(root / "cifar10")) == ["cifar-10-python.tar.gz", "cifar-10.npz",
                                                    "cifar-10.npz.md5"]


def test_download_then_cache(tmp_path, fake_cifar, monkeypatch):
    served, batches = fake_cifar
    ds = data.load("cifar10", progress=False)  # into $MINIOPTIM_DATA, from the file:// URL
    folder = tmp_path / "cache" / "cifar10"
    assert md5(folder / "cifar-10-python.tar.gz") == md5(served)
    np.testing.assert_array_equal(ds.train.images, expected_arrays(batches)[0])

    def no_second_read(path):
        raise AssertionError("the .npz cache should have been used")
    monkeypatch.setattr(images, "read_tarball", no_second_read)
    again = data.cifar10()
    np.testing.assert_array_equal(again.test.labels, ds.test.labels)
    with np.load(folder / "cifar-10.npz", allow_pickle=False) as z:  # no pickle in our cache
        assert str(z["source_md5"]) == md5(served)


def test_a_damaged_cache_is_rebuilt(tmp_path, fake_cifar):
    data.cifar10(progress=False)
    cache = tmp_path / "cache" / "cifar10" / "cifar-10.npz"
    cache.write_bytes(b"not a zip file")
    assert len(data.cifar10().train) == 20
    assert cache.read_bytes()[:2] == b"PK"


def test_wrong_file_is_never_used(tmp_path, fake_cifar):
    folder = tmp_path / "cache" / "cifar10"
    folder.mkdir(parents=True)
    wrong = folder / "cifar-10-python.tar.gz"
    make_tarball(wrong, seed=1)  # a valid archive, but not the published bytes
    with pytest.raises(data.DataNotFoundError) as err:
        data.cifar10(download=False)
    msg = str(err.value)
    assert md5(wrong) in msg and images.CIFAR10.md5 in msg and str(folder) in msg
    assert not (folder / "cifar-10.npz").exists()
    # with downloads allowed, the verified download replaces it
    ds = data.cifar10(progress=False)
    assert md5(wrong) == md5(fake_cifar[0])
    np.testing.assert_array_equal(ds.train.images, expected_arrays(fake_cifar[1])[0])


def test_offline_error_names_file_folder_md5_and_url(tmp_path):
    with pytest.raises(data.DataNotFoundError) as err:
        data.cifar10(progress=False)  # the real URL: the network is disabled
    msg = str(err.value)
    folder = str(tmp_path / "cache" / "cifar10")
    for part in ("cifar-10-python.tar.gz", folder, "c58f30108f718f92721af3b95e74349a",
                 "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "network disabled",
                 "MINIOPTIM_DATA", "digits"):
        assert part in msg, part
    assert isinstance(err.value, FileNotFoundError)
    assert not os.path.exists(os.path.join(folder, "cifar-10-python.tar.gz"))
    assert [f for f in os.listdir(folder) if f.endswith(".part")] == []


@pytest.mark.parametrize("member", ["../evil.txt", "cifar-10-batches-py/../../evil.txt",
                                    "/tmp/evil_abs.txt"])
def test_members_leaving_the_folder_are_refused(tmp_path, member):
    tgz = tmp_path / "bad.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        add_bytes(tar, "cifar-10-batches-py/ok.txt", b"fine")
        add_bytes(tar, member, b"evil")
    target = tmp_path / "out" / "inside"
    with pytest.raises(data.UnsafeArchiveError, match="refusing"):
        files.safe_extract(str(tgz), str(target))
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not os.path.exists("/tmp/evil_abs.txt")
    assert list(target.rglob("*")) == []  # nothing at all was extracted


def test_links_are_refused(tmp_path):
    tgz = tmp_path / "link.tar"
    with tarfile.open(tgz, "w") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(data.UnsafeArchiveError, match="symbolic link"):
        files.safe_extract(str(tgz), str(tmp_path / "out"))


def test_checks_hold_without_the_tarfile_data_filter(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        add_bytes(tar, "../escape.txt", b"x")
    with pytest.raises(data.UnsafeArchiveError):
        files.safe_extract(str(bad), str(tmp_path / "out"))
    good = tmp_path / "good.tar.gz"
    make_tarball(good)
    files.safe_extract(str(good), str(tmp_path / "out2"))
    assert (tmp_path / "out2" / "cifar-10-batches-py" / "test_batch").is_file()


def test_a_matching_archive_with_an_unsafe_member_is_refused_by_cifar10(tmp_path, monkeypatch):
    tgz = tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz"
    tgz.parent.mkdir(parents=True)
    with tarfile.open(tgz, "w:gz") as tar:
        add_bytes(tar, "../../evil.txt", b"evil")
    monkeypatch.setattr(images, "CIFAR10", files.RemoteFile(tgz.name, "file:///none", md5(tgz)))
    with pytest.raises(data.UnsafeArchiveError):
        data.cifar10(download=False)
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(os.listdir(tgz.parent)) == [tgz.name]  # temporary folder removed


def test_restricted_unpickler_reads_arrays_and_refuses_code():
    arr = np.arange(12, dtype=np.uint8).reshape(2, 6)
    got = files.load_pickle(py2_pickle({"data": arr, "labels": [1, 2]}))
    np.testing.assert_array_equal(got[b"data"], arr)
    assert got[b"labels"] == [1, 2]
    got3 = files.load_pickle(pickle.dumps({b"data": arr}, protocol=2))  # Python 3 numpy
    np.testing.assert_array_equal(got3[b"data"], arr)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    with pytest.raises(data.UnsafePickleError, match="refusing to unpickle"):
        files.load_pickle(pickle.dumps(Evil(), protocol=2))


def test_a_batch_of_the_wrong_shape_is_reported(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_pickle({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}))
    with pytest.raises(data.DataError, match="3072"):
        images.read_batch(str(path))


def test_cifar_batches_reach_the_device_normalized(fake_cifar):
    ds = data.cifar10(progress=False)
    train, test = ds.loaders(batch_size=8, seed=0)
    x, y = next(iter(test))
    x, y = x.numpy(), y.numpy()
    assert x.shape == (3, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    mean, std = ds.channel_stats()
    expected = (ds.test.images / 255.0 - mean[:, None, None]) / std[:, None, None]
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)
    assert len(train) == 3 and sum(len(b[1]) for b in train) == 20


def test_a_read_only_data_folder_still_loads(fake_cifar, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.setattr(images, "save_npz", refuse)
    with pytest.warns(UserWarning, match="could not write the CIFAR-10 cache"):
        ds = data.cifar10(progress=False)
    assert len(ds.train) == 20
