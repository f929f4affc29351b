"""``Tensor``: an array of the active backend, plus what reverse mode needs to send gradients back.

A tensor made by an operation remembers that operation (``_ctx``, a ``Function``) and through it
its inputs; ``backward()`` walks that graph from the output to the leaves. Leaves (tensors you
create) keep their gradient in ``.grad`` and accumulate it across calls until you zero it.
"""
from __future__ import annotations

from . import backend
from .backprop import run_backward
from .errors import DeviceError, DTypeError, ShapeError
from .modes import in_place_changes, is_grad_enabled, no_grad

_FLOAT_KINDS = "f"


def _as_dtype(xp, dtype):
    return None if dtype is None else xp.dtype(dtype)


class Tensor:
    # _version: None until the data is first changed in place, then [count, what changed it
    # last, when (the global count of in-place changes)], shared with the views made from this
    # tensor, so that backward can refuse saved values that changed after they were used
    __slots__ = ("data", "grad", "_requires_grad", "_ctx", "_retain", "name", "_version",
                 "__weakref__")
    __array_ufunc__ = None  # makes `numpy_array * tensor` call Tensor.__rmul__ instead of numpy

    def __init__(self, data, dtype=None, requires_grad: bool = False, name: str | None = None):
        """Copy ``data`` (list, scalar, NumPy/CuPy array, Tensor) onto the active backend.
        Floating data becomes float32 unless ``dtype`` says otherwise (e.g. "float64");
        integer and boolean data keep their kind."""
        if isinstance(data, Tensor):
            data = data.data
        xp = backend.active().xp
        dtype = _as_dtype(xp, dtype)
        _check_kind(getattr(data, "dtype", None) or backend.host_dtype(data), dtype)
        if backend.backend_of(data) is backend.active():
            arr = data.astype(dtype or data.dtype, copy=True)
        else:
            arr = backend.asarray(data, dtype=dtype)
        if dtype is None and arr.dtype.kind == "f" and arr.dtype != xp.float32:
            arr = arr.astype(xp.float32)
        self.data = arr
        self.grad = None
        self._ctx = None
        self._retain = False
        self._version = None
        self.name = name
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data, ctx=None, requires_grad=False) -> "Tensor":
        """Wrap an array produced by an operation (no copy, no checks)."""
        t = cls.__new__(cls)
        t.data, t.grad, t._ctx, t._requires_grad = data, None, ctx, requires_grad
        t._retain, t.name, t._version = False, None, None
        return t

    # -- gradient bookkeeping -------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind not in _FLOAT_KINDS:
            raise TypeError(
                f"only floating-point tensors can require gradients, but {self._label()} has "
                f"dtype {self.data.dtype}; create it with dtype='float32' (or 'float64')."
            )
        if not value and self._ctx is not None:
            raise RuntimeError(
                f"{self._label()} was computed from tensors that require grad; "
                f"use .detach() to get a tensor outside the graph."
            )
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.
        ``grad`` is d(loss)/d(self); it may be omitted only when self has one element."""
        run_backward(self, grad, retain_graph)

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor too (leaves always keep it)."""
        self._retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def bump_version(self, by: str) -> None:
        """Record an in-place change of ``data`` (``by`` says what made it, for the error a later
        backward raises). The optimizers and item assignment call it; a raw write into ``.data``
        does not, as in PyTorch."""
        version = self._version = self._version or [0, None, 0]
        in_place_changes[0] += 1
        version[0] += 1
        version[1], version[2] = by, in_place_changes[0]

    @property
    def version(self) -> int:
        """How many times ``data`` was changed in place (by the optimizers, item assignment)."""
        return self._version[0] if self._version else 0

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor._make(self.data)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (its gradient flows back unchanged)."""
        return _ops.Clone.apply(self)

    # -- array facts and conversions ------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    @property
    def backend(self) -> str:
        b = backend.backend_of(self.data)
        return b.name if b else type(self.data).__name__

    def numpy(self):
        """A NumPy copy of the data on the host (safe to keep: later updates do not change it)."""
        host = backend.to_numpy(self.data)
        return host.copy() if host is self.data else host

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element, but {self._label()} has shape "
                f"{self.shape}; reduce it first (for example .sum() or .mean())."
            )
        return self.data.item()

    def to(self, backend_name: str) -> "Tensor":
        """A copy on another backend ("numpy", "cupy", "strict"); a leaf, like its source."""
        arr = backend.to_backend(self.data, backend_name)
        t = Tensor._make(arr, requires_grad=False)
        t._requires_grad = self._requires_grad and self.is_leaf
        t.name = self.name
        return t

    def astype(self, dtype) -> "Tensor":
        """A copy in another dtype. To a floating dtype it stays in the graph (the gradient is
        cast back); to integers or booleans it leaves the graph, as rounding has no gradient."""
        dtype = backend.array_module(self.data).dtype(dtype)
        if dtype.kind != "f":
            return Tensor._make(self.data.astype(dtype))
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self) -> "Tensor":
        return self.astype("float32")

    def double(self) -> "Tensor":
        return self.astype("float64")

    def _label(self) -> str:
        return f"tensor '{self.name}'" if self.name else f"the tensor of shape {self.shape}"

    def __repr__(self) -> str:
        # numpy's repr, relabelled; float32 is the default so only other dtypes are shown
        body = repr(backend.to_numpy(self.data)).replace(", dtype=float32", "")
        body = "tensor(" + body[body.index("(") + 1:-1] if body.startswith("array(") else \
            f"tensor({body}"
        extras = [] if self.dtype == "float32" or "dtype=" in body else [f"dtype={self.dtype}"]
        if self.backend != "numpy":
            extras.append(f"backend='{self.backend}'")
        if self._ctx is not None:
            extras.append(f"grad_fn={type(self._ctx).__name__}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return body + "".join(", " + e for e in extras) + ")"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    __hash__ = object.__hash__  # tensors are dictionary keys by identity, as in PyTorch

    # -- operands ---------------------------------------------------------------------------
    def _operand(self, other, op: str) -> "Tensor":
        """Turn the other operand of a binary operation into a tensor on this tensor's backend."""
        if isinstance(other, Tensor):
            return other
        if backend.is_scalar(other):
            xp = backend.array_module(self.data)
            kind = self.data.dtype.kind
            if kind in "fc":
                dtype = self.data.dtype                   # a Python number keeps the dtype
            elif isinstance(backend.python_scalar(other), float):
                dtype = "float32"                         # int tensor and a float: PyTorch's
            else:                                         # default float; an int keeps the
                dtype = self.data.dtype if kind in "iu" else None    # integer dtype
            return Tensor._make(xp.asarray(other, dtype=dtype))
        src = backend.backend_of(other)
        mine = backend.backend_of(self.data)
        if src is mine and src is not None:
            return Tensor._make(other)
        where = src.name if src else type(other).__name__
        raise DeviceError(
            f"{op}: the other operand is a {where} array (shape {getattr(other, 'shape', '?')}) "
            f"but {self._label()} lives on the {self.backend} backend. Convert it explicitly "
            f"first: ad.Tensor(array) (or autodiff.backend.asarray(array))."
        )

    # -- arithmetic (each a Function in autodiff.ops) ---------------------------------------
    def __add__(self, o): return _ops.Add.apply(self, self._operand(o, "add"))
    def __radd__(self, o): return _ops.Add.apply(self._operand(o, "add"), self)
    def __sub__(self, o): return _ops.Sub.apply(self, self._operand(o, "sub"))
    def __rsub__(self, o): return _ops.Sub.apply(self._operand(o, "sub"), self)
    def __mul__(self, o): return _ops.Mul.apply(self, self._operand(o, "mul"))
    def __rmul__(self, o): return _ops.Mul.apply(self._operand(o, "mul"), self)
    def __truediv__(self, o): return _ops.Div.apply(self, self._operand(o, "div"))
    def __rtruediv__(self, o): return _ops.Div.apply(self._operand(o, "div"), self)
    def __neg__(self): return _ops.Neg.apply(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.Abs.apply(self)
    def __matmul__(self, o): return _ops.matmul(self, self._operand(o, "matmul"))
    def __rmatmul__(self, o): return _ops.matmul(self._operand(o, "matmul"), self)

    def __pow__(self, exponent):
        if not backend.is_scalar(exponent):
            raise TypeError(
                f"x ** p needs a number p (got {type(exponent).__name__}); for a tensor "
                f"exponent write ad.exp(p * ad.log(x))."
            )
        exponent = backend.python_scalar(exponent)
        if isinstance(exponent, int) and exponent < 0 and self.data.dtype.kind in "biu":
            raise DTypeError(f"x ** {exponent}: {self._label()} holds integers, and an integer to "
                             f"a negative integer power is not an integer; write "
                             f"x ** {float(exponent)} (float32) or convert x to a float first")
        return _ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base):
        if not backend.is_scalar(base) or base <= 0:
            raise TypeError(f"c ** x needs a positive number c, got {base!r}")
        return _ops.RPow.apply(self, base=backend.python_scalar(base))

    # comparisons give boolean tensors outside the graph (masks for ad.where)
    def _compare(self, other, name):
        other = self._operand(other, name)
        xp = backend.array_module(self.data)
        out = getattr(xp, name)(self.data, other.data)
        return Tensor._make(out if backend.is_array(out) else xp.asarray(out))

    def __lt__(self, o): return self._compare(o, "less")
    def __le__(self, o): return self._compare(o, "less_equal")
    def __gt__(self, o): return self._compare(o, "greater")
    def __ge__(self, o): return self._compare(o, "greater_equal")
    def __eq__(self, o): return self._compare(o, "equal")
    def __ne__(self, o): return self._compare(o, "not_equal")

    # -- elementwise functions ----------------------------------------------------------------
    def _floating(self) -> "Tensor":
        """Itself, or for an integer or bool tensor (which takes no gradient) a float32 copy:
        the functions below give PyTorch's default float32 there, not NumPy's float64."""
        if self.data.dtype.kind in "fc":
            return self
        return Tensor._make(self.data.astype("float32"))

    def exp(self): return _ops.Exp.apply(self._floating())
    def log(self): return _ops.Log.apply(self._floating())
    def sqrt(self): return _ops.Sqrt.apply(self._floating())
    def abs(self): return _ops.Abs.apply(self)
    def tanh(self): return _ops.Tanh.apply(self._floating())
    def sigmoid(self): return _ops.Sigmoid.apply(self._floating())
    def relu(self): return _ops.ReLU.apply(self)
    def sin(self): return _ops.Sin.apply(self._floating())
    def cos(self): return _ops.Cos.apply(self._floating())

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given (not None)")
        return _ops.Clip.apply(self, lo=backend.python_scalar(min), hi=backend.python_scalar(max))

    clamp = clip

    # -- reductions (numpy's axis/keepdims or PyTorch's dim/keepdim) ---------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.Sum.apply(self, **_ops.reduce_args(self.ndim, axis, keepdims, dim, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        args = _ops.reduce_args(self.ndim, axis, keepdims, dim, keepdim)
        return _ops.Mean.apply(self._floating(), **args)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        args = _ops.reduce_args(self.ndim, axis, keepdims, dim, keepdim)
        self._check_not_empty("max", args["axis"])
        return _ops.Max.apply(self, **args)

    def _check_not_empty(self, op: str, axes) -> None:
        """A maximum over nothing has no value (NumPy's error would not say which tensor)."""
        empty = self.data.size == 0 if axes is None else any(self.shape[a] == 0 for a in axes)
        if empty:
            raise ShapeError(f"{op}: {self._label()} is empty along the reduced dimensions, "
                             f"so it has no {op}imum; reduce a non-empty tensor (or use sum)")

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        args = _ops.reduce_args(self.ndim, axis, keepdims, dim, keepdim)
        self._check_not_empty("min", args["axis"])
        return _ops.Min.apply(self, **args)

    def var(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=False):
        """sum (x - mean)^2 / (n - correction): correction=1 the sample variance, 0 the
        population one; nan where n <= correction (as PyTorch)."""
        return _ops.Var.apply(self._floating(), **self._var_args(dim, keepdim, correction,
                                                                 axis, keepdims))

    def std(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=False):
        """sqrt(var(dim, keepdim, correction=correction))."""
        return _ops.Std.apply(self._floating(), **self._var_args(dim, keepdim, correction,
                                                                 axis, keepdims))

    def _var_args(self, dim, keepdim, correction, axis, keepdims) -> dict:
        if isinstance(correction, bool) or not backend.is_scalar(correction) or correction < 0:
            raise ValueError(f"var/std: correction must be a number >= 0 (0: population, "
                             f"1: sample variance), got {correction!r}")
        args = _ops.reduce_args(self.ndim, axis, keepdims, dim, bool(keepdim or keepdims))
        return dict(args, correction=backend.python_scalar(correction))

    def argmax(self, dim=None, keepdim=False):
        """The int64 index of the largest entry along ``dim`` (None: in the flattened tensor);
        the first one at ties. Outside the graph (an index has no gradient)."""
        return self._arg_reduce("argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """The int64 index of the smallest entry along ``dim``; see ``argmax``."""
        return self._arg_reduce("argmin", dim, keepdim)

    def _arg_reduce(self, op, dim, keepdim):
        if dim is not None and not isinstance(dim, int):
            raise TypeError(f"{op}: dim must be one int (or None for the flattened tensor), "
                            f"got {dim!r}")
        axis = None if dim is None or self.ndim == 0 else _ops.normalize_axis(self.ndim, dim)
        if self.data.size == 0 or (axis is not None and self.shape[axis] == 0):
            raise ShapeError(f"{op}: {self._label()} is empty along the reduced dimension, so "
                             f"there is no index to return; reduce a non-empty tensor")
        return Tensor._make(_ops.arg_reduce(self.data, op, axis, bool(keepdim)))

    def cumsum(self, dim):
        """y_k = x_0 + ... + x_k along ``dim``."""
        return _ops.CumSum.apply(self, axis=_ops.normalize_axis(self.ndim, dim))

    def logsumexp(self, dim, keepdim=False):
        """log sum exp(x) over ``dim``, computed stably (shifted by the max)."""
        args = _ops.reduce_args(self.ndim, None, False, dim, keepdim)
        return _ops.LogSumExp.apply(self._floating(), **args)

    def log_softmax(self, axis=-1, *, dim=None):
        axis = _ops.normalize_axis(self.ndim, dim if dim is not None else axis)
        return _ops.LogSoftmax.apply(self._floating(), axis=axis)

    def softmax(self, axis=-1, *, dim=None):
        axis = _ops.normalize_axis(self.ndim, dim if dim is not None else axis)
        return _ops.Softmax.apply(self._floating(), axis=axis)

    # -- shape ---------------------------------------------------------------------------
    def reshape(self, *shape):
        one = len(shape) == 1 and not isinstance(shape[0], int)    # reshape((2, 3)), not (2, 3)
        return _ops.reshape(self, shape[0] if one else shape)

    view = reshape

    def flatten(self, start_dim=0):
        start_dim = _ops.normalize_axis(self.ndim, start_dim) if self.ndim else 0
        return self.reshape(self.shape[:start_dim] + (-1,))

    def unsqueeze(self, dim):
        dim = dim if dim >= 0 else dim + self.ndim + 1
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = _ops.normalize_axis(self.ndim, dim)
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims
        return _ops.permute(self, dims)

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dimensions (PyTorch's meaning; for a full permutation use ``permute``)."""
        dims = list(range(self.ndim))
        a, b = _ops.normalize_axis(self.ndim, dim0), _ops.normalize_axis(self.ndim, dim1)
        dims[a], dims[b] = dims[b], dims[a]
        return _ops.permute(self, dims)

    @property
    def T(self):
        return _ops.permute(self, tuple(reversed(range(self.ndim))))

    def tril(self, diagonal=0):
        """Zero the entries above the ``diagonal``-th diagonal of the last two dimensions."""
        return _ops.triangle(self, diagonal, upper=False)

    def triu(self, diagonal=0):
        """Zero the entries below the ``diagonal``-th diagonal of the last two dimensions."""
        return _ops.triangle(self, diagonal, upper=True)

    def expand(self, *sizes):
        """A view stretched to ``sizes`` (-1 keeps a size; new dims in front), as PyTorch."""
        one = len(sizes) == 1 and not isinstance(sizes[0], int)    # expand((2, 3)), not (2, 3)
        return _ops.expand(self, sizes[0] if one else sizes)

    def gather(self, dim, index):
        """out[i][j] = self[index[i][j]][j] for dim=0 (index: int64, self's number of dims)."""
        return _ops.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        """A copy of self with out[index[i][j]][j] += src[i][j] for dim=0 (out-of-place)."""
        return _ops.scatter_add(self, dim, index, src)

    def masked_fill(self, mask, value):
        """``value`` where the boolean ``mask`` (broadcastable) is True, else self."""
        return _ops.masked_fill(self, mask, value)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        if self._requires_grad or self._ctx is not None:
            raise RuntimeError(
                f"cannot assign into {self._label()} in place: it is part of the graph. Build a "
                f"new tensor (ad.where, ad.concatenate) or change .data inside ad.no_grad()."
            )
        self.data[_ops.index_arrays(self.data, index)] = self._operand(value, "setitem").data
        self.bump_version("an item assignment (tensor[...] = ...)")


def _check_kind(dtype, wanted) -> None:
    """Tensors hold booleans, integers and real floats: refuse the rest with a clear error
    (complex numbers would lose their imaginary part, strings and objects fail deep later)."""
    kind = getattr(wanted or dtype, "kind", "O")
    if kind in "biuf":
        return
    what = {"c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects",
            "M": "dates", "m": "time differences"}.get(kind, f"{dtype} data")
    fix = (" (take .real or abs() of the data first)" if kind == "c" else
           " (convert them to numbers first)")
    raise TypeError(f"a tensor holds booleans, integers or real floating-point numbers, not "
                    f"{what}{fix}")


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def expect_tensor(obj, where: str) -> Tensor:
    """``obj`` itself when it is a Tensor; otherwise a TypeError saying what it is and how to fix
    it (a layer given a raw array would fail later with a message about the wrong thing)."""
    if isinstance(obj, Tensor):
        return obj
    kind = type(obj)
    name = kind.__name__ if kind.__module__ == "builtins" else \
        f"{kind.__module__.split('.')[0]}.{kind.__name__}"
    shape = f" of shape {tuple(obj.shape)}" if hasattr(obj, "shape") else ""
    raise TypeError(f"{where}: expected a Tensor, got a {name}{shape}; wrap it with "
                    f"ad.Tensor(x) (the batches of minioptim's DataLoader are tensors already)")


from . import ops as _ops  # noqa: E402  (ops build Tensors; Tensor methods call ops)

__all__ = ["Tensor", "is_tensor", "no_grad", "is_grad_enabled"]
