"""The one place that knows which array library holds device arrays.

Three backends share one interface:

- ``numpy``  — CPU arrays (the default);
- ``cupy``   — GPU arrays through CuPy (``pip install "minioptim[gpu]"``);
- ``strict`` — NumPy underneath, but arrays that behave like CuPy's: they refuse implicit
  conversion to NumPy and refuse to mix with host arrays. It lets a CPU-only machine catch the
  stray ``np.`` call that would break on a GPU.

Device code asks for the array module of the arrays it holds (``array_module(a)``, like
``cupy.get_array_module``) or for the active one (``backend.xp``); it never imports numpy or
cupy itself. Host code (files, plots) uses numpy and crosses with ``asarray`` / ``to_numpy``.

Random numbers come from one host generator (``rng()``, seeded by ``manual_seed``) and are
moved to the device, so the same seed gives the same initial weights on every backend.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import BackendError, DeviceError

KNOWN_BACKENDS = ("numpy", "cupy", "strict")
GPU_INSTALL_HINT = 'pip install "minioptim[gpu]"'
ENV_VAR = "MINIOPTIM_BACKEND"


@dataclass(frozen=True)
class Backend:
    name: str
    xp: Any                                  # the array module (numpy-like namespace)
    array_type: type                         # the class of its arrays
    to_host: Callable[[Any], np.ndarray]     # device array -> numpy array (a copy on GPU)
    from_host: Callable[[np.ndarray], Any]   # numpy array -> device array


def _load_numpy() -> Backend:
    return Backend("numpy", np, np.ndarray, to_host=lambda a: a, from_host=lambda a: a)


def _load_cupy() -> Backend:
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            f"the cupy backend needs CuPy, which is not installed ({exc}). Install it with "
            f"{GPU_INSTALL_HINT} (CUDA 12; on CUDA 13 use `pip install cupy-cuda13x`), or use "
            f"set_backend('numpy')."
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count > 0:
            cupy.zeros(1, dtype=cupy.float32).sum().item()  # fails early on a broken driver
    except Exception as exc:  # CuPy raises several driver/runtime error types
        raise BackendError(
            f"CuPy is installed but no usable GPU was found ({type(exc).__name__}: {exc}). "
            f"Check the NVIDIA driver and that the CuPy package matches its CUDA version "
            f"({GPU_INSTALL_HINT}), or use set_backend('numpy')."
        ) from None
    if count == 0:
        raise BackendError(
            "CuPy is installed but sees no GPU. Run on a machine with an NVIDIA GPU, "
            "or use set_backend('numpy')."
        )
    return Backend("cupy", cupy, cupy.ndarray, to_host=cupy.asnumpy, from_host=cupy.asarray)


def _load_strict() -> Backend:
    from . import backend_strict as strict

    return Backend("strict", strict.xp, strict.StrictArray,
                   to_host=strict.to_numpy, from_host=strict.from_numpy)


_LOADERS = {"numpy": _load_numpy, "cupy": _load_cupy, "strict": _load_strict}
_loaded: dict[str, Backend] = {}
_by_type: dict[type, Backend] = {}
_active: Backend
_random = threading.local()        # each thread's generator (see manual_seed)


def _get(name: str) -> Backend:
    if not isinstance(name, str) or name.lower() not in _LOADERS:
        raise BackendError(
            f"unknown backend {name!r}; known backends: {', '.join(KNOWN_BACKENDS)}"
        )
    name = name.lower()
    if name not in _loaded:
        b = _LOADERS[name]()
        _loaded[name] = b
        _by_type[b.array_type] = b
    return _loaded[name]


def set_backend(name: str) -> None:
    """Make ``name`` ("numpy", "cupy" or "strict") the backend of new tensors and arrays."""
    global _active
    _active = _get(name)


def get_backend() -> str:
    """The name of the active backend."""
    return _active.name


def active() -> Backend:
    return _active


def __getattr__(attr: str):
    # ``backend.xp`` always follows the active backend (PEP 562 module attribute).
    if attr == "xp":
        return _active.xp
    raise AttributeError(f"module 'autodiff.backend' has no attribute {attr!r}")


def backend_of(array) -> Backend | None:
    """The backend an array belongs to, or None for anything that is not a device array."""
    b = _by_type.get(type(array))
    if b is None and not isinstance(array, np.generic):
        for t, cand in _by_type.items():  # subclasses, e.g. np.memmap
            if isinstance(array, t):
                return cand
    return b


def array_module(*arrays):
    """The array module of the given arrays (like ``cupy.get_array_module``); the active one
    when none of them is a device array."""
    for a in arrays:
        b = _by_type.get(type(a))
        if b is not None:
            return b.xp
    return _active.xp


def is_array(obj) -> bool:
    return backend_of(obj) is not None


def is_scalar(obj) -> bool:
    """A Python or NumPy number (never an array): mixes with any backend's arrays."""
    return isinstance(obj, (int, float, bool, np.generic)) and not isinstance(obj, np.ndarray)


