"""Independent pieces of one operation, run on all CPU cores, and never much slower than one.

A convolution over a batch is a loop over chunks of images that touch disjoint parts of the
output: copy the chunk's patches, one matrix product. NumPy runs such a loop on one core (its
copies and element-wise work are single-threaded). Run the chunks on a few Python threads instead
and every step runs on every core: NumPy releases the GIL inside copies, ufuncs and BLAS calls,
so the threads really run at once. The same holds for a large matrix product cut into blocks of
rows, and for an element-wise pass cut into slices.

BLAS on one thread. The first time a kernel runs, BLAS (OpenBLAS, MKL) is set to one thread for
the process (``threadpoolctl``), and the kernels cut their large products into blocks
themselves. A multi-threaded BLAS spins its threads in every product, small ones included: on a
machine that other programs keep busy, that made the LSTM language model's step 6-10x slower
than one thread. Blocks handed out one at a time to whichever thread asks are as fast on a quiet
machine (measured: a 700 x 200 x 10,000 product in two blocks 20 ms, in OpenBLAS's two threads
21 ms) and degrade gracefully under load.

Under load. The calling thread always works too: it takes the next chunk not yet taken until
none is left, and then waits only for chunks that a helper thread has started; a helper that did
not get a core in time finds nothing left to do. When the helpers keep missing (a whole
operation of more than a millisecond went by without them, or the caller waited for them longer
than a quarter of the operation, for a fifth of the recent operations), every operation runs
on the calling thread alone for a while (half a second, doubling while it goes on, at most
8 s), then the helpers are tried again. So on
a busy machine the default costs about what one thread costs, and on a quiet one it keeps the
gain of all cores. Small operations (one chunk) always run on the calling thread.

Results never depend on the number of threads: the chunks are fixed by the sizes of the arrays
(never by the thread count), every chunk writes its own part of the output, and partial sums
(a weight gradient summed over chunks) are added up in chunk order afterwards.

    MINIOPTIM_NUM_THREADS=1   run everything on the calling thread
    set_num_threads(n)        the same from Python; num_threads() reads it

On a GPU an operation is a single chunk: one launch covers the whole batch, no thread is used.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from .. import backend
from . import process  # noqa: F401  (BLAS on one thread, from the first kernel on)

ENV_VAR = "MINIOPTIM_NUM_THREADS"

# elements per slice of element-wise work (1 MB of float32: streams well, few hand-overs)
SLICE_ELEMENTS = 1 << 18
# multiply-adds per block of a large matrix product (~1 ms on one core) at the least
BLOCK_FLOPS = 1 << 25
# a helper that let an operation this long (seconds) go by without taking a chunk is missing
MISS_SECONDS = 1e-3
SOLO_FIRST, SOLO_MAX = 0.5, 8.0          # seconds on the calling thread alone after misses
MISS_RATE = 0.2                          # the moving average of misses that starts a pause


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        return os.cpu_count() or 1


def _from_environment() -> int:
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return _cores()
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR} must be a positive integer (threads per operation), got "
                         f"{value!r}")
    return n


class _State:
    threads = _from_environment()
    pool: ThreadPoolExecutor | None = None
    pool_size = 0
    solo_until = 0.0            # time.monotonic() before which operations run on one thread
    solo_seconds = SOLO_FIRST   # the next pause's length
    miss_rate = 0.0             # a moving average of "the helpers missed this operation"


_state = _State()
_local = threading.local()
# A large product is cut into as many blocks as the machine has cores: larger blocks keep BLAS
# efficient (measured on 2 cores, a 700 x 200 x 10,000 layer forward and backward: 68 ms in 2
# blocks, 75-83 ms in 4 to 16). The cores of the machine, not num_threads(): the cut, and so
# the numbers, must not change with the thread setting.
MAX_BLOCKS = max(2, _cores())
_lock = threading.Lock()


def num_threads() -> int:
    """How many threads one operation may use on the CPU."""
    return _state.threads


def set_num_threads(n: int) -> None:
    """Let one CPU operation use ``n`` threads (1: everything on the calling thread)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _state.threads = n
    _state.solo_until, _state.solo_seconds, _state.miss_rate = 0.0, SOLO_FIRST, 0.0


def _forget_pool() -> None:
    # A forked child has the pool object but none of its threads: work handed to it would
    # wait forever. The child makes its own pool on first use.
    _state.pool, _state.pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool() -> ThreadPoolExecutor:
    """The helper threads: num_threads() - 1 of them (the calling thread is the other one)."""
    helpers = max(1, _state.threads - 1)
    with _lock:
        if _state.pool is None or _state.pool_size != helpers:
            if _state.pool is not None:
                _state.pool.shutdown(wait=False)
            _state.pool = ThreadPoolExecutor(helpers, thread_name_prefix="minioptim")
            _state.pool_size = helpers
        return _state.pool


