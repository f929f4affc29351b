"""Losses (as ``torch.nn.functional`` / ``torch.nn``): cross-entropy, negative log-likelihood,
mean squared error; plus softmax and log-softmax.

Cross-entropy of logits x (N, C) and integer targets t (N,), with p = softmax(x):

    loss_i = -log p_{i, t_i} = log sum_c exp(x_ic) - x_{i, t_i},   loss = (1/N) sum_i loss_i
    dloss/dx_ic = (p_ic - [c = t_i]) / N                              ("softmax minus one-hot")

Here it is written as its definition, -log_softmax(x)[arange(N), t].mean(), from primitives
(``log_softmax`` is stable for logits of any size: it shifts each row by its maximum), and the
backward comes from theirs. ``autodiff/kernels/cross_entropy.py`` computes the same in one node
whose backward is the formula above (``ad.use_kernels``).

Two options, as PyTorch: ``label_smoothing`` eps mixes each target with the uniform distribution,
loss_i = (1 - eps) (-log p_{i, t_i}) + eps mean_c(-log p_ic); and probability targets (a float
target of the logits' shape), loss_i = -sum_c t_ic log p_ic (smoothed: t <- (1 - eps) t + eps/C).
"""
from __future__ import annotations

import warnings

from .. import backend
from ..errors import ShapeError
from ..kernels import kernels_enabled
from ..tensor import Tensor, expect_tensor
from .layers import _index_array
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """x - log sum exp(x) along ``dim`` (stable)."""
    return input.log_softmax(dim=dim)


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum exp(x) along ``dim`` (stable)."""
    return input.softmax(dim=dim)


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}; got {reduction!r}")


class _Targets:
    """Class-index targets checked against logits, in the (rows, C) layout the kernels use.

    ``logits`` is the input as a (rows, C) tensor (class axis moved last for (N, C, d1, ...)),
    ``index`` the (rows,) targets with ignored entries replaced by class 0, ``valid`` a 0/1
    float mask (None when nothing is ignored), ``count`` the number of counted rows and
    ``shape`` the shape of an unreduced loss."""

    def __init__(self, op: str, input: Tensor, target, ignore_index):
        t = _index_array(target, input.data, op)
        if input.ndim == 1:
            expected, classes = (), input.shape[0]
        elif input.ndim >= 2:
            expected, classes = input.shape[:1] + input.shape[2:], input.shape[1]
        else:
            raise ShapeError(f"{op}: the input must have shape (N, C) (or (C,), (N, C, d1, ...)), "
                             f"got a 0-d tensor")
        if tuple(t.shape) != expected:
            raise ShapeError(f"{op}: the target has shape {tuple(t.shape)} but the input has shape "
                             f"{input.shape}; for an input (N, C, ...) of N samples and C classes "
                             f"the target must hold one class index per sample, shape {expected}")
        if input.ndim == 1:
            logits = input.reshape(1, classes)
        elif input.ndim == 2:
            logits = input
        else:
            order = (0,) + tuple(range(2, input.ndim)) + (1,)
            logits = input.permute(order).reshape(-1, classes)
        self.logits, self.shape, self.classes = logits, expected, classes
        self.index, self.valid, self.count = t.reshape(-1), None, t.size
        if t.size == 0:
            return
        lo, hi = int(t.min()), int(t.max())
        in_range = 0 <= lo and hi < classes
        may_ignore = ignore_index is not None and (
            not in_range or (0 <= ignore_index < classes and lo <= ignore_index <= hi))
        if not in_range:
            self._raise_out_of_range(op, t, ignore_index)
        if may_ignore:
            xp = backend.array_module(t)
            keep = self.index != ignore_index
            self.count = int(keep.sum())
            self.index = xp.where(keep, self.index, 0)
            self.valid = keep.astype(input.dtype)

    def _raise_out_of_range(self, op, t, ignore_index):
        host = backend.to_numpy(t)
        bad = (host < 0) | (host >= self.classes)
        if ignore_index is not None:
            bad &= host != ignore_index
        if not bad.any():
            return  # only ignored entries lie outside [0, C)
        pos = tuple(int(i[0]) for i in bad.nonzero())
        value = int(host[pos])
        where = pos[0] if len(pos) == 1 else pos
        raise ValueError(f"{op}: target {value} at position {where} is out of range for "
                         f"{self.classes} classes; class indices must lie in [0, {self.classes}) "
                         f"(0 .. {self.classes - 1})")


class _ProbabilityTargets:
    """A float target of the logits' shape, laid out like ``_Targets``: ``probs`` (rows, C)."""

    def __init__(self, op: str, input: Tensor, target):
        if not isinstance(target, Tensor):
            home = backend.backend_of(input.data)
            target = Tensor._make(target if backend.backend_of(target) is home
                                  else home.from_host(backend.to_numpy(target)))
        if tuple(target.shape) != tuple(input.shape):
            raise ShapeError(f"{op}: a floating-point target holds class probabilities and must "
                             f"have the logits' shape {input.shape}, got {target.shape}; for "
                             f"class indices pass an integer target (.astype('int64'))")
        if target.data.dtype != input.data.dtype:
            target = target.astype(input.data.dtype)
        classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
        if input.ndim == 1:
            self.logits, self.probs = input.reshape(1, classes), target.reshape(1, classes)
        elif input.ndim == 2:
            self.logits, self.probs = input, target
        else:
            order = (0,) + tuple(range(2, input.ndim)) + (1,)
            self.logits = input.permute(order).reshape(-1, classes)
            self.probs = target.permute(order).reshape(-1, classes)
        self.classes, self.count = classes, self.logits.shape[0]
        self.shape = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()


