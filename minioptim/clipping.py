"""Norms over all parameters, and clipping by the global norm (as in the papers of the talk)."""
from __future__ import annotations

import math

import numpy as np


def global_norm(arrays) -> float:
    """||(a_1, ..., a_k)||_2: the Euclidean norm of all entries of all arrays together.

    Squares of float32 entries underflow below ~1e-19 and overflow above ~1e19; when the sum
    of squares comes out 0 or infinite with finite entries, the norm is computed again on the
    arrays divided by their largest entry, so a tiny or huge gradient still has its true norm
    (NaN anywhere gives NaN)."""
    arrays = list(arrays)
    total = 0.0
    with np.errstate(over="ignore", under="ignore"):      # handled below
        for a in arrays:
            total += float((a * a).sum())
    if total != 0.0 and not math.isinf(total):
        return math.sqrt(total)                       # the common case, and NaN
    big = max((float(abs(a).max()) for a in arrays if a.size), default=0.0)
    if big == 0.0 or not math.isfinite(big):
        return big
    total = 0.0
    for a in arrays:
        scaled = a / big
        total += float((scaled * scaled).sum())
    return big * math.sqrt(total)


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
