"""Switches that change what operations record: ``no_grad`` (record nothing) and
``detect_anomaly`` (check every value for NaN and Inf, and remember where each operation was
created)."""
from __future__ import annotations

import contextlib
import os
import traceback

from .errors import AnomalyError


class _Mode:
    grad_enabled = True
    anomaly = False


mode = _Mode()
# how many in-place changes of any tensor so far: a graph node remembers the count at its
# forward, and backward looks at the node's inputs only when the count moved since
in_place_changes = [0]
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def is_grad_enabled() -> bool:
    return mode.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.prev = mode.grad_enabled
        mode.grad_enabled = self.enabled

    def __exit__(self, *exc):
        mode.grad_enabled = self.prev
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
    prev = mode.anomaly
    mode.anomaly = True
    try:
        yield
    finally:
        mode.anomaly = prev


def user_site() -> str:
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


def check_forward(fn, out, arrays) -> None:
    """Under detect_anomaly: the forward output of ``fn`` must be finite (or its input was not)."""
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


def check_backward(fn, grads) -> None:
    """Under detect_anomaly: every gradient ``fn.backward`` returned must be finite."""
    for i, g in enumerate(grads):
        kind = None if g is None else _nonfinite_kind(fn.xp, g)
        if kind:
            raise AnomalyError(
                f"detect_anomaly: the backward of {fn.describe()} produced {kind} in the gradient "
                f"for its input {i} (shape {tuple(g.shape)})."
            )