def _is_probabilities(input: Tensor, target) -> bool:
    """A float target holds probabilities, unless it has the shape of class indices (then
    ``_Targets`` says that indices must be integers)."""
    data = target.data if isinstance(target, Tensor) else target
    if getattr(data, "dtype", None) is None:      # a list: floats mean probabilities
        data = backend.np.asarray(data)
    if data.dtype.kind != "f":
        return False
    index_shape = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    return tuple(data.shape) == input.shape or tuple(data.shape) != index_shape


def cross_entropy(input: Tensor, target, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` (N, C) (or (C,), or (N, C, d1, ...)) and integer
    class targets (N,) (or (), (N, d1, ...)): nll_loss(log_softmax(input, dim=1), target); or
    class probabilities, a float target of the input's shape: -sum_c t_c log_softmax(x)_c.

    reduction: "mean" (over targets not equal to ``ignore_index``; over all rows for
    probabilities), "sum" or "none" (a loss per sample). ``label_smoothing`` eps in [0, 1]:
    the target becomes (1 - eps) target + eps / C (ignored rows stay out). A target outside
    [0, C) raises ValueError naming it, its position and C."""
    _check_reduction(reduction)
    if expect_tensor(input, "cross_entropy (logits)").dtype.kind != "f":
        raise TypeError(f"cross_entropy: the logits hold {input.dtype} numbers; they must be "
                        f"floating point (convert them with .float())")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be a number in [0, 1] (0: no "
                         f"smoothing), got {label_smoothing!r}")
    eps = float(label_smoothing)
    if _is_probabilities(input, target):
        return _soft_cross_entropy(input, _ProbabilityTargets("cross_entropy", input, target),
                                   eps, reduction)
    t = _Targets("cross_entropy", input, target, ignore_index)
    if eps:
        return _soft_cross_entropy(input, t, eps, reduction)
    if kernels_enabled():
        from ..kernels.cross_entropy import cross_entropy as fused
        out = fused(t.logits, t.index, t.valid, t.count, reduction)
        return out.reshape(t.shape) if reduction == "none" else out
    return _negative_log_likelihood(t.logits.log_softmax(axis=1), t, reduction)


def _soft_cross_entropy(input: Tensor, t, eps: float, reduction: str) -> Tensor:
    """Cross-entropy with label smoothing and/or probability targets (``t`` a ``_Targets`` or a
    ``_ProbabilityTargets``): the fused kernel, or the definition from primitives."""
    probs = getattr(t, "probs", None)
    if kernels_enabled():
        from ..kernels.cross_entropy import soft_cross_entropy as fused
        out = fused(t.logits, probs, getattr(t, "index", None), getattr(t, "valid", None),
                    t.count, reduction, eps)
        return out.reshape(t.shape) if reduction == "none" else out
    log_p = t.logits.log_softmax(axis=1)
    if probs is not None:                         # -sum_c ((1 - eps) t_c + eps / C) log p_c
        target = probs * (1.0 - eps) + eps / t.classes if eps else probs
        losses = -(target * log_p).sum(axis=1)
    else:                                         # (1 - eps) nll + eps mean_c(-log p_c)
        rows = backend.array_module(log_p.data).arange(log_p.shape[0])
        losses = -log_p[rows, t.index] * (1.0 - eps) - log_p.sum(axis=1) * (eps / t.classes)
        if t.valid is not None:
            losses = losses * Tensor._make(t.valid)
    if reduction == "mean":
        return losses.sum() * (1.0 / t.count) if t.count else losses.sum() * float("nan")
    return losses.reshape(t.shape) if reduction == "none" else losses.sum()


def nll_loss(input: Tensor, target, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C) (or (C,), (N, C, d1, ...)):
    loss_i = -input[i, target_i]; cross_entropy(x, t) = nll_loss(log_softmax(x, 1), t)."""
    _check_reduction(reduction)
    expect_tensor(input, "nll_loss")
    t = _Targets("nll_loss", input, target, ignore_index)
    return _negative_log_likelihood(t.logits, t, reduction)


def _negative_log_likelihood(log_probs: Tensor, t: _Targets, reduction: str) -> Tensor:
    """-log_probs[i, t_i] for every row i (log_probs (rows, C)), ignored rows zeroed, reduced
    ("mean" over the rows that count)."""
    rows = backend.array_module(log_probs.data).arange(log_probs.shape[0])
    losses = -log_probs[rows, t.index]
    if t.valid is not None:
        losses = losses * Tensor._make(t.valid)
    if reduction == "mean":
        return losses.sum() * (1.0 / t.count) if t.count else losses.sum() * float("nan")
    return losses.reshape(t.shape) if reduction == "none" else losses.sum()


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def mse_loss(input: Tensor, target, *, reduction: str = "mean") -> Tensor:
    """Mean squared error (input - target)^2, reduced by "mean", "sum" or "none". Like PyTorch,
    shapes that differ are broadcast with a warning (usually a bug: (N, 1) against (N,) gives an
    (N, N) difference)."""
    _check_reduction(reduction)
    target = expect_tensor(input, "mse_loss (input)")._operand(target, "mse_loss")
    if target.shape != input.shape:
        warnings.warn(f"mse_loss: the target shape {target.shape} differs from the input shape "
                      f"{input.shape}; they will be broadcast, which is likely wrong (reshape "
                      f"one of them)", UserWarning, stacklevel=2)
    diff = input - target
    return _reduce(diff * diff, reduction)


class CrossEntropyLoss(Module):
    """``loss_fn = CrossEntropyLoss(); loss = loss_fn(logits, targets)`` (see ``cross_entropy``)."""

    def __init__(self, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__()
        _check_reduction(reduction)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
                or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be a number in [0, 1], "
                             f"got {label_smoothing!r}")
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (see ``nll_loss``)."""

    def __init__(self, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__()
        _check_reduction(reduction)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        return nll_loss(input, target, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(Module):
    """Mean squared error (see ``mse_loss``)."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


__all__ = ["cross_entropy", "nll_loss", "mse_loss", "log_softmax", "softmax",
           "CrossEntropyLoss", "NLLLoss", "MSELoss"]
