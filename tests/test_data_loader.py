"""DataLoader (seeded batches on the active backend, prefetch thread that always stops), the
image transforms on known arrays, the offline image default and the dataset registry."""
import gc
import threading
import time

import numpy as np
import pytest

import autodiff as ad
from autodiff import backend
from minioptim import data
from minioptim.data import transforms as T


pytestmark = pytest.mark.usefixtures("offline")


def images(n=10, c=2, h=4, w=5):
    return np.arange(n * c * h * w, dtype=np.uint8).reshape(n, c, h, w)


def host(batch):
    return tuple(a.numpy() for a in batch)


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "minioptim-prefetch"]


def wait_no_prefetch_threads():
    deadline = time.monotonic() + 2.0
    while prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return prefetch_threads()


# ---- transforms on known arrays -----------------------------------------------------------

def test_pad_and_crop_on_a_known_array():
    x = images(n=2, c=1, h=3, w=3)
    p = T.pad(x, 2)
    assert p.shape == (2, 1, 7, 7) and p[0, 0, :2].sum() == 0 and p[0, 0, :, -2:].sum() == 0
    np.testing.assert_array_equal(p[:, :, 2:5, 2:5], x)
    c = T.crop(p, tops=np.array([2, 0]), lefts=np.array([2, 4]), size=(3, 3))
    np.testing.assert_array_equal(c[0], x[0])  # the centre window is the image itself
    np.testing.assert_array_equal(c[1, 0], [[0, 0, 0], [0, 0, 0], [11, 0, 0]])


def test_random_crop_windows_come_from_the_zero_padded_image():
    x = images(n=64, c=3, h=6, w=6)
    out = T.RandomCrop(padding=4)(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.uint8
    padded = T.pad(x, 4)
    offsets = set()
    for i in range(len(x)):
        hits = [(top, left) for top in range(9) for left in range(9)
                if np.array_equal(padded[i, :, top:top + 6, left:left + 6], out[i])]
        assert hits, f"image {i} is no window of its padded image"
        offsets.add(hits[0])
    assert len(offsets) > 20  # each image draws its own offset, across the full range
    tops, lefts = zip(*offsets, strict=True)
    assert min(tops) == min(lefts) == 0 and max(tops) == max(lefts) == 8


def test_flip_on_a_known_array():
    x = images(n=3, c=2, h=2, w=3)
    f = T.hflip(x, [True, False, True])
    np.testing.assert_array_equal(f[0], x[0, :, :, ::-1])
    np.testing.assert_array_equal(f[1], x[1])
    np.testing.assert_array_equal(f[2, 1, 0], [x[2, 1, 0, 2], x[2, 1, 0, 1], x[2, 1, 0, 0]])
    flips = T.RandomHorizontalFlip()(images(n=400, c=1, h=1, w=2), np.random.default_rng(1))
    frac = np.mean(flips[:, 0, 0, 0] > flips[:, 0, 0, 1])
    assert 0.4 < frac < 0.6


def test_normalization_uses_training_statistics():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(50, 3, 4, 4), dtype=np.uint8)
    mean, std = T.channel_stats(x)
    scaled = x / 255.0
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-10)
    out = T.Compose([T.ToFloat(), T.Normalize.from_images(x)])(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)
    with pytest.raises(ValueError, match="ToFloat"):
        T.Normalize(mean, std)(x)


# ---- DataLoader ---------------------------------------------------------------------------

def test_batches_cover_the_data_once_per_epoch():
    x, y = images(n=10), np.arange(10, dtype=np.int64)
    loader = data.DataLoader((x, y), batch_size=4, shuffle=True, seed=0)
    assert len(loader) == 3
    batches = [host(b) for b in loader]
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    labels = np.concatenate([b[1] for b in batches])
    assert sorted(labels) == list(range(10)) and labels.tolist() != list(range(10))
    for bx, by in batches:
        np.testing.assert_array_equal(bx, x[by])  # inputs and labels stay paired
    dropped = data.DataLoader((x, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(host(b)[1]) for b in dropped] == [4, 4]
    in_order = [host(b)[1].tolist() for b in data.DataLoader((x, y), batch_size=4)]
    assert in_order == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_are_tensors_of_the_active_backend(backend_name):
    split = data.ImageSplit(images(n=6), np.arange(6))
    xb, yb = next(iter(data.DataLoader(split, batch_size=4, transform=T.ToFloat())))
    assert isinstance(xb, ad.Tensor) and xb.backend == backend_name and yb.backend == backend_name
    assert not xb.requires_grad
    assert str(xb.dtype) == "float32" and str(yb.dtype) == "int64"
    raw = next(iter(data.DataLoader(split, batch_size=4)))[0]
    assert str(raw.dtype) == "uint8"  # no transform: the dtype is kept
    # a batch is a copy: writing into it does not touch the dataset
    raw.data[...] = 0
    assert split.images[:4].any()


def test_same_seed_same_batches_new_epoch_new_order():
    split = data.ImageSplit(images(n=32, c=1, h=6, w=6), np.arange(32) % 10)
    tf = T.Compose([T.RandomCrop(padding=2), T.RandomHorizontalFlip(), T.ToFloat()])

    def run(seed, epochs=2, **kw):
        loader = data.DataLoader(split, batch_size=8, shuffle=True, seed=seed, transform=tf, **kw)
        return [[host(b) for b in loader] for _ in range(epochs)]

    a, b, c = run(5), run(5), run(6)
    for ea, eb in zip(a, b, strict=True):
        for (xa, ya), (xb, yb) in zip(ea, eb, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][0][1], a[1][0][1])  # epoch 1 is shuffled differently
    assert not np.array_equal(a[0][0][1], c[0][0][1])  # another seed, another order
    p = run(5, prefetch=True)  # prefetching changes nothing
    for ea, ep in zip(a, p, strict=True):
        for (xa, ya), (xp, yp) in zip(ea, ep, strict=True):
            np.testing.assert_array_equal(xa, xp)
            np.testing.assert_array_equal(ya, yp)
    assert wait_no_prefetch_threads() == []


