r"""Stochastic gradient descent and its relatives in the talk's experiments.

    momentum        m_t = beta m_{t-1} + (1 - beta) g_t,    m_0 = 0
    SGD             x_{t+1} = x_t - eta m_t                          (beta = 0: plain SGD)
    SGDNormalized   x_{t+1} = x_t - eta m_t / ||m_t||_2
    SGDClipGrad     x_{t+1} = x_t - min(eta, gamma / ||g_t||_2) g_t
    SGDClipMomentum x_{t+1} = x_t - min(eta, gamma / ||m_t||_2) m_t

The norms are global: over all parameters together, as in Zhang et al. (ICLR'20, NeurIPS'20).
None of these is scale-free: multiplying one coordinate of the gradients by c multiplies that
coordinate's steps by c (the normalized and clipped ones also mix coordinates through the norm).

PyTorch's momentum is another form, m_t = beta m_{t-1} + (1 - dampening) g_t with m_1 = g_t
(undampened when dampening = 0, the usual setting): ``dampening=`` selects it, with PyTorch's
trajectory for the same arguments.
"""
from __future__ import annotations

import numbers

from ..clipping import global_norm
from .base import Optimizer, check_in_unit_interval


def momentum(g, state: dict, beta: float, dampening):
    """m_t. dampening None: the talk's m_t = beta m_{t-1} + (1 - beta) g_t, m_0 = 0. A number:
    PyTorch's m_1 = g_1, then m_t = beta m_{t-1} + (1 - dampening) g_t. (The buffer is updated
    in place: a language model's embedding and output layer are millions of numbers.)"""
    m = state.get("m")
    if m is None:
        m = state["m"] = (1 - beta) * g if dampening is None else g.copy()   # m_1
        return m
    m *= beta                                                 # m_t = beta m_{t-1}
    m += (1 - (beta if dampening is None else dampening)) * g   #     + (1 - dampening) g_t
    return m


def _check_momentum(group) -> None:
    check_in_unit_interval(group, "momentum")
    if group.get("dampening") is not None:
        check_in_unit_interval(group, "dampening")
    if group.get("nesterov") and group["momentum"] == 0:
        raise ValueError("nesterov=True needs momentum > 0")


def _direction(g, m, group):
    """m_t, or with Nesterov the look-ahead: PyTorch's g_t + beta m_t (dampening given), the
    talk-form (1 - beta) g_t + beta m_t."""
    if not group.get("nesterov"):
        return m
    beta, damp = group["momentum"], group.get("dampening")
    return (1 - beta) * g + beta * m if damp is None else g + beta * m


def _global_norm_step(eta: float, gamma: float, norm: float) -> float:
    """min(eta, gamma / ||v||) (eta when v = 0: then the step is 0 anyway)."""
    return min(eta, gamma / norm) if norm > 0 else eta


class SGD(Optimizer):
    r"""SGD with momentum in the talk's form.

        m_t = beta m_{t-1} + (1 - beta) g_t        x_{t+1} = x_t - eta m_t

    Args:
        lr (eta): step size. momentum (beta, default 0): 0 gives plain SGD, x <- x - eta g.
        dampening: None (default) uses the talk's form above; a number gives PyTorch's
            m_1 = g_1, m_t = beta m_{t-1} + (1 - dampening) g_t (``dampening=0``: PyTorch's
            default undampened momentum, whose steps are 1/(1-beta) larger).
        nesterov: step along the look-ahead beta m_t + g_t (PyTorch's Nesterov; with the talk's
            form, beta m_t + (1 - beta) g_t).
        weight_decay (lambda), weight_decay_mode: see ``Optimizer`` ("l2" by default, as PyTorch).
        maximize (default False): ascend, g_t <- -g_t before everything, as PyTorch.

    Not scale-free. PyTorch: ``torch.optim.SGD(lr, momentum, dampening, nesterov)`` takes the
    same steps as ``SGD(lr, momentum, dampening=...)`` here with the same numbers (PyTorch's
    default is dampening=0); optax: ``optax.sgd(lr, momentum)`` is the undampened form.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([x], lr=0.1, momentum=0.9)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.98, -1.96], requires_grad=True)
    """

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=None, nesterov=False,
                 weight_decay=0.0, weight_decay_mode="l2", maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode, maximize=maximize))

    def check_hyperparameters(self, group):
        _check_momentum(group)

    def update(self, w, g, state, group):
        eta, beta = group["lr"], group["momentum"]
        u = g                                                         # plain SGD: u_t = g_t
        if beta:
            m = momentum(g, state, beta, group["dampening"])          # m_t
            u = _direction(g, m, group)
        with self.decay(w, group):
            w -= eta * u                                              # x_{t+1} = x_t - eta m_t


