"""Basic layers: Linear, activations, Flatten, Identity, Dropout, Embedding (as ``torch.nn``).

Each functional form is the plain definition, composed from the engine's primitives:
``linear`` is ``x @ W.T + b``, ``dropout`` multiplies by a random mask, ``embedding`` is
indexing. With kernels on (``ad.use_kernels``) they run the fused versions in
``autodiff/kernels/`` (``linear.py``, ``dropout.py``, ``embedding.py``, ``relu.py``).
"""
from __future__ import annotations

import math

from .. import backend
from ..errors import ShapeError
from ..kernels import kernels_enabled
from ..tensor import Tensor, expect_tensor
from . import init
from .module import Module, Parameter


# -- functional forms ------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input W^T + b (``torch.nn.functional.linear``); input (..., in), weight (out, in)."""
    expect_tensor(input, "linear")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: input of shape {input.shape} does not fit a weight of shape "
                         f"{weight.shape} (out_features, in_features): the input's last "
                         f"dimension must be {weight.shape[-1]}")
    if kernels_enabled():
        from ..kernels.linear import linear as fused
        return fused(input, weight, bias)
    y = input @ weight.T
    return y if bias is None else y + bias


def relu(input: Tensor) -> Tensor:
    """max(x, 0)."""
    expect_tensor(input, "relu")
    if kernels_enabled():
        from ..kernels.relu import relu as fast
        return fast(input)
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    return expect_tensor(input, "tanh").tanh()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return expect_tensor(input, "sigmoid").sigmoid()


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each entry with probability ``p`` and scale the others by 1/(1-p) while training,
    so E[y] = x and nothing needs rescaling at evaluation time ("inverted" dropout); the identity
    otherwise (``torch.nn.functional.dropout``).

    The mask is drawn on the host from ``backend.rng()`` (float32 uniforms, then moved as
    booleans), so a seed gives the same mask on every backend, for every input dtype and on both
    paths (kernel or reference)."""
    expect_tensor(input, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = backend.backend_of(input.data).from_host(
        backend.rng().random(input.shape, dtype="float32") >= p)
    if kernels_enabled():
        from ..kernels.dropout import dropout as fused
        return fused(input, keep, float(p))
    return input * Tensor._make(keep.astype(input.dtype) * (1.0 / (1.0 - p)))


def _index_array(indices, like, what: str):
    """Integer indices (Tensor, array of any backend, list) as an array on ``like``'s backend."""
    if isinstance(indices, Tensor):
        indices = indices.data
    home = backend.backend_of(like)
    if backend.backend_of(indices) is not home:
        indices = backend.to_backend(indices, home.name) if backend.is_array(indices) \
            else home.from_host(backend.to_numpy(indices))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{what}: indices must be integers, got dtype {indices.dtype}; convert "
                        f"them with .astype('int64')")
    return indices


def embedding(input, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (V, D) picked by the integer ``input`` of any shape S: output S + (D,)
    (``torch.nn.functional.embedding``)."""
    ids = _index_array(input, weight.data, "embedding")
    if ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= weight.shape[0]:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding: index {bad} is out of range for an embedding of "
                             f"{weight.shape[0]} rows (valid ids: 0 .. {weight.shape[0] - 1})")
    if kernels_enabled():
        from ..kernels.embedding import embedding as fused
        return fused(weight, ids)
    return weight[Tensor._make(ids)]


# -- modules ---------------------------------------------------------------------------------
class Linear(Module):
    """y = x W^T + b with weight (out_features, in_features) and bias (out_features,).

    PyTorch's default initialization: W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-b, b) with
    b = 1/sqrt(in_features), and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(backend.xp.zeros((out_features, in_features), dtype="float32"))
        self.bias = Parameter(backend.xp.zeros((out_features,), dtype="float32")) if bias \
            else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    def forward(self, input):
        return relu(input)


class Tanh(Module):
    def forward(self, input):
        return tanh(input)


class Sigmoid(Module):
    def forward(self, input):
        return sigmoid(input)


class Identity(Module):
    """Returns its input (accepts and ignores any constructor arguments, as PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Merge dimensions start_dim .. end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        shape = input.shape
        if not shape:
            return input.reshape((1,))
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        if start > end:
            raise ShapeError(f"Flatten: start_dim {self.start_dim} comes after end_dim "
                             f"{self.end_dim} for an input of shape {shape}")
        return input.reshape(shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` while training; the identity after ``eval()``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, input):
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, weight ~ N(0, 1) as in
    PyTorch; ``emb(ids)`` maps integer ids of shape S to vectors of shape S + (embedding_dim,)."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(backend.xp.zeros((num_embeddings, embedding_dim),
                                                 dtype="float32"))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)

    def forward(self, input):
        return embedding(input, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


__all__ = ["Linear", "ReLU", "Tanh", "Sigmoid", "Identity", "Flatten", "Dropout", "Embedding",
           "linear", "relu", "tanh", "sigmoid", "dropout", "embedding"]
