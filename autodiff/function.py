"""A node of the computation graph: one operation, its forward on arrays and its local derivative.

Every primitive subclasses ``Function`` and writes two methods side by side:

    forward(self, *arrays)  -> array                 the value
    backward(self, grad)    -> one array per input   d(loss)/d(input) from d(loss)/d(output)

An operation with parameters (an axis, an exponent, a stride) takes them in ``__init__``:
``Sum.apply(x, axis=(0,), keepdims=False)`` builds ``Sum(axis=(0,), keepdims=False)`` and runs
it on ``x``. ``apply`` runs ``forward`` on the inputs' arrays and, when gradients are wanted, links
the output tensor to this node so that ``Tensor.backward`` can walk the graph in reverse.
Whatever ``forward`` needs again in ``backward`` it keeps on ``self``; the inputs are
``self.inputs`` and the array module (numpy, cupy, ...) of the arrays is ``self.xp``.
"""
from __future__ import annotations

import abc

from . import backend
from .errors import DeviceError
from .modes import check_forward, in_place_changes, mode, user_site
from .tensor import Tensor


class Function(abc.ABC):
    inputs: tuple = ()
    xp = None
    # the inputs whose arrays backward reads (None: all of them): an in-place change of one of
    # them between forward and backward makes backward refuse (see backprop.check_versions)
    saved_inputs: tuple | None = None
    # the output is a view of input 0 (reshape, permute, slicing): it shares its version count
    returns_view = False
    # False while ``backward`` runs for the last time (the graph is freed after it): a backward
    # may then reuse the arrays it saved as its output buffers
    graph_kept = True

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the operation (built with ``params``) on tensors and record it when a gradient
        may be needed."""
        fn = cls(**params)
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
        requires_grad = requires_grad and mode.grad_enabled
        if requires_grad:
            fn.inputs = inputs
            fn.changes_seen = in_place_changes[0]             # see backprop.check_versions
        if mode.anomaly:
            fn.site = user_site()
            check_forward(fn, out, arrays)
        result = Tensor._make(out, fn if requires_grad else None, requires_grad)
        if fn.returns_view:                 # a view and its base change together
            base = inputs[0]
            base._version = base._version or [0, None, 0]
            result._version = base._version
        return result

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
