"""The process-wide settings the kernels make the first time one runs, in one place.

1. BLAS on one thread (through ``threadpoolctl``): the kernels cut their large products into
   blocks on their own threads (``threads.py`` says why: a multi-threaded BLAS spins in every
   product and turns a busy machine into a 6-10x slowdown).
2. glibc keeps freed memory for the next allocation. By default it returns a large freed block
   to the operating system at once and maps fresh zeroed pages for the next one: a ResNet-20
   training step, which frees and allocates the same activation-sized arrays over and over, then
   page-faults ~23,000 times. With ``M_MMAP_THRESHOLD`` at 256 MiB and ``M_TRIM_THRESHOLD`` at
   1 GiB the blocks are reused (measured here: the ResNet-20 step 10% faster, the LSTM LM step
   16%; the peak memory is unchanged, but memory a program frees is kept by the process until
   it exits). Linux with glibc only; ``MINIOPTIM_MALLOC=default`` keeps glibc's settings, and so
   do glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` when set.
"""
from __future__ import annotations

import ctypes
import os
import sys

MALLOC_ENV = "MINIOPTIM_MALLOC"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def blas_on_one_thread() -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:          # without threadpoolctl BLAS keeps its own setting
        return
    threadpool_limits(limits=1, user_api="blas")


def keep_freed_memory() -> bool:
    """Set glibc's thresholds (see the module docstring); True when they were set."""
    if not sys.platform.startswith("linux") or os.environ.get(MALLOC_ENV, "") == "default":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):     # not glibc (musl, ...)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 256 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))


blas_on_one_thread()
MALLOC_TUNED = keep_freed_memory()
