r"""Generalized SignSGD (Crawshaw et al., NeurIPS'22): Adam with the second moment of the momentum.

    m_t = beta1 m_{t-1} + (1 - beta1) g_t
    v_t = beta2 v_{t-1} + (1 - beta2) m_t^2         (Adam has g_t^2 here)
    x_{t+1} = x_t - eta m_t / sqrt(v_t)

With beta2 = 0, v_t = m_t^2 and the step is eta sign(m_t): SignSGD with momentum. It is scale-free
and, under coordinate-wise (L0, L1)-smoothness, provably needs fewer iterations than GD.
"""
from __future__ import annotations

from autodiff import backend

from .base import Optimizer, check_betas, check_nonnegative, safe_divide


class GeneralizedSignSGD(Optimizer):
    r"""Generalized SignSGD.

        m_t = beta1 m_{t-1} + (1 - beta1) g_t;  v_t = beta2 v_{t-1} + (1 - beta2) m_t^2
        x_{t+1} = x_t - eta m_t / (sqrt(v_t) + eps)

    Args: lr (eta, default 1e-3), betas ((beta1, beta2), default (0.9, 0.99); beta2 = 0 gives
    SignSGD with momentum), eps (default 0, as in the paper; a coordinate with v_t = 0 does not
    move), bias_correction (default False: the paper has none; True divides m_t by 1 - beta1^t
    and v_t by 1 - beta2^t), weight decay as in ``Optimizer`` ("l2" by default). Scale-free with
    eps = 0 unless weight_decay > 0 in "l2" mode. No PyTorch/optax built-in (optax's
    ``optax.sign_sgd`` is the beta1 = beta2 = 0 case).

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = GeneralizedSignSGD([x], lr=0.1, betas=(0.9, 0.0))
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.99), eps=0.0, bias_correction=False,
                 weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      bias_correction=bias_correction, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode))

    def check_hyperparameters(self, group):
        check_betas(group)
        check_nonnegative(group, "eps")

    def update(self, w, g, state, group):
        xp, eta, eps = backend.array_module(g), group["lr"], group["eps"]
        b1, b2 = group["betas"]
        t = state["step"] = state.get("step", 0) + 1
        m = state["m"] = b1 * state.get("m", 0) + (1 - b1) * g        # m_t
        v = state["v"] = b2 * state.get("v", 0) + (1 - b2) * m * m    # v_t (of m_t, not g_t)
        if group["bias_correction"]:
            m, v = m / (1 - b1 ** t), v / (1 - b2 ** t)                # m_hat_t, v_hat_t
        with self.decay(w, group):
            w -= eta * safe_divide(xp, m, xp.sqrt(v) + eps)            # x - eta m_t / sqrt(v_t)


class SignSGD(GeneralizedSignSGD):
    r"""SignSGD with momentum, x_{t+1} = x_t - eta sign(m_t): ``GeneralizedSignSGD`` with
    beta2 = 0 (then v_t = m_t^2 and m_t / sqrt(v_t) = sign(m_t)). Scale-free.

    Args: lr (eta, default 1e-3), momentum (beta1, default 0.9), weight decay as in
    ``Optimizer``. optax: ``optax.sign_sgd`` is the momentum = 0 case.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SignSGD([x], lr=0.1)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, lr=lr, betas=(momentum, 0.0), weight_decay=weight_decay,
                         weight_decay_mode=weight_decay_mode)
