"""Independent pieces of one operation, run on all CPU cores.

A convolution over a batch is a loop over chunks of images that touch disjoint parts of the
output: copy the chunk's patches, one matrix product. NumPy runs one such loop on one core (its
copies and element-wise work are single-threaded; only the BLAS product may use more). Run the
chunks on a few Python threads instead and every step of the loop runs on every core: NumPy
releases the GIL inside copies, ufuncs and BLAS calls, so the threads really run at once.

While the threads run, BLAS itself is held to one thread (through ``threadpoolctl``): two
threads each asking a multi-threaded BLAS for more threads would oversubscribe the cores.
Measured on the ResNet-20 training step (2 cores): 1.16 s with the chunks on two threads, 1.34 s
with everything on the calling thread and OpenBLAS's own two threads in the products (in
another run: 0.96 s on two threads, 1.19 s on three or four: more threads than cores lose).

Results never depend on the number of threads: every piece writes its own slice of the output,
and partial sums (a weight gradient summed over chunks) are added up in chunk order afterwards.

    MINIOPTIM_NUM_THREADS=1   run everything on the calling thread
    set_num_threads(n)        the same from Python; num_threads() reads it

On a GPU an operation is a single chunk: one launch covers the whole batch, no thread is used.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from .. import backend

ENV_VAR = "MINIOPTIM_NUM_THREADS"


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
    blas = None                                  # threadpoolctl's controller, made on first use
    blas_limit = None                            # the limit in force while blas_users > 0
    blas_users = 0


_state = _State()
_local = threading.local()
_lock = threading.Lock()


def num_threads() -> int:
    """How many threads one operation may use on the CPU."""
    return _state.threads


def set_num_threads(n: int) -> None:
    """Let one CPU operation use ``n`` threads (1: everything on the calling thread)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _state.threads = n


def _forget_pool() -> None:
    # A forked child has the pool object but none of its threads: work handed to it would
    # wait forever. The child makes its own pool on first use.
    _state.pool, _state.pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool() -> ThreadPoolExecutor:
    with _lock:
        if _state.pool is None or _state.pool_size != _state.threads:
            if _state.pool is not None:
                _state.pool.shutdown(wait=True)
            _state.pool = ThreadPoolExecutor(_state.threads, thread_name_prefix="minioptim")
            _state.pool_size = _state.threads
        return _state.pool


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread while any map_chunks runs. Counted, so that two callers on two
    threads of their own restore BLAS's thread count once, after the last of them."""
    with _lock:
        if _state.blas_users == 0:
            if _state.blas is None:
                from threadpoolctl import ThreadpoolController
                _state.blas = ThreadpoolController()
            _state.blas_limit = _state.blas.limit(limits=1, user_api="blas")
        _state.blas_users += 1
    try:
        yield
    finally:
        with _lock:
            _state.blas_users -= 1
            if _state.blas_users == 0:
                _state.blas_limit.restore_original_limits()


def batch_chunks(array, n: int, per_item: int, target: int) -> list:
    """[(first, last + 1)]: the n items (images) of ``array``'s batch in ranges of about
    ``target`` elements each (``per_item`` elements per item), whole items only. On a GPU one
    range covers the batch: one launch does it all."""
    if backend.backend_of(array).name == "cupy":
        return [(0, n)]
    step = max(1, target // max(1, per_item))
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


# elements per slice of element-wise work (1 MB of float32: streams well, few hand-overs)
SLICE_ELEMENTS = 1 << 18


def slices(fn: Callable, flat, target: int = SLICE_ELEMENTS) -> None:
    """fn(s) for consecutive slices s that cover the 1-d array ``flat``, ~``target`` elements
    each, on all cores: for element-wise work (no BLAS) on large arrays. One call on a GPU."""
    chunks = batch_chunks(flat, flat.shape[0], 1, target)
    map_chunks(lambda r: fn(slice(r[0], r[1])), chunks, blas=False)


class _Work:
    """The items of one map_chunks call, handed out one at a time to whichever thread asks."""

    def __init__(self, fn: Callable, items: Sequence):
        self.fn, self.items = fn, items
        self.results = [None] * len(items)
        self.next = itertools.count()          # next() on a count is atomic under the GIL
        self.error = None

    def run(self) -> None:
        _local.inside = True
        try:
            while self.error is None:
                i = next(self.next)
                if i >= len(self.items):
                    return
                self.results[i] = self.fn(self.items[i])
        except BaseException as exc:          # stop the other threads, re-raised by the caller
            self.error = exc
        finally:
            _local.inside = False


def map_chunks(fn: Callable, items: Sequence, blas: bool = True) -> list:
    """[fn(item) for item in items], the calls spread over ``num_threads()`` threads.

    The calling thread and num_threads() - 1 pool threads each take the next item not yet
    taken until none is left, so a core that another program slows down simply does fewer
    items. The calls must be independent (write disjoint outputs). Results come back in the
    order of ``items``; an exception raised by a call is raised here, after every thread has
    stopped. Called from inside a call, or with one thread or one item, it is a plain loop.
    ``blas=False`` says the calls make no BLAS products: BLAS's threads are left alone."""
    k = min(_state.threads, len(items))
    if k < 2 or getattr(_local, "inside", False):
        return [fn(item) for item in items]
    work = _Work(fn, items)
    with _one_blas_thread() if blas else contextlib.nullcontext():
        futures = [_pool().submit(work.run) for _ in range(k - 1)]
        work.run()
        for f in futures:
            f.result()                         # waits for every thread
    if work.error is not None:
        raise work.error
    return work.results


__all__ = ["ENV_VAR", "batch_chunks", "map_chunks", "num_threads", "set_num_threads",
           "slices"]
