"""Exceptions whose messages tell a student what to fix."""


class BackendError(RuntimeError):
    """An unknown backend, or one that cannot run here (CuPy missing, no GPU)."""


class DeviceError(TypeError):
    """Arrays or tensors of two backends (host and device) meet in one operation."""


class ShapeError(ValueError):
    """Operands whose shapes do not fit the operation."""


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared while ``detect_anomaly()`` was on."""


class GradcheckError(AssertionError):
    """A backward pass disagrees with finite differences."""
