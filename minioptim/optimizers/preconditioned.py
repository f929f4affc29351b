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
        >>> (50 * x[0] ** 2 + 0.5 * x[1] ** 2).backward(); opt.step()
        >>> x
        tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, params, lr=0.1, preconditioner=None, weight_decay=0.0,
                 weight_decay_mode="l2"):
        self._building = True  # groups given here may take the preconditioner argument instead
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode))
        self._building = False
        params = [p for g in self.param_groups for p in g["params"]]
        missing = [p for p in params if "P" not in self.state.get(id(p), {})]
        if missing:
            if preconditioner is None or len(preconditioner) != len(missing):
                raise ValueError(f"PreconditionedGD needs a preconditioner: one positive array "
                                 f"per parameter ({len(missing)}), got "
                                 f"{'none' if preconditioner is None else len(preconditioner)}")
            self._set_preconditioner(missing, preconditioner)

    def add_param_group(self, group: dict) -> None:
        """A group may carry its own ``"preconditioner"`` (one array per parameter); groups added
        after construction must."""
        group = dict(group)
        diag = group.pop("preconditioner", None)
        if diag is None and not self._building:
            raise ValueError("a parameter group added to PreconditionedGD needs a "
                             "'preconditioner' entry: one positive array per parameter")
        super().add_param_group(group)
        if diag is not None:
            params = self.param_groups[-1]["params"]
            if len(diag) != len(params):
                raise ValueError(f"the group's preconditioner has {len(diag)} arrays for "
                                 f"{len(params)} parameters")
            self._set_preconditioner(params, diag)

    def _set_preconditioner(self, params, diag) -> None:
        for i, (p, d) in enumerate(zip(params, diag)):
            d = backend.to_backend(d, backend.backend_of(p.data).name).astype(p.data.dtype)
            if d.shape != p.data.shape:
                raise ValueError(f"preconditioner {i} has shape {d.shape}, parameter {i} has "
                                 f"{p.data.shape}")
            if not bool((d > 0).all()):
                raise ValueError(f"preconditioner {i} must be positive")
            self.state.setdefault(id(p), {})["P"] = d

    def update(self, w, g, state, group):
        with self.decay(w, group):
            w -= group["lr"] * (state["P"] * g)                        # x_{t+1} = x_t - eta P g_t
