"""Hypothesis strategies shared by the operator tests.

Everything here is drawn on the host (NumPy arrays, Python tuples); tests move data to the
active backend with ``device(...)`` so the same tests run on numpy, strict and cupy.

Values are kept away from the points where a primitive is not differentiable, so finite
differences (eps = 1e-6 in ``ad.gradcheck``) never straddle a kink:

- ``away_from_zero``: |x| >= 0.1 (abs, relu, division denominators);
- ``positive``: x >= 0.1 (log, sqrt, fractional and negative powers);
- ``distinct``: values drawn from a grid without repetition, so no two entries (of one array,
  or of several arrays drawn together) are tied, and all have |x| >= 0.1 (max, min,
  maximum, minimum). The grid spacing (~7e-4) is far above eps.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad

MAX_DIMS = 4
MAX_SIDE = 4
# gradcheck costs two forward passes per input entry; cap the size of checked inputs.
GRAD_MAX_SIZE = 48


def size_of(shape) -> int:
    return math.prod(shape)


def device(host: np.ndarray, requires_grad: bool = True) -> ad.Tensor:
    """A tensor on the active backend holding a copy of the host array, same dtype."""
    grad = requires_grad and host.dtype.kind == "f"
    return ad.Tensor(host, dtype=str(host.dtype), requires_grad=grad)


# -- shapes -------------------------------------------------------------------------------------
def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, max_size: int | None = None):
    """Shapes with 0..4 dimensions of sizes 1..4 (optionally at most ``max_size`` entries)."""
    s = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE)
    return s if max_size is None else s.filter(lambda sh: size_of(sh) <= max_size)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_size: int | None = None):
    """``num_shapes`` mutually broadcastable shapes, as a tuple of shapes (the result shape of
    broadcasting them is ``np.broadcast_shapes(*shapes)``)."""
    s = hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims,
                                          max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE)
    s = s.map(lambda bs: tuple(bs.input_shapes))
    if max_size is not None:
        s = s.filter(lambda shs: all(size_of(sh) <= max_size for sh in shs)
                     and size_of(np.broadcast_shapes(*shs)) <= 2 * max_size)
    return s


def matmul_shapes(max_size: int | None = None):
    """Operand shapes for ``a @ b`` following NumPy's matmul rules: 1-d operands, 2-d, and
    batched operands whose batch dimensions broadcast."""
    s = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                          min_side=1, max_side=MAX_SIDE)
    s = s.map(lambda bs: tuple(bs.input_shapes))
    if max_size is not None:
        s = s.filter(lambda shs: all(size_of(sh) <= max_size for sh in shs))
    return s


# -- axes ---------------------------------------------------------------------------------------
@st.composite
def axes(draw, ndim: int, allow_none: bool = True):
    """An ``axis`` argument for a reduction: None, an int (maybe negative) or a tuple of
    distinct axes (each maybe negative)."""
    if ndim == 0:
        return None
    options = [st.integers(-ndim, ndim - 1),
               st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
               .flatmap(lambda ax: st.tuples(*(st.sampled_from([a, a - ndim]) for a in ax)))]
    if allow_none:
        options.insert(0, st.none())
    return draw(st.one_of(*options))


@st.composite
def shape_and_axis(draw, min_dims: int = 0, max_size: int | None = None):
    shape = draw(shapes(min_dims=min_dims, max_size=max_size))
    return shape, draw(axes(len(shape)))


@st.composite
def shape_and_one_axis(draw, min_dims: int = 1, max_size: int | None = None):
    """A shape with at least one dimension and a single (maybe negative) axis of it."""
    shape = draw(shapes(min_dims=min_dims, max_size=max_size))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


# -- values -------------------------------------------------------------------------------------
def _floats(low, high, dtype):
    width = 32 if np.dtype(dtype) == np.float32 else 64
    return st.floats(low, high, width=width, allow_subnormal=False)


def arrays(shape, low: float = -3.0, high: float = 3.0, dtype=np.float64):
    """Host float arrays with values in [low, high] (smooth functions: no constraint)."""
    return hnp.arrays(np.dtype(dtype), shape, elements=_floats(low, high, dtype))


def away_from_zero(shape, low: float = 0.1, high: float = 3.0, dtype=np.float64):
    """Host arrays with low <= |x| <= high."""
    elems = _floats(low, high, dtype) | _floats(-high, -low, dtype)
    return hnp.arrays(np.dtype(dtype), shape, elements=elems)


def positive(shape, low: float = 0.1, high: float = 4.0, dtype=np.float64):
    """Host arrays with low <= x <= high."""
    return hnp.arrays(np.dtype(dtype), shape, elements=_floats(low, high, dtype))


_GRID = 4000


@st.composite
def distinct(draw, *shapes_, low: float = 0.1, high: float = 3.0, signed: bool = True):
    """One host float64 array per shape, with all entries of all of them pairwise distinct
    (differing by at least (high - low) / 4000 in absolute value) and low <= |x| <= high.
    Returns a single array for one shape, else a tuple."""
    sizes = [size_of(s) for s in shapes_]
    total = sum(sizes)
    ks = draw(st.lists(st.integers(0, _GRID - 1), min_size=total, max_size=total, unique=True))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0] if signed else [1.0]),
                          min_size=total, max_size=total))
    values = np.asarray(signs) * (low + np.asarray(ks, dtype=np.float64) * (high - low) / _GRID)
    out, start = [], 0
    for s, n in zip(shapes_, sizes):
        out.append(values[start:start + n].reshape(s))
        start += n
    return out[0] if len(out) == 1 else tuple(out)


@st.composite
def reshape_targets(draw, shape):
    """A new shape with the same number of entries: the old sizes shuffled, with 1s inserted
    and possibly one size replaced by -1."""
    dims = list(draw(st.permutations(list(shape))))
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def repeated_int_index(draw, n: int, max_len: int = 6):
    """A list of (maybe negative) integer indices into a dimension of size n, long enough that
    indices often repeat."""
    return draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=max_len))


# + - * / with the values each needs (denominators away from zero), shared by the forward and
# gradient tests
BINARY = {
    "add": (lambda a, b: a + b, arrays),
    "sub": (lambda a, b: a - b, arrays),
    "mul": (lambda a, b: a * b, arrays),
    "div": (lambda a, b: a / b, away_from_zero),
}


# explicit index cases on an array of shape X_SHAPE (host objects; Tensors are made per backend),
# shared by the forward and the gradient tests
X_SHAPE = (4, 3, 5)
INDEX_CASES = {
    "step-slice": (slice(None, None, 2),),
    "negative-step": (slice(None, None, -1), 1),
    "neg-int": -1,
    "ints": (2, -1, 0),
    "ellipsis-none": (Ellipsis, None, 2),
    "none-ellipsis-slice": (None, Ellipsis, slice(1, 4)),
    "list-repeated": [0, 0, 2],
    "array-2d-repeated": np.array([[0, 3], [3, 3]]),
    "neg-array": np.array([-1, -4, -1]),
    "slice+array": (slice(1, None), [0, 0, 2]),
    "array,slice,array": ([0, -1, 0], slice(None), [4, 4, 1]),
    "ellipsis+array": (Ellipsis, [1, 1, -5]),
    "int+array": (1, [2, 2]),
    "mask-1d": np.array([True, False, True, True]),
    "mask-2d": np.arange(12).reshape(4, 3) % 3 != 1,
    "mask-full": np.arange(60).reshape(X_SHAPE) % 7 < 3,
    "mask-list": [True, False, False, True],
    "slice+mask": (slice(None), np.array([False, True, True])),
    "none+array": (None, [1, 1]),
    "tensor-index": "tensor",  # ad.Tensor([0, 0, 2]) made on the active backend
}


def make_index(case):
    index = INDEX_CASES[case]
    return ad.Tensor(np.array([0, 0, 2, -1])) if isinstance(index, str) else index
