"""autodiff: a small reverse-mode automatic differentiation engine on NumPy or CuPy.

    import autodiff as ad
    x = ad.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad            # 2 * x

Where to start reading: ``tensor.py`` (Tensor), ``function.py`` (a graph node), ``ops/`` (the
primitives, each forward next to its derivative), ``backprop.py`` (the reverse-mode walk), then
``nn/`` (layers written with the primitives). ``kernels/`` holds the fast versions of some
layers; ``use_kernels(False)`` runs everything on the plain path.
"""
from . import backend
from .tensor import Tensor, is_tensor  # first: the modules below build Tensors
from .backend import get_backend, get_rng_state, manual_seed, set_backend, set_rng_state
from .creation import arange, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .errors import (AnomalyError, BackendError, DeviceError, DimensionError, DTypeError,
                     GradcheckError, ShapeError)
from .function import Function
from .gradcheck import gradcheck
from .kernels import kernels_enabled, use_kernels
from .kernels import threads
from .kernels.threads import num_threads, set_num_threads
from .modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .tensor_functions import (abs, cat, clamp, clip, concatenate, exp, log, log_softmax,
                               matmul, max, maximum, mean, min, minimum, permute, relu, reshape,
                               sigmoid, softmax, sqrt, stack, sum, tanh, transpose, where)
from .tensor_functions import (argmax, argmin, clone, cos, cumsum, einsum, logsumexp, sin, std,
                               tril, triu, var)
from .tensor_functions import broadcast_to, gather, masked_fill, scatter_add

__all__ = [
    "backend", "get_backend", "set_backend", "manual_seed", "get_rng_state", "set_rng_state",
    "threads", "num_threads",
    "set_num_threads", "use_kernels", "kernels_enabled",
    "Tensor", "tensor", "is_tensor", "zeros", "ones", "full", "zeros_like", "ones_like",
    "arange", "randn", "rand",
    "Function", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "gradcheck",
    "abs", "cat", "clamp", "clip", "concatenate", "exp", "log", "log_softmax", "matmul", "max",
    "maximum", "mean", "min", "minimum", "permute", "relu", "reshape", "sigmoid", "softmax",
    "sqrt", "stack", "sum", "tanh", "transpose", "where",
    "argmax", "argmin", "clone", "cos", "cumsum", "einsum", "logsumexp", "sin", "std", "tril",
    "triu", "var",
    "broadcast_to", "gather", "masked_fill", "scatter_add",
    "AnomalyError", "BackendError", "DeviceError", "DimensionError", "DTypeError", "GradcheckError",
    "ShapeError",
]
