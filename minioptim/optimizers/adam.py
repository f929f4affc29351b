r"""Adam, AdamW and AdamProx: one algorithm in the three weight-decay modes.

    m_t = beta1 m_{t-1} + (1 - beta1) g_t                 (m_0 = 0)
    v_t = beta2 v_{t-1} + (1 - beta2) g_t^2               (v_0 = 0)
    m_hat_t = m_t / (1 - beta1^t),  v_hat_t = v_t / (1 - beta2^t)   (bias correction; optional)
    u_t = m_hat_t / (sqrt(v_hat_t) + eps)
    AMSGrad   v_max_t = max(v_max_{t-1}, v_t),  v_hat_t = v_max_t / (1 - beta2^t)     (optional)
    Adam      g_t <- g_t + lambda w_{t-1};  w_t = w_{t-1} - eta u_t                ("l2")
    AdamW     w_t = w_{t-1} - eta (lambda w_{t-1} + u_t)                            ("decoupled")
    AdamProx  w_t = (w_{t-1} - eta u_t) / (1 + eta lambda)                          ("proximal")

The three differ only in where lambda enters, which ``Optimizer.decay`` writes once for every
optimizer; ``Adam.update`` below is the shared part, line by line.

Multiplying coordinate i of every gradient by c > 0 multiplies m_t,i by c and sqrt(v_t,i) by c,
so u_t does not change: Adam is scale-free (exactly for eps = 0). Adam with an L2 term is not:
the added lambda w is not scaled with the gradient. AdamW and AdamProx are; AdamW is the
first-order expansion of AdamProx in eta lambda, and AdamProx never flips the sign of w.
AMSGrad (Reddi et al., 2018) keeps the largest v_t seen, so a coordinate's step size
eta / (sqrt(v_hat_t) + eps) can only shrink (up to bias correction); it stays scale-free.
"""
from __future__ import annotations

from autodiff import backend

from .base import Optimizer, check_betas, check_flag, check_nonnegative, safe_divide


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with weight decay as an L2 term by default.

        m_t = beta1 m_{t-1} + (1 - beta1) g_t
        v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
        w_t = w_{t-1} - eta m_t / (sqrt(v_t) + eps)

    Args:
        lr (eta, default 1e-3), betas ((beta1, beta2), default (0.9, 0.999)),
        eps (default 1e-8, outside the square root),
        weight_decay (lambda, default 0), weight_decay_mode ("l2" for Adam; AdamW and AdamProx
        are this class with "decoupled" and "proximal"),
        bias_correction (default True): divide m_t by 1 - beta1^t and v_t by 1 - beta2^t, as
        Kingma & Ba and PyTorch do; False follows the talk's slide literally,
        amsgrad (default False): v_max_t = max(v_max_{t-1}, v_t) replaces v_t in v_hat_t, as
        PyTorch's amsgrad (state ``max_exp_avg_sq``, PyTorch's name),
        maximize (default False): ascend, g_t <- -g_t before everything, as PyTorch.

    Scale-free with eps = 0 unless weight_decay > 0 in "l2" mode. PyTorch: ``torch.optim.Adam``
    (same defaults; its weight_decay is this "l2" mode); optax: ``optax.adam`` (eps outside the
    root, same), with ``optax.add_decayed_weights`` before it for L2.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adam([x], lr=0.1)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 weight_decay_mode=None, bias_correction=True, amsgrad=False, maximize=False):
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            weight_decay_mode=weight_decay_mode or self.default_decay_mode,
            bias_correction=bias_correction, amsgrad=amsgrad, maximize=maximize))

    def check_hyperparameters(self, group):
        check_betas(group)
        check_nonnegative(group, "eps")
        check_flag(group, "amsgrad")

    def update(self, w, g, state, group):
        xp, eta, eps = backend.array_module(g), group["lr"], group["eps"]
        b1, b2 = group["betas"]
        t = state["step"] = state.get("step", 0) + 1
        m = state["m"] = b1 * state.get("m", 0) + (1 - b1) * g        # m_t
        v = state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g    # v_t
        if group["amsgrad"]:                                           # v_t <- v_max_t
            v = state["max_exp_avg_sq"] = xp.maximum(state.get("max_exp_avg_sq", 0), v)
        if group["bias_correction"]:
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)        # m_hat_t, v_hat_t
        else:
            m_hat, v_hat = m, v                                        # the slide, uncorrected
        u = safe_divide(xp, m_hat, xp.sqrt(v_hat) + eps)               # m_hat / (sqrt(v_hat) + eps)
        with self.decay(w, group):
            w -= eta * u                                               # w_t = w_{t-1} - eta u_t


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,

        w_t = w_{t-1} - eta (lambda w_{t-1} + m_t / (sqrt(v_t) + eps)).

    Same arguments as ``Adam`` (amsgrad and maximize too); weight_decay defaults to 0.01 as in
    PyTorch's ``AdamW`` (``optax.adamw`` uses 1e-4 and multiplies lambda by the schedule's eta
    the same way). Scale-free with eps = 0.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamW([x], lr=0.1, weight_decay=0.1)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.89, -1.88], requires_grad=True)
    """

    default_decay_mode = "decoupled"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                 weight_decay_mode=None, bias_correction=True, amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, weight_decay_mode, bias_correction,
                         amsgrad, maximize)


class AdamProx(AdamW):
    r"""AdamProx: Adam with the proximal step for (lambda/2)||w||^2,

        w_t = (w_{t-1} - eta m_t / (sqrt(v_t) + eps)) / (1 + eta lambda).

    It never flips the sign of a weight for any eta >= 0, and differs from AdamW by O(eta^2)
    per step. Same arguments as ``AdamW``. Scale-free with eps = 0. No PyTorch/optax built-in.

    Example:
        >>> x = ad.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamProx([x], lr=0.1, weight_decay=0.1)
        >>> (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.8910891, -1.8811882], requires_grad=True)
    """

    default_decay_mode = "proximal"
