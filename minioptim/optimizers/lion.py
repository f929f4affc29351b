r"""Lion (Chen et al., 2023): the sign of an interpolated momentum.

    c_t = beta1 m_{t-1} + (1 - beta1) g_t
    w_t = w_{t-1} - eta (sign(c_t) + lambda w_{t-1})          (decoupled decay, as in the paper)
    m_t = beta2 m_{t-1} + (1 - beta2) g_t

sign() ignores the size of each coordinate, so Lion is scale-free without any second moment: the
implicit preconditioning of the talk does not need a "second-order term".
"""
from __future__ import annotations

from autodiff import backend

from .base import Optimizer, check_betas


class Lion(Optimizer):
    r"""Lion.

        c_t = beta1 m_{t-1} + (1 - beta1) g_t;  w_t = w_{t-1} - eta sign(c_t);
        m_t = beta2 m_{t-1} + (1 - beta2) g_t

    Args: lr (eta, default 1e-4: Lion's steps have length eta in every coordinate, so it wants
    3-10x less than Adam), betas ((beta1, beta2), default (0.9, 0.99)), weight_decay (lambda,
    default 0) with weight_decay_mode "decoupled" by default. Scale-free (with "decoupled" or
    "proximal" decay). PyTorch: none built in; optax: ``optax.lion`` (same defaults).

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Lion([x], lr=0.1)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    default_decay_mode = "decoupled"

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0,
                 weight_decay_mode="decoupled"):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode))

    def check_hyperparameters(self, group):
        check_betas(group)

    def update(self, w, g, state, group):
        xp, eta = backend.array_module(g), group["lr"]
        b1, b2 = group["betas"]
        m = state.get("m", 0)
        c = b1 * m + (1 - b1) * g                                      # c_t
        with self.decay(w, group):
            w -= eta * xp.sign(c)                                  # w_t = w_{t-1} - eta sign(c_t)
        state["m"] = b2 * m + (1 - b2) * g                             # m_t