def python_scalar(obj):
    """A NumPy scalar as the Python number it holds (Python numbers do not change an array's
    dtype; NumPy's float64 scalars would turn float32 results into float64)."""
    return obj.item() if isinstance(obj, np.generic) else obj


def to_backend(array, name: str):
    """Copy an array to the backend called ``name`` (through the host when they differ)."""
    target, src = _get(name), backend_of(array)
    if src is target:
        return array.copy()
    host = src.to_host(array) if src is not None else np.asarray(array)
    return target.from_host(np.array(host, copy=True))


def cast(array, dtype):
    """``array.astype(dtype)`` without NumPy's overflow warning: values beyond the dtype's range
    become infinities, which the caller checks for and reports in its own words."""
    with np.errstate(over="ignore", invalid="ignore"):
        return array.astype(dtype)


def asarray(data, dtype=None):
    """Put ``data`` (a list, a scalar, a NumPy array or another backend's array) on the active
    backend. This is the explicit host-to-device crossing."""
    src = backend_of(data)
    if src is _active:
        return data if dtype is None else data.astype(dtype, copy=False)
    if src is not None:
        data = src.to_host(data)
    return _active.from_host(np.asarray(data, dtype=dtype))


def host_dtype(data) -> np.dtype:
    """The dtype NumPy gives ``data`` (lists, numbers); object for what it cannot make an
    array of (ragged lists)."""
    try:
        return np.asarray(data).dtype
    except (ValueError, TypeError):
        return np.dtype(object)


def add_at(xp, target, index, values) -> None:
    """target[index] += values in place, repeated positions adding up: NumPy's ``add.at``, and
    on a CuPy without ``ufunc.at`` (before 13) ``cupyx.scatter_add``."""
    at = getattr(xp.add, "at", None)
    if at is None and backend_of(target).name == "cupy":
        import cupyx  # only reached on the cupy backend
        at = cupyx.scatter_add
    at(target, index, values)


def to_numpy(array) -> np.ndarray:
    """Copy a device array to a NumPy array on the host (no copy on the numpy backend)."""
    b = backend_of(array)
    if b is None:
        if isinstance(array, (np.generic, int, float, bool, list, tuple)):
            return np.asarray(array)
        raise DeviceError(f"to_numpy expects an array of a backend, got {type(array).__name__}")
    return b.to_host(array)


def manual_seed(seed: int) -> None:
    """Seed the generator behind every random tensor (initial weights, dropout masks,
    ``ad.randn``), so runs repeat on any backend. Each thread has its own generator (a thread
    that never seeds starts from seed 0), so two threads that each seed and build a model do not
    interleave their draws."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _random.generator = np.random.default_rng(int(seed))


def rng() -> np.random.Generator:
    """This thread's seeded host generator; draw on the host, then ``asarray`` to the device."""
    generator = getattr(_random, "generator", None)
    if generator is None:
        generator = _random.generator = np.random.default_rng(0)
    return generator


def get_rng_state() -> dict:
    """The state of this thread's generator, as plain Python data (JSON-serializable): with
    ``set_rng_state`` a resumed run draws the same dropout masks as one run in one go."""
    return rng().bit_generator.state


def set_rng_state(state: dict) -> None:
    """Put this thread's generator back into a state from ``get_rng_state``."""
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise ValueError(f"set_rng_state expects a state from get_rng_state() (a dict with "
                         f"'bit_generator'), got {type(state).__name__}")
    generator = np.random.default_rng(0)
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"set_rng_state: not a state of NumPy's "
                         f"{type(generator.bit_generator).__name__} generator ({exc})") from None
    _random.generator = generator


def generator(seed: int) -> np.random.Generator:
    """A private host generator, for code that must not disturb the global stream."""
    return np.random.default_rng(seed)


def _from_environment() -> None:
    _get("numpy")  # host arrays are always recognized, whatever the active backend
    requested = os.environ.get(ENV_VAR, "").strip() or "numpy"
    try:
        set_backend(requested)
    except BackendError as exc:
        raise BackendError(f"{ENV_VAR}={requested!r}: {exc}") from None


_from_environment()
