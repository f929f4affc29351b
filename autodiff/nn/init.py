"""Weight initializers, with PyTorch's names and formulas (``torch.nn.init``).

Each ``*_`` function overwrites a tensor's values in place (the trailing underscore says so, as in
PyTorch) and returns the tensor. In place matters: a model's state dict and an optimizer hold
references to ``param.data``, and they keep seeing the parameter after re-initialization.

The numbers are drawn on the host from the seeded generator ``backend.rng()`` and then copied to
the tensor's backend, so ``ad.manual_seed(s)`` gives the same initial weights on NumPy and CuPy.

Why these scales. For a layer y = W x with fan_in inputs, independent zero-mean weights of
variance s^2 and inputs of second moment q give Var(y_i) = fan_in * s^2 * q. Keeping the signal's
scale from layer to layer needs s = gain / sqrt(fan_in), where the gain undoes what the
nonlinearity removes (ReLU zeroes half of its input, so gain^2 = 2; He et al., 2015). Glorot and
Bengio (2010) balance the forward and the backward pass with
s = gain * sqrt(2 / (fan_in + fan_out)).
A uniform U(-b, b) has variance b^2 / 3, hence the sqrt(3) in the uniform variants.
"""
from __future__ import annotations

import math
import warnings

from .. import backend

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``):

    ======================  ==========================
    linear, conv*, sigmoid  1
    tanh                    5/3
    relu                    sqrt(2)
    leaky_relu              sqrt(2 / (1 + slope^2)), slope = ``param`` (default 0.01)
    selu                    3/4
    ======================  ==========================
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity!r}; known: "
                     f"{', '.join(_LINEAR)}, sigmoid, tanh, relu, leaky_relu, selu")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): each output sums
    in * prod(kernel) inputs, and each input feeds out * prod(kernel) outputs."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {shape})")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _assign(tensor, host):
    """Write host values into the tensor's array in place, on whatever backend it lives."""
    arr = tensor.data
    home = backend.backend_of(arr)
    arr[...] = home.from_host(host.astype(arr.dtype, copy=False))
    return tensor


def _empty(tensor) -> bool:
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with draws from U(a, b)."""
    return _assign(tensor, backend.rng().uniform(a, b, size=tuple(tensor.shape)))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with draws from N(mean, std^2)."""
    return _assign(tensor, backend.rng().normal(mean, std, size=tuple(tensor.shape)))


def constant_(tensor, val: float):
    """Fill with the number ``val``."""
    tensor.data[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain: float = 1.0):
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain: float = 1.0):
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu"):
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a);
    fan is fan_in (keeps the forward signal's scale) or fan_out (the backward's)."""
    if _empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu"):
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    if _empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]
