"""Norms over all parameters, and clipping by the global norm (as in the papers of the talk)."""
from __future__ import annotations

import math


def global_norm(arrays) -> float:
    """||(a_1, ..., a_k)||_2: the Euclidean norm of all entries of all arrays together."""
    total = 0.0
    for a in arrays:
        total += float((a * a).sum())
    return math.sqrt(total)


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients by min(1, max_norm / ||g||), ||g|| the global norm; return ||g||
    before clipping (PyTorch's ``clip_grad_norm_``, without the small eps it adds)."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    params = [p for p in (params if not hasattr(params, "data") else [params])
              if p.grad is not None]
    norm = global_norm(p.grad for p in params)
    if norm > max_norm:
        scale = max_norm / norm
        for p in params:
            p.grad = p.grad * scale  # a new array: another tensor may share the old one
    return norm


__all__ = ["global_norm", "clip_grad_norm"]
