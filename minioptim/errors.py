"""Errors of minioptim's training code that a user acts on."""
from __future__ import annotations


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite: training stops instead of running on garbage. The message
    names the step and the value (and usually means the step size is too large)."""

    def __init__(self, step: int, value: float, hint: str = ""):
        self.step, self.value = int(step), float(value)
        super().__init__(f"the loss became {value!r} at step {step}"
                         + (f"; {hint}" if hint else ""))
