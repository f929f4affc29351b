r"""AdaGrad (Duchi et al., 2010; McMahan & Streeter, 2010): a learning rate per coordinate.

    s_t = s_{t-1} + g_t^2                      (sum of squared gradients, s_0 = 0)
    x_{t+1} = x_t - eta g_t / (eps + sqrt(s_t))

Coordinate i's rate is eta / (eps + sqrt(sum_j g_{j,i}^2)): if that coordinate of every gradient
is multiplied by c > 0, its rate is divided by c, so the steps do not change (scale-free as
eps -> 0; exactly with eps = 0).
"""
from __future__ import annotations

from autodiff import backend

from .base import Optimizer, check_nonnegative, safe_divide


class AdaGrad(Optimizer):
    r"""AdaGrad.

        s_t = s_{t-1} + g_t^2          x_{t+1} = x_t - eta g_t / (eps + sqrt(s_t))

    Args: lr (eta, default 0.01), eps (default 1e-10, outside the square root), weight decay as
    in ``Optimizer``, maximize (default False: ascend, g_t <- -g_t before everything).
    Scale-free when eps = 0 and weight_decay_mode is not "l2" (or lambda = 0). PyTorch:
    ``torch.optim.Adagrad(lr, eps=1e-10, maximize)`` with lr_decay = 0 and
    initial_accumulator_value = 0 is the same update; optax: ``optax.adagrad`` starts its
    accumulator at 0.1 and puts eps inside the square root.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdaGrad([x], lr=0.1)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(self, params, lr=0.01, eps=1e-10, weight_decay=0.0, weight_decay_mode="l2",
                 maximize=False):
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode, maximize=maximize))

    def check_hyperparameters(self, group):
        check_nonnegative(group, "eps")

    def update(self, w, g, state, group):
        xp, eta, eps = backend.array_module(g), group["lr"], group["eps"]
        s = state["sum_sq"] = state.get("sum_sq", 0) + g * g           # s_t = s_{t-1} + g_t^2
        u = safe_divide(xp, g, eps + xp.sqrt(s))                       # g_t / (eps + sqrt(s_t))
        with self.decay(w, group):
            w -= eta * u                                               # x_{t+1} = x_t - eta u_t