class _GlobalNormSGD(Optimizer):
    """Shared by the variants whose step depends on a norm over all parameters. Each passes the
    hyperparameters it takes, so nothing is accepted and then ignored: momentum's dampening and
    Nesterov, for one, change nothing once m_t is normalized (both forms of m_t are
    proportional), so SGDNormalized does not take them."""

    def __init__(self, params, lr=0.01, weight_decay=0.0, weight_decay_mode="l2", **options):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay,
                                      weight_decay_mode=weight_decay_mode, **options))

    def check_hyperparameters(self, group):
        if "momentum" in group:
            _check_momentum(group)
        gamma = group.get("gamma", 1.0)
        if isinstance(gamma, bool) or not (isinstance(gamma, numbers.Real) and gamma > 0):
            raise ValueError(f"{type(self).__name__} needs gamma > 0 (the largest step length "
                             f"||x_(t+1) - x_t||), got {gamma!r}")

    def momenta(self, params):
        """[(p, m_t or its Nesterov look-ahead, group)] for the (p, g, state, group) given."""
        out = []
        for p, g, state, group in params:
            m = momentum(g, state, group["momentum"], group.get("dampening"))    # m_t
            out.append((p, _direction(g, m, group), group))
        return out


class SGDNormalized(_GlobalNormSGD):
    r"""SGD with normalized momentum.

        m_t = beta m_{t-1} + (1 - beta) g_t        x_{t+1} = x_t - eta m_t / ||m_t||_2

    Every step has length eta (||m_t|| over all parameters), however small or large m_t is;
    m_t = 0 leaves x where it is, a NaN in m_t makes the step NaN (as for every optimizer; the
    trainer stops before such a step). Default momentum beta = 0.9.
    Not scale-free. No PyTorch/optax built-in
    (optax: ``scale_by_trust_ratio`` is related but per-layer).

    Example:
        >>> x = ad.Tensor([3.0, 4.0], requires_grad=True)
        >>> opt = SGDNormalized([x], lr=0.5, momentum=0.0)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([2.7, 3.6], requires_grad=True)
    """

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, lr=lr, weight_decay=weight_decay,
                         weight_decay_mode=weight_decay_mode, momentum=momentum)

    def step(self):
        ms = self.momenta(self.gradients())                           # m_t of every parameter
        norm = global_norm(m for _, m, _ in ms)                       # ||m_t||_2
        for p, m, group in ms:
            with self.decay(p.data, group):
                if norm != 0:                                         # m_t = 0: no direction
                    p.data -= group["lr"] * (m / norm)                # x - eta m_t / ||m_t||


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

    def __init__(self, params, lr=0.01, gamma=None, weight_decay=0.0, weight_decay_mode="l2"):
        super().__init__(params, lr=lr, weight_decay=weight_decay,
                         weight_decay_mode=weight_decay_mode, gamma=gamma)

    def step(self):
        params = list(self.gradients())
        norm = global_norm(g for _, g, _, _ in params)                # ||g_t||_2
        for p, g, _, group in params:
            step = _global_norm_step(group["lr"], group["gamma"], norm)
            with self.decay(p.data, group):
                p.data -= step * g                                    # x - min(eta, gamma/||g||) g


class SGDClipMomentum(_GlobalNormSGD):
    r"""SGD with clipped momentum (Zhang et al., NeurIPS'20).

        m_t = beta m_{t-1} + (1 - beta) g_t        x_{t+1} = x_t - min(eta, gamma / ||m_t||_2) m_t

    Args: lr (eta), momentum (beta, default 0.9), gamma (required), weight decay as in
    ``Optimizer``; ``dampening`` and ``nesterov`` as in ``SGD`` (the papers' code uses PyTorch's
    undampened momentum, ``dampening=0``, optionally Nesterov). Not scale-free. No PyTorch/optax
    built-in.

    Example:
        >>> x = ad.Tensor([30.0, 40.0], requires_grad=True)
        >>> opt = SGDClipMomentum([x], lr=0.1, momentum=0.0, gamma=1.0)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([29.4, 39.2], requires_grad=True)
    """

    def __init__(self, params, lr=0.01, momentum=0.9, gamma=None, weight_decay=0.0,
                 weight_decay_mode="l2", dampening=None, nesterov=False):
        super().__init__(params, lr=lr, weight_decay=weight_decay,
                         weight_decay_mode=weight_decay_mode, momentum=momentum, gamma=gamma,
                         dampening=dampening, nesterov=nesterov)

    def step(self):
        ms = self.momenta(self.gradients())                           # m_t of every parameter
        norm = global_norm(m for _, m, _ in ms)                       # ||m_t||_2
        for p, m, group in ms:
            step = _global_norm_step(group["lr"], group["gamma"], norm)
            with self.decay(p.data, group):
                p.data -= step * m                                    # x - min(eta, gamma/||m||) m


__all__ = ["SGD", "SGDNormalized", "SGDClipGrad", "SGDClipMomentum"]
