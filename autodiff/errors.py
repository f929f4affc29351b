"""Exceptions whose messages tell a student what to fix."""


class BackendError(RuntimeError):
    """An unknown backend, or one that cannot run here (CuPy missing, no GPU)."""


class DeviceError(TypeError):
    """Arrays or tensors of two backends (host and device) meet in one operation."""


class ShapeError(ValueError, RuntimeError):
    """Operands whose shapes do not fit the operation. Also a ``RuntimeError``, which PyTorch
    raises for shape mismatches, so code written for PyTorch catches it."""


class DimensionError(ShapeError, IndexError):
    """A dimension (axis) out of range. Also an ``IndexError``, as in PyTorch."""


class DTypeError(ValueError, RuntimeError):
    """A value the operation cannot produce in the tensor's dtype (an integer to a negative
    integer power). Also a ``RuntimeError``, as in PyTorch."""


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared while ``detect_anomaly()`` was on."""


class GradcheckError(AssertionError):
    """A backward pass disagrees with finite differences."""
