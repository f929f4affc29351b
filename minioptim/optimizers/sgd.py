r"""Stochastic gradient descent and its relatives in the talk's experiments.

    momentum        m_t = beta m_{t-1} + (1 - beta) g_t,    m_0 = 0
    SGD             x_{t+1} = x_t - eta m_t                          (beta = 0: plain SGD)
    SGDNormalized   x_{t+1} = x_t - eta m_t / ||m_t||_2
    SGDClipGrad     x_{t+1} = x_t - min(eta, gamma / ||g_t||_2) g_t
    SGDClipMomentum x_{t+1} = x_t - min(eta, gamma / ||m_t||_2) m_t

The norms are global: over all parameters together, as in Zhang et al. (ICLR'20, NeurIPS'20).
None of these is scale-free: multiplying one coordinate of the gradients by c multiplies that
coordinate's steps by c (the normalized and clipped ones also mix coordinates through the norm).
"""
from __future__ import annotations

import numbers

from ..clipping import global_norm
from .base import Optimizer, check_in_unit_interval


def _momentum(g, state, beta, dampening):
    """m_t = beta m_{t-1} + (1 - dampening) g_t, m_0 = 0 (the talk: dampening = beta)."""
    m_prev = state.get("m")
    m = (1 - dampening) * g if m_prev is None else beta * m_prev + (1 - dampening) * g
    state["m"] = m
    return m


class SGD(Optimizer):
    r"""SGD with momentum in the talk's form.

        m_t = beta m_{t-1} + (1 - beta) g_t        x_{t+1} = x_t - eta m_t

    Args:
        lr (eta): step size. momentum (beta, default 0): 0 gives plain SGD, x <- x - eta g.
        dampening: None (default) uses the talk's (1 - beta) g_t; ``dampening=0`` gives
            PyTorch's undampened m_t = beta m_{t-1} + g_t (whose steps are 1/(1-beta) larger).
        nesterov: step along (1 - dampening) g_t + beta m_t instead of m_t (PyTorch's Nesterov).
        weight_decay (lambda), weight_decay_mode: see ``Optimizer`` ("l2" by default, as PyTorch).

    Not scale-free. PyTorch: ``torch.optim.SGD(lr, momentum, dampening=0)`` equals
    ``SGD(lr, momentum, dampening=0)`` here; optax: ``optax.sgd(lr, momentum)`` is the same
    undampened form.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([x], lr=0.1, momentum=0.9)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.98, -1.96], requires_grad=True)
    """

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=None, nesterov=False,
                 weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode))

    def check_hyperparameters(self, group):
        check_in_unit_interval(group, "momentum")
        if group["dampening"] is not None:
            check_in_unit_interval(group, "dampening")
        if group["nesterov"] and group["momentum"] == 0:
            raise ValueError("nesterov=True needs momentum > 0")

    def direction(self, g, state, group):
        beta = group["momentum"]
        if beta == 0:
            return g                                                  # x <- x - eta g
        damp = beta if group["dampening"] is None else group["dampening"]
        m = _momentum(g, state, beta, damp)                           # m_t
        if group["nesterov"]:
            return (1 - damp) * g + beta * m
        return m                                                      # x <- x - eta m_t


class _GlobalNormSGD(Optimizer):
    """Shared by the variants whose step depends on a norm over all parameters: each declares
    which of momentum (beta) and gamma it takes, so nothing is accepted and then ignored."""

    takes_momentum, takes_gamma = True, False

    def __init__(self, params, lr=0.01, momentum=0.9, gamma=None, weight_decay=0.0,
                 weight_decay_mode="l2"):
        defaults = dict(lr=lr, weight_decay=weight_decay, weight_decay_mode=weight_decay_mode)
        if self.takes_momentum:
            defaults["momentum"] = momentum
        if self.takes_gamma:
            defaults["gamma"] = gamma
        super().__init__(params, defaults)

    def check_hyperparameters(self, group):
        if self.takes_momentum:
            check_in_unit_interval(group, "momentum")
        gamma = group.get("gamma", 1.0)
        if not (isinstance(gamma, numbers.Real) and gamma > 0):
            raise ValueError(f"{type(self).__name__} needs gamma > 0 (the largest step length "
                             f"||x_(t+1) - x_t||), got {gamma!r}")

    @staticmethod
    def _scaled(v, norm, group):
        """v scaled so that the base's step eta * u is min(eta, gamma / ||v||) v."""
        eta, gamma = group["lr"], group["gamma"]
        step = min(eta, gamma / norm) if norm > 0 else eta            # min(eta, gamma/||v||)
        return v * (step / eta) if eta > 0 else v


