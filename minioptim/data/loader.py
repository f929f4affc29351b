"""``DataLoader``: batches of host arrays, shuffled by a seed, handed out as tensors on the
active backend (as PyTorch's loader hands out tensors: ``model(x)`` takes them as they come).

The dataset stays on the host (NumPy); each batch is gathered by index (a copy of that batch
only), transformed on the host, and crosses to the device with ``autodiff.backend.asarray`` as
the last step, wrapped in an ``autodiff.Tensor`` (no further copy). Memory beyond the dataset is
one batch (up to three with ``prefetch``: queued, being made, in use) plus the epoch's index
permutation.

The epoch's order comes from ``np.random.default_rng([seed, epoch])`` and batch b's
augmentation from ``np.random.default_rng([seed, epoch, b])``: the same seed gives the same
batches on every backend and with or without ``prefetch``, each pass over the loader (``epoch``
counts them; ``set_epoch`` sets it) gets a new order, and an epoch can start at any batch
(``batches(epoch, start=b)``) with exactly the batches b, b+1, ... of a whole pass, which is
how a training run resumes in the middle of an epoch.

With ``prefetch=True`` a background thread prepares the next host batch while the current one is
used (a queue of one). The thread stops when the epoch ends, when the iterator is closed, and
when the iterator is dropped or garbage-collected; it never keeps the iterator alive.
"""
from __future__ import annotations

import inspect
import math
import queue
import threading
import weakref

import numpy as np

from autodiff import backend
from autodiff.tensor import Tensor

_ITEM, _DONE, _ERROR = "item", "done", "error"
_POLL_S = 0.05


def _as_arrays(dataset) -> tuple[np.ndarray, ...]:
    arrays = getattr(dataset, "arrays", dataset)
    if isinstance(arrays, np.ndarray):
        arrays = (arrays,)
    if not isinstance(arrays, (tuple, list)) or not arrays:
        raise TypeError(f"DataLoader expects a split (ImageSplit), a NumPy array or a tuple of "
                        f"NumPy arrays of equal length; got {type(dataset).__name__}")
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            hint = (" (a device array: the dataset stays on the host, convert it with "
                    "autodiff.backend.to_numpy(...))" if backend.is_array(a) else "")
            raise TypeError(f"DataLoader: array {i} of the dataset is a {type(a).__name__}, "
                            f"not a NumPy array{hint}")
        if a.ndim == 0 or len(a) != len(arrays[0]):
            raise ValueError(f"DataLoader: the dataset's arrays must have the same length; got "
                             f"shapes {[x.shape for x in arrays]}")
    return tuple(arrays)


def _takes_rng(transform) -> bool:
    try:
        params = inspect.signature(transform).parameters.values()
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 2


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``, as tensors on the active backend.

    ``dataset``: an ``ImageSplit`` (yields ``(x, y)``), a tuple of NumPy arrays of equal length
    (yields a tuple of batches), or one array (yields one batch). ``transform(x, rng)`` (or
    ``transform(x)``) is applied on the host to the first array's batch, e.g. the image
    transforms of ``minioptim.data.transforms``; without one, batches keep their dtype (uint8
    images stay uint8). ``len(loader)`` is the number of batches in an epoch.

    >>> import numpy as np
    >>> loader = DataLoader((np.arange(10), np.arange(10) % 2), batch_size=4, shuffle=True, seed=0)
    >>> len(loader), [len(x) for x, y in loader]
    (3, [4, 4, 2])
    """

    def __init__(self, dataset, batch_size: int = 128, shuffle: bool = False, seed: int | None = 0,
                 drop_last: bool = False, transform=None, prefetch: bool = False):
        self.arrays = _as_arrays(dataset)
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), seed
        self.drop_last, self.transform, self.prefetch = bool(drop_last), transform, bool(prefetch)
        self._transform_takes_rng = transform is not None and _takes_rng(transform)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration uses (its order and augmentation)."""
        self.epoch = int(epoch)

    def generator(self, epoch: int, batch: int | None = None) -> np.random.Generator:
        """The host generator of ``epoch`` (its shuffle) or of one batch of it (its transform)."""
        if self.seed is None:
            return np.random.default_rng()
        key = [int(self.seed), int(epoch)] + ([] if batch is None else [int(batch)])
        return np.random.default_rng(key)

    def host_batches(self, epoch: int | None = None, start: int = 0):
        """The batches of one epoch from batch ``start`` on, as tuples of NumPy arrays (nothing
        moved to the device)."""
        epoch = self.epoch if epoch is None else epoch
        if not isinstance(start, (int, np.integer)) or not 0 <= start <= len(self):
            raise ValueError(f"start must be a batch index in 0..{len(self)}, got {start!r}")
        n, bs = len(self.arrays[0]), self.batch_size
        order = self.generator(epoch).permutation(n) if self.shuffle else None
        end = n - n % bs if self.drop_last else n
        for b, first in enumerate(range(0, end, bs)):
            if b < start:
                continue
            idx = order[first:first + bs] if order is not None else \
                np.arange(first, min(first + bs, n))
            batch = [a[idx] for a in self.arrays]  # fancy indexing: a copy of this batch only
            if self.transform is not None:
                batch[0] = (self.transform(batch[0], self.generator(epoch, b))
                            if self._transform_takes_rng else self.transform(batch[0]))
            yield tuple(batch)

    def batches(self, epoch: int | None = None, start: int = 0):
        """An iterator over the batches of ``epoch`` (default: the next one) from batch
        ``start`` on, as tensors; it does not advance ``epoch`` (iterating the loader does)."""
        batches = self.host_batches(self.epoch if epoch is None else epoch, start)
        if self.prefetch:
            return _PrefetchIterator(batches, self._to_device)
        return map(self._to_device, batches)

    def _to_device(self, batch):
        moved = tuple(Tensor._make(backend.asarray(a)) for a in batch)
        return moved[0] if len(moved) == 1 else moved

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)

    def __repr__(self):
        return (f"DataLoader({len(self.arrays[0])} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
                f"transform={self.transform!r}, prefetch={self.prefetch})")


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` unless asked to stop first; True when it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            pass
    return False


def _produce(batches, q: queue.Queue, stop: threading.Event) -> None:
    # Runs in the background thread. It holds the batch generator, the queue and the stop event,
    # never the iterator object, so dropping the iterator is seen by its finalizer.
    try:
        for batch in batches:
            if not _put(q, (_ITEM, batch), stop):
                return
        _put(q, (_DONE, None), stop)
    except BaseException as exc:  # handed to the consumer, raised there
        _put(q, (_ERROR, exc), stop)
    finally:
        batches.close()


def _shutdown(thread: threading.Thread, q: queue.Queue, stop: threading.Event) -> None:
    stop.set()
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
    if thread is not threading.current_thread():
        thread.join()


class _PrefetchIterator:
    """Host batches made one ahead by a background thread; device crossing in ``__next__``."""

    def __init__(self, batches, convert):
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()
        self._thread = threading.Thread(target=_produce, args=(batches, self._queue, stop),
                                        name="minioptim-prefetch", daemon=True)
        self._convert, self._done = convert, False
        self._thread.start()
        self._finalizer = weakref.finalize(self, _shutdown, self._thread, self._queue, stop)

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        kind, payload = self._queue.get()
        if kind == _ITEM:
            return self._convert(payload)
        self.close()
        if kind == _ERROR:
            raise payload
        raise StopIteration

    def close(self) -> None:
        """Stop the background thread (waits for it); further ``next`` raises StopIteration."""
        self._done = True
        self._finalizer()
