r"""Gradient descent with a fixed diagonal preconditioner, for the lessons.

    x_{t+1} = x_t - eta P g_t,        P = diag(p) given, p > 0

With p = 1 / diag(H) on a quadratic with diagonal Hessian H, GD runs as on a problem of condition
number 1: what scale-free methods get for free. Not scale-free itself (P is fixed in advance).
"""
from __future__ import annotations

from autodiff import backend

from .base import Optimizer


class PreconditionedGD(Optimizer):
    r"""GD with a diagonal preconditioner:  x_{t+1} = x_t - eta P g_t.

    Args: lr (eta), preconditioner: one array per parameter (same shapes), the diagonal of P;
    weight decay as in ``Optimizer``.

    Example:
        >>> x = ad.Tensor([1.0, 1.0], requires_grad=True)     # f = 50 x0^2 + 0.5 x1^2
        >>> opt = PreconditionedGD([x], lr=1.0, preconditioner=[[0.01, 1.0]])
        >>> (50 * x[0] ** 2 + 0.5 * x[1] ** 2).backward(); opt.step()   # Newton step: [0, 0]
    """

    def __init__(self, params, lr=0.1, preconditioner=None, weight_decay=0.0,
                 weight_decay_mode="l2"):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode))
        params = [p for g in self.param_groups for p in g["params"]]
        if preconditioner is None or len(preconditioner) != len(params):
            raise ValueError(f"preconditioner needs one array per parameter ({len(params)})")
        for i, (p, d) in enumerate(zip(params, preconditioner)):
            d = backend.to_backend(d, backend.backend_of(p.data).name).astype(p.data.dtype)
            if d.shape != p.data.shape:
                raise ValueError(f"preconditioner {i} has shape {d.shape}, parameter {i} has "
                                 f"{p.data.shape}")
            if not bool((d > 0).all()):
                raise ValueError(f"preconditioner {i} must be positive")
            self.state.setdefault(id(p), {})["P"] = d

    def direction(self, g, state, group):
        return state["P"] * g                                          # P g_t