class SGDNormalized(_GlobalNormSGD):
    r"""SGD with normalized momentum.

        m_t = beta m_{t-1} + (1 - beta) g_t        x_{t+1} = x_t - eta m_t / ||m_t||_2

    Every step has length eta (||m_t|| over all parameters). Default momentum beta = 0.9.
    Not scale-free. No PyTorch/optax built-in (optax: ``scale_by_trust_ratio`` is related but
    per-layer).

    Example:
        >>> x = ad.Tensor([3.0, 4.0], requires_grad=True)
        >>> opt = SGDNormalized([x], lr=0.5, momentum=0.0)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([2.7, 3.6], requires_grad=True)
    """

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         weight_decay_mode=weight_decay_mode)

    def directions(self, items):
        ms = [_momentum(g, state, group["momentum"], group["momentum"])
              for _, g, state, group in items]                        # m_t
        norm = global_norm(ms)                                        # ||m_t||_2
        return [m / norm if norm > 0 else m * 0 for m in ms]         # m_t / ||m_t||


class SGDClipGrad(_GlobalNormSGD):
    r"""SGD with gradient clipping (Zhang et al., ICLR'20).

        x_{t+1} = x_t - min(eta, gamma / ||g_t||_2) g_t

    Args: lr (eta), gamma (the largest step length; required), weight decay as in ``Optimizer``.
    Not scale-free. PyTorch: ``clip_grad_norm_(params, gamma / eta)`` before ``SGD(lr=eta)``
    takes the same step.

    Example:
        >>> x = ad.Tensor([30.0, 40.0], requires_grad=True)
        >>> opt = SGDClipGrad([x], lr=0.1, gamma=1.0)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([29.4, 39.2], requires_grad=True)
    """

    takes_momentum, takes_gamma = False, True

    def __init__(self, params, lr=0.01, gamma=None, weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, lr=lr, gamma=gamma, weight_decay=weight_decay,
                         weight_decay_mode=weight_decay_mode)

    def directions(self, items):
        norm = global_norm(g for _, g, _, _ in items)                 # ||g_t||_2
        return [self._scaled(g, norm, group) for _, g, _, group in items]


class SGDClipMomentum(_GlobalNormSGD):
    r"""SGD with clipped momentum (Zhang et al., NeurIPS'20).

        m_t = beta m_{t-1} + (1 - beta) g_t        x_{t+1} = x_t - min(eta, gamma / ||m_t||_2) m_t

    Args: lr (eta), momentum (beta, default 0.9), gamma (required), weight decay as in
    ``Optimizer``. Not scale-free. No PyTorch/optax built-in.

    Example:
        >>> x = ad.Tensor([30.0, 40.0], requires_grad=True)
        >>> opt = SGDClipMomentum([x], lr=0.1, momentum=0.0, gamma=1.0)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([29.4, 39.2], requires_grad=True)
    """

    takes_gamma = True

    def __init__(self, params, lr=0.01, momentum=0.9, gamma=None, weight_decay=0.0,
                 weight_decay_mode="l2"):
        super().__init__(params, lr=lr, momentum=momentum, gamma=gamma,
                         weight_decay=weight_decay, weight_decay_mode=weight_decay_mode)

    def directions(self, items):
        ms = [_momentum(g, state, group["momentum"], group["momentum"])
              for _, g, state, group in items]                        # m_t
        norm = global_norm(ms)                                        # ||m_t||_2
        return [self._scaled(m, norm, group) for m, (_, _, _, group) in zip(ms, items)]


__all__ = ["SGD", "SGDNormalized", "SGDClipGrad", "SGDClipMomentum"]