def test_prefetch_thread_stops_when_exhausted_dropped_or_closed():
    split = (images(n=50), np.arange(50))
    loader = data.DataLoader(split, batch_size=5, prefetch=True)
    assert len(list(loader)) == 10
    assert prefetch_threads() == []  # joined before StopIteration

    it = iter(loader)
    next(it)
    assert len(prefetch_threads()) == 1
    del it  # dropped mid-epoch (a `break` out of the loop)
    gc.collect()
    assert wait_no_prefetch_threads() == []

    for i, _ in enumerate(loader):
        if i == 2:
            break
    gc.collect()
    assert wait_no_prefetch_threads() == []

    it = iter(loader)
    next(it)
    it.close()
    assert prefetch_threads() == [] and list(it) == []


def test_prefetch_passes_errors_to_the_consumer():
    def bad(x):
        if x[0, 0, 0, 0] >= 20:  # the second batch
            raise RuntimeError("bad batch")
        return x
    loader = data.DataLoader((images(n=10, c=1, h=2, w=2), np.arange(10)), batch_size=5,
                             transform=bad, prefetch=True)
    it = iter(loader)
    next(it)
    with pytest.raises(RuntimeError, match="bad batch"):
        next(it)
    assert wait_no_prefetch_threads() == []


def test_loader_refuses_device_arrays_and_mismatched_lengths(backend_name):
    if backend_name != "numpy":  # on numpy, device arrays are host arrays
        with pytest.raises(TypeError, match="to_numpy"):
            data.DataLoader((backend.asarray(np.zeros(3)),), batch_size=2)
    with pytest.raises(ValueError, match="same length"):
        data.DataLoader((np.zeros(3), np.zeros(4)), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(np.zeros(3), batch_size=0)


# ---- offline image default and registry ---------------------------------------------------

def test_digits_load_offline_with_a_fixed_split(monkeypatch):
    from minioptim.data import files as downloads
    monkeypatch.setattr(downloads, "download", lambda *a, **k: pytest.fail("no download"))
    ds = data.load("digits")
    assert ds.train.images.shape == (1500, 1, 8, 8) and ds.test.images.shape == (297, 1, 8, 8)
    assert ds.train.images.dtype == np.uint8 and ds.train.labels.dtype == np.int64
    assert ds.train.images.max() == 255 and ds.classes == tuple("0123456789")
    assert np.bincount(ds.train.labels).min() > 120  # every digit well represented
    again = data.digits()
    np.testing.assert_array_equal(again.test.labels, ds.test.labels)
    all_imgs = np.concatenate([ds.train.images, ds.test.images]).reshape(1797, -1)
    assert len(np.unique(all_imgs, axis=0)) > 1700  # train and test are disjoint images
    desc = ds.describe()
    assert "1,797" in desc and "1x8x8" in desc and "CIFAR-10" in desc
    train_tf, _ = ds.transforms()
    assert not any(isinstance(t, T.RandomHorizontalFlip) for t in train_tf.transforms)
    train, test = ds.loaders(batch_size=100, seed=0, prefetch=True)
    xb, yb = host(next(iter(train)))
    assert xb.shape == (100, 1, 8, 8) and xb.dtype == np.float32 and yb.shape == (100,)
    assert sum(len(host(b)[1]) for b in test) == 297


def test_registry_names_and_errors():
    assert data.names() == ["digits", "cifar10", "pydoc", "ptb", "synthetic-translation",
                            "multi30k"]
    assert data.names(kind="image") == ["digits", "cifar10"]
    assert data.names(offline=True) == ["digits", "pydoc", "synthetic-translation"]
    assert data.info("CIFAR10").kind == "image"
    with pytest.raises(ValueError, match="digits"):
        data.load("mnist")
    assert "ptb" in data.describe_all()


@pytest.mark.parametrize("module", ["__init__", "transforms", "loader", "text"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    mod = importlib.import_module("minioptim.data" + ("" if module == "__init__" else "." + module))
    backend.set_backend("numpy")  # examples show host-style output (the fixture restores)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