def batch_chunks(array, n: int, per_item: int, target: int) -> list:
    """[(first, last + 1)]: the n items (images, rows) of ``array``'s batch in ranges of about
    ``target`` elements each (``per_item`` elements per item), whole items only. On a GPU one
    range covers the batch: one launch does it all."""
    if backend.backend_of(array).name == "cupy":
        return [(0, n)]
    step = max(1, target // max(1, per_item))
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


def batch_pieces(array, n: int, min_rows: int = 1) -> list:
    """[(first, last + 1)]: the n rows of a batch in at most ``MAX_BLOCKS`` even pieces of at
    least ``min_rows`` rows, for work whose rows are independent; one piece on a GPU."""
    if backend.backend_of(array).name == "cupy":
        return [(0, n)]
    return even_ranges(n, min(MAX_BLOCKS, max(1, n // max(1, min_rows))))


def slices(fn: Callable, flat, target: int | None = None) -> None:
    """fn(s) for consecutive slices s that cover the 1-d array ``flat``, ~``target`` elements
    each (default ``SLICE_ELEMENTS``), on all cores. One call on a GPU."""
    chunks = batch_chunks(flat, flat.shape[0], 1, target or SLICE_ELEMENTS)
    map_chunks(lambda r: fn(slice(r[0], r[1])), chunks)


def even_ranges(n: int, pieces: int) -> list:
    """[(first, last + 1)]: 0..n in ``pieces`` (at most n) consecutive ranges of near-equal size."""
    pieces = max(1, min(pieces, n))
    bounds = [n * i // pieces for i in range(pieces + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def matmul(a, b, add=None):
    """a @ b (+ ``add``, a row of n numbers added to every row) for 2-d arrays, cut into blocks
    on all cores: blocks of rows of a (or of columns of b, when a has too few rows for that);
    each block gets ``add`` while it is still in cache. The cut depends only on the shapes and
    the machine (``BLOCK_FLOPS``, ``MAX_BLOCKS``), never on the thread setting, so the numbers
    are the same on any number of threads. One product on a GPU, or when it is small."""
    (m, k), n = a.shape, b.shape[1]
    blocks = min(MAX_BLOCKS, m * k * n // BLOCK_FLOPS)
    if blocks < 2 or backend.backend_of(a).name == "cupy":
        out = a @ b
        if add is not None:
            out += add
        return out
    xp = backend.array_module(a)
    out = xp.empty((m, n), dtype=xp.result_type(a.dtype, b.dtype))
    if m >= 16 * blocks or m >= n:                  # blocks of rows (contiguous output)
        def rows(r):
            part = out[r[0]:r[1]]
            xp.matmul(a[r[0]:r[1]], b, out=part)
            if add is not None:
                part += add
        map_chunks(rows, even_ranges(m, blocks))
    else:
        def cols(r):
            out[:, r[0]:r[1]] = a @ b[:, r[0]:r[1]]
            if add is not None:
                out[:, r[0]:r[1]] += add[r[0]:r[1]]
        map_chunks(cols, even_ranges(n, blocks))
    return out


class _Work:
    """The items of one map_chunks call, handed out one at a time to whichever thread asks."""

    def __init__(self, fn: Callable, items: Sequence):
        self.fn, self.items = fn, items
        self.results = [None] * len(items)
        self.next = itertools.count()          # next() on a count is atomic under the GIL
        self.remaining = len(items)
        self.by_helpers = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def run(self, helper: bool) -> None:
        _local.inside = True
        try:
            while True:
                i = next(self.next)
                if i >= len(self.items):
                    return
                if self.error is None:
                    try:
                        self.results[i] = self.fn(self.items[i])
                    except BaseException as exc:   # re-raised by the caller
                        self.error = self.error or exc
                with self.lock:
                    self.remaining -= 1
                    self.by_helpers += helper
                    if self.remaining == 0:
                        self.done.set()
        finally:
            _local.inside = False


def _record(work: _Work, busy: float, waited: float) -> None:
    """After an operation: did the helpers help? A miss rate above ``MISS_RATE`` sends the
    operations to the calling thread alone for a while (see the module docstring). Measured on
    the ResNet-20 step: 1 operation in 600 missed on a quiet machine, 30% with four busy
    processes beside it (43% for the LSTM LM)."""
    missed = (work.by_helpers == 0 and busy > MISS_SECONDS) or \
        (waited > MISS_SECONDS and waited > 0.25 * (busy + waited))
    _state.miss_rate = 0.95 * _state.miss_rate + (0.05 if missed else 0.0)
    if _state.miss_rate <= MISS_RATE:
        if not missed:
            _state.solo_seconds = max(SOLO_FIRST, _state.solo_seconds * 0.99)
        return
    _state.solo_until = time.monotonic() + _state.solo_seconds
    _state.solo_seconds = min(SOLO_MAX, 2 * _state.solo_seconds)
    _state.miss_rate = 0.1


def map_chunks(fn: Callable, items: Sequence) -> list:
    """[fn(item) for item in items], the calls spread over ``num_threads()`` threads.

    The calls must be independent (write disjoint outputs). Results come back in the order of
    ``items``; an exception raised by a call is raised here, after every started call has
    finished. With one thread, one item, from inside a call, or while the helpers are found to
    be missing (a busy machine), it is a plain loop on the calling thread."""
    k = min(_state.threads, len(items))
    if k < 2 or getattr(_local, "inside", False) or time.monotonic() < _state.solo_until:
        return [fn(item) for item in items]
    work = _Work(fn, items)
    pool = _pool()
    for _ in range(k - 1):
        pool.submit(work.run, True)
    start = time.perf_counter()
    work.run(False)
    busy = time.perf_counter() - start
    work.done.wait()
    _record(work, busy, time.perf_counter() - start - busy)
    if work.error is not None:
        raise work.error
    return work.results


__all__ = ["ENV_VAR", "batch_chunks", "batch_pieces", "even_ranges", "map_chunks", "matmul",
           "num_threads", "set_num_threads", "slices"]
