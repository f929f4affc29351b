"""A node of the computation graph: one operation, its forward on arrays and its local derivative.

Every primitive subclasses ``Function`` and writes two methods side by side:

    forward(self, *arrays)  -> array                 the value
    backward(self, grad)    -> one array per input   d(loss)/d(input) from d(loss)/d(output)

``apply`` runs ``forward`` on the inputs' arrays and, when gradients are wanted, links the output
tensor to this node so that ``Tensor.backward`` can walk the graph in reverse. Whatever
``forward`` needs again in ``backward`` it keeps on ``self``; the inputs are ``self.inputs`` and
the array module (numpy, cupy, ...) of the arrays is ``self.xp``.
"""
from __future__ import annotations

import abc
import contextlib
import os
import traceback

from . import backend
from .errors import AnomalyError, DeviceError


class _Mode:
    grad_enabled = True
    anomaly = False


_mode = _Mode()
_tensor_type = None  # autodiff.tensor.Tensor, set when that module loads (it imports this one)
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def is_grad_enabled() -> bool:
    return _mode.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.prev = _mode.grad_enabled
        _mode.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _mode.grad_enabled = self.prev
        return False


def no_grad():
    """Inside ``with no_grad():`` (or on a function decorated with it) nothing is recorded."""
    return _GradMode(False)


def enable_grad():
    return _GradMode(True)


@contextlib.contextmanager
def detect_anomaly():
    """Raise at the first NaN or Inf that an operation produces, in forward or in backward,
    naming the operation and the line of user code that created it. Slow: for debugging."""
    prev = _mode.anomaly
    _mode.anomaly = True
    try:
        yield
    finally:
        _mode.anomaly = prev


class Function(abc.ABC):
    inputs: tuple = ()
    xp = None

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the operation on tensors and record it when a gradient may be needed."""
        fn = cls.__new__(cls)
        if params:
            fn.__dict__.update(params)
        arrays = [t.data for t in inputs]
        array_type = type(arrays[0])
        requires_grad = False
        for i, t in enumerate(inputs):
            if type(arrays[i]) is not array_type:
                _raise_mixed_backends(fn.op_name(), inputs, i)
            requires_grad = requires_grad or t._requires_grad
        fn.xp = xp = backend.array_module(arrays[0])
        out = fn.forward(*arrays)
        if type(out) is not array_type:  # NumPy returns scalars from 0-d operations
            out = xp.asarray(out)
        requires_grad = requires_grad and _mode.grad_enabled
        if requires_grad:
            fn.inputs = inputs
        if _mode.anomaly:
            fn.site = _user_site()
            _check_forward(fn, out, arrays)
        return _tensor_type._make(out, fn if requires_grad else None, requires_grad)

    @abc.abstractmethod
    def forward(self, *arrays):
        """The value of the operation, computed on arrays."""

    @abc.abstractmethod
    def backward(self, grad):
        """The gradient for each input (a tuple, None where an input needs none)."""

    def needs_grad(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient; backward may skip the others' work."""
        return self.inputs[i].requires_grad

    def op_name(self) -> str:
        return type(self).__name__.lower()

    def release(self) -> None:
        """Drop the saved arrays once backward has used them, so memory is freed early."""
        name, site = self.op_name(), getattr(self, "site", None)
        self.__dict__.clear()
        self.released, self.name, self.site = True, name, site

    def describe(self) -> str:
        site = getattr(self, "site", None)
        where = f"created at {site}" if site else (
            "creation site unknown: run the forward pass inside detect_anomaly() too")
        return f"'{self.op_name()}' ({where})"


def _raise_mixed_backends(op: str, inputs, i: int):
    first, other = backend.backend_of(inputs[0].data), backend.backend_of(inputs[i].data)
    first_name = first.name if first else type(inputs[0].data).__name__
    other_name = other.name if other else type(inputs[i].data).__name__
    label = inputs[i].name or f"input {i}"
    raise DeviceError(
        f"{op}: {label} (shape {inputs[i].shape}) lives on the {other_name} backend but input 0 "
        f"lives on {first_name}. Tensors of one operation must share a backend: move it with "
        f"tensor.to('{first_name}')."
    )


def _user_site() -> str:
    """The innermost stack frame outside the autodiff package: where the user built the op."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR + os.sep):
            code = f": {frame.line}" if frame.line else ""
            return f"{frame.filename}:{frame.lineno} in {frame.name}{code}"
    return "inside autodiff"


def _nonfinite_kind(xp, a) -> str | None:
    if a.dtype.kind not in "fc" or bool(xp.isfinite(a).all()):
        return None
    return "nan" if bool(xp.isnan(a).any()) else "inf"


def _check_forward(fn: Function, out, arrays) -> None:
    kind = _nonfinite_kind(fn.xp, out)
    if kind is None:
        return
    for i, a in enumerate(arrays):
        bad = _nonfinite_kind(fn.xp, a)
        if bad:
            raise AnomalyError(
                f"detect_anomaly: input {i} of {fn.describe()} already contains {bad}; it was "
                f"not produced by a recorded operation, so check the data you passed in."
            )
    raise AnomalyError(
        f"detect_anomaly: {fn.describe()} produced {kind} in its forward output "
        f"(shape {tuple(out.shape)})."
    )


def check_backward(fn: Function, grads) -> None:
    for i, g in enumerate(grads):
        kind = None if g is None else _nonfinite_kind(fn.xp, g)
        if kind:
            raise AnomalyError(
                f"detect_anomaly: the backward of {fn.describe()} produced {kind} in the gradient "
                f"for its input {i} (shape {tuple(g.shape)})."
            )
