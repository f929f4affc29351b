r"""RMSprop (Hinton, Coursera lecture 6e, 2012): AdaGrad with a forgetting sum of squares.

    v_t = alpha v_{t-1} + (1 - alpha) g_t^2                    (v_0 = 0)
    g_bar_t = alpha g_bar_{t-1} + (1 - alpha) g_t              (centered only, g_bar_0 = 0)
    d_t = sqrt(v_t - g_bar_t^2) + eps    (centered)    d_t = sqrt(v_t) + eps    (otherwise)
    b_t = mu b_{t-1} + g_t / d_t                               (momentum mu > 0, b_0 = 0)
    u_t = b_t  (mu > 0)    or    u_t = g_t / d_t  (mu = 0)
    w_t = w_{t-1} - eta u_t

AdaGrad's s_t only grows, so its steps shrink for ever; RMSprop replaces the sum by an exponential
average, so the step size per coordinate tracks the recent gradient scale. ``centered`` divides
by an estimate of the gradient's standard deviation instead of its root mean square. Adam is
RMSprop with momentum taken on g_t (m_t) instead of on the normalized step, plus bias correction.

Multiplying coordinate i of every gradient by c > 0 multiplies v_t,i by c^2, g_bar_t,i by c and
d_t,i by c (eps = 0), so g_t / d_t and b_t do not change: scale-free with eps = 0, centered or
not, with or without momentum (weight decay not in "l2" mode, as for Adam).
"""
from __future__ import annotations

from autodiff import backend

from .base import Optimizer, check_flag, check_in_unit_interval, check_nonnegative, safe_divide


class RMSprop(Optimizer):
    r"""RMSprop, step for step ``torch.optim.RMSprop``.

        v_t = alpha v_{t-1} + (1 - alpha) g_t^2        d_t = sqrt(v_t) + eps
        b_t = mu b_{t-1} + g_t / d_t                   w_t = w_{t-1} - eta b_t

    Args:
        lr (eta, default 1e-2), alpha (the average's forgetting factor, in [0, 1), default 0.99),
        eps (default 1e-8, added after the square root, as PyTorch), momentum (mu, in [0, 1),
        default 0: w_t = w_{t-1} - eta g_t / d_t), centered (default False: True uses
        sqrt(v_t - g_bar_t^2), g_bar_t the running mean of g_t), maximize (default False: ascend,
        g_t <- -g_t before everything), weight decay as in ``Optimizer`` ("l2" by default, as
        PyTorch's weight_decay).

    Scale-free with eps = 0 unless weight_decay > 0 in "l2" mode. PyTorch:
    ``torch.optim.RMSprop`` with the same arguments takes the same steps (state ``square_avg``,
    ``grad_avg``, ``momentum_buffer`` are ``v``, ``g_bar``, ``b`` here); optax: ``optax.rmsprop``
    puts eps inside the square root by default.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = RMSprop([x], lr=0.01, alpha=0.99, eps=0.0)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False, weight_decay_mode="l2"):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize,
                                      weight_decay_mode=weight_decay_mode))

    def check_hyperparameters(self, group):
        check_in_unit_interval(group, "alpha")
        check_nonnegative(group, "eps")
        check_in_unit_interval(group, "momentum")
        check_flag(group, "centered")

    def update(self, w, g, state, group):
        xp, eta, eps = backend.array_module(g), group["lr"], group["eps"]
        alpha, mu = group["alpha"], group["momentum"]
        state["step"] = state.get("step", 0) + 1
        v = state["v"] = alpha * state.get("v", 0) + (1 - alpha) * g * g   # v_t
        if group["centered"]:
            g_bar = state["g_bar"] = alpha * state.get("g_bar", 0) + (1 - alpha) * g   # g_bar_t
            # v_t - g_bar_t^2 >= 0 in exact arithmetic; rounding must not make sqrt NaN
            d = xp.sqrt(xp.maximum(v - g_bar * g_bar, 0)) + eps   # sqrt(v_t - g_bar_t^2) + eps
        else:
            d = xp.sqrt(v) + eps                                      # d_t = sqrt(v_t) + eps
        u = safe_divide(xp, g, d)                                     # g_t / d_t
        if mu:
            u = state["b"] = mu * state.get("b", 0) + u               # b_t = mu b_{t-1} + g_t/d_t
        with self.decay(w, group):
            w -= eta * u                                              # w_t = w_{t-1} - eta u_t
