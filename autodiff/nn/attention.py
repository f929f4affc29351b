"""Scaled dot-product attention (``torch.nn.functional.scaled_dot_product_attention``), written
from primitives (matmul, where, softmax) so that it reads as its equation:

    A = softmax(q k^T * scale + M),   out = A v,   scale = 1 / sqrt(E) by default

for query (..., L, E), key (..., S, E), value (..., S, Ev) -> out (..., L, Ev); the leading
dimensions broadcast. M comes from ``attn_mask``: a boolean mask (True = the key takes part, as
PyTorch) puts -inf where it is False; a float mask is added as it is. ``is_causal`` keeps key j
for query i only when j <= i (an L x S lower triangle aligned top-left, as PyTorch).

A query row whose every key is masked would be softmax(-inf, ..., -inf) = 0/0 = NaN. PyTorch
(since 2.5, its "safe softmax") gives such a row zero weights, so a zero output and no gradient,
and so does this: the row is softmaxed unmasked (finite) and its weights are then set to 0.
"""
from __future__ import annotations

import math

from .. import backend
from ..errors import ShapeError
from ..ops._util import broadcast_shape
from ..tensor import Tensor, expect_tensor
from ..tensor_functions import where
from .layers import dropout


def _mask_array(mask, like: Tensor):
    """``attn_mask`` (Tensor, array of any backend, nested list) as an array on like's backend."""
    data = mask.data if isinstance(mask, Tensor) else mask
    home = backend.backend_of(like.data)
    if backend.backend_of(data) is not home:
        data = home.from_host(backend.to_numpy(data))       # also lists and host arrays
    return data


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(q k^T * scale + mask) v (see the module docstring). ``dropout_p`` > 0 drops
    attention weights (inverted dropout) on every call, as PyTorch's functional form: pass
    ``dropout_p if module.training else 0.0`` from a module."""
    v = expect_tensor(value, "scaled_dot_product_attention (value)")
    if v.ndim < 2:
        raise ShapeError(f"scaled_dot_product_attention: query, key and value need at least 2 "
                         f"dimensions (..., L, E), (..., S, E), (..., S, Ev); got a value of "
                         f"shape {v.shape}")
    if expect_tensor(key, "scaled_dot_product_attention (key)").ndim >= 2 and \
            key.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: key {key.shape} and value {v.shape} "
                         f"must have the same number S of keys (dimension -2), got "
                         f"{key.shape[-2]} and {v.shape[-2]}")
    return attention_weights(query, key, attn_mask, dropout_p, is_causal, scale) @ v


def attention_weights(query: Tensor, key: Tensor, attn_mask=None, dropout_p: float = 0.0,
                      is_causal: bool = False, scale: float | None = None) -> Tensor:
    """A = softmax(q k^T * scale + mask) (..., L, S), after dropout: the weights that
    ``scaled_dot_product_attention`` multiplies v by (``nn.MultiheadAttention`` returns them)."""
    q = expect_tensor(query, "scaled_dot_product_attention (query)")
    k = expect_tensor(key, "scaled_dot_product_attention (key)")
    if q.ndim < 2 or k.ndim < 2:
        raise ShapeError(f"scaled_dot_product_attention: query and key need at least 2 "
                         f"dimensions (..., L, E), (..., S, E); got shapes {q.shape}, {k.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"scaled_dot_product_attention: query {q.shape} and key {k.shape} must "
                         f"share the last dimension E (embedding size), got {q.shape[-1]} and "
                         f"{k.shape[-1]}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p!r}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, "
                         "not both (as PyTorch); fold the causal triangle into your mask")
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ k.transpose(-2, -1)) * scale                          # (..., L, S)
    if is_causal:
        xp = backend.array_module(q.data)
        attn_mask = xp.tril(xp.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask = _mask_array(attn_mask, q)
        try:
            broadcast_shape("scaled_dot_product_attention", tuple(mask.shape), scores.shape)
        except ShapeError:
            raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape "
                             f"{tuple(mask.shape)} does not broadcast to the attention scores "
                             f"(..., L, S) = {scores.shape}") from None
        if mask.dtype.kind == "b":
            dead = ~mask.any(axis=-1, keepdims=True)             # rows with no key at all
            scores = where(mask | dead, scores, -math.inf)
        else:
            dead = (mask == -math.inf).all(axis=-1, keepdims=True)
            add = attn_mask if isinstance(attn_mask, Tensor) else Tensor._make(mask)
            scores = scores + where(dead, 0.0, add.astype(scores.dtype))  # a mask tensor's grad
        weights = where(dead, 0.0, scores.softmax(dim=-1))       # PyTorch's safe softmax
    else:
        weights = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights


__all__ = ["attention_weights", "scaled_dot_product_attention"]
