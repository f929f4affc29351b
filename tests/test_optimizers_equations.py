"""Every optimizer takes the steps its equations say, in every weight-decay mode.

Each reference below is written from the talk's equations in plain NumPy float64 (not from the
library code). The library runs on the active backend ("numpy" or "strict"); gradients are made
on the host from the *current* iterate (the gradient of a fixed quadratic, shifted differently at
each step), so a wrong step in any mode changes every later gradient as well.

    "l2"         g_t <- g_t + lambda w_{t-1};  w_t = w_{t-1} - eta u_t
    "decoupled"  w_t = w_{t-1} - eta (lambda w_{t-1} + u_t)
    "proximal"   w_t = (w_{t-1} - eta u_t) / (1 + eta lambda)
"""
import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from params import P, host

MODES = ("l2", "decoupled", "proximal")
STEPS = 3
RTOL, ATOL = 1e-12, 1e-14


# -- the problem: two parameters of shapes (3,) and (2, 2) ---------------------------------------
_rng = np.random.default_rng(1234)
W0 = [np.array([0.8, -1.3, 0.45]), np.array([[-0.6, 1.1], [0.25, -2.0]])]
CURV = [np.array([2.0, 0.5, 7.0]), np.array([[1.5, 0.2], [4.0, 0.9]])]
SHIFTS = [[4.0 * _rng.normal(size=w.shape) for w in W0] for _ in range(STEPS)]  # signs flip


def grads_at(ws, t):
    """g_t = H w + b_t: the gradient of a diagonal quadratic whose linear term changes each step."""
    return [h * w + b for h, w, b in zip(CURV, ws, SHIFTS[t - 1])]


def reference_run(direction, lr, lam, mode, steps=STEPS, w0=W0, grads=grads_at,
                  maximize=False):
    """Iterates w_1..w_steps of the equations; ``direction(gs, state, t)`` gives u_t per param
    (``maximize``: ascend, g_t <- -g_t before everything)."""
    ws, state, out = [w.copy() for w in w0], {}, []
    for t in range(1, steps + 1):
        gs = grads(ws, t)
        if maximize:
            gs = [-g for g in gs]
        if mode == "l2":
            gs = [g + lam * w for g, w in zip(gs, ws)]
        us = direction(gs, state, t)
        if mode == "l2":
            ws = [w - lr * u for w, u in zip(ws, us)]
        elif mode == "decoupled":
            ws = [w - lr * (lam * w + u) for w, u in zip(ws, us)]
        else:
            ws = [(w - lr * u) / (1 + lr * lam) for w, u in zip(ws, us)]
        out.append([w.copy() for w in ws])
    return out


def library_run(make, steps=STEPS, w0=W0, grads=grads_at):
    ps = [P(w) for w in w0]
    opt = make(ps)
    out = []
    for t in range(1, steps + 1):
        for p, g in zip(ps, grads([host(p.data) for p in ps], t)):
            p.grad = ad.backend.asarray(np.array(g, copy=True))
        opt.step()
        out.append([host(p.data) for p in ps])
    return out


def assert_same_iterates(got, want):
    for t, (gw, ww) in enumerate(zip(got, want), start=1):
        for i, (g, w) in enumerate(zip(gw, ww)):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL,
                                       err_msg=f"step {t}, parameter {i}")


# -- reference directions, from the equations ----------------------------------------------------
def gnorm(arrays):
    return np.sqrt(sum(float(np.sum(a * a)) for a in arrays))


def ref_sgd(gs, state, t):
    return gs


def ref_momentum(beta, dampening=None, nesterov=False):
    """The talk (dampening None): m_0 = 0, m_t = beta m + (1 - beta) g, Nesterov
    (1 - beta) g + beta m. PyTorch (torch.optim.SGD's documented update): b_1 = g_1, then
    b_t = beta b + (1 - dampening) g, Nesterov g + beta b."""
    def direction(gs, state, t):
        if dampening is None:
            ms = state.get("m", [np.zeros_like(g) for g in gs])
            ms = state["m"] = [beta * m + (1 - beta) * g for m, g in zip(ms, gs)]
            return [(1 - beta) * g + beta * m for g, m in zip(gs, ms)] if nesterov else ms
        if t == 1:
            ms = state["m"] = [g.copy() for g in gs]
        else:
            ms = state["m"] = [beta * m + (1 - dampening) * g for m, g in zip(state["m"], gs)]
        return [g + beta * m for g, m in zip(gs, ms)] if nesterov else ms
    return direction


def ref_normalized(beta):
    def direction(gs, state, t):
        ms = state.get("m", [np.zeros_like(g) for g in gs])
        ms = state["m"] = [beta * m + (1 - beta) * g for m, g in zip(ms, gs)]
        n = gnorm(ms)
        return [m / n for m in ms]
    return direction


def ref_clip_grad(lr, gamma):
    def direction(gs, state, t):
        step = min(lr, gamma / gnorm(gs))                  # w <- w - min(eta, gamma/||g||) g
        state.setdefault("clipped", []).append(step < lr)
        return [step / lr * g for g in gs]
    return direction


def ref_clip_momentum(lr, beta, gamma):
    def direction(gs, state, t):
        ms = state.get("m", [np.zeros_like(g) for g in gs])
        ms = state["m"] = [beta * m + (1 - beta) * g for m, g in zip(ms, gs)]
        step = min(lr, gamma / gnorm(ms))                  # w <- w - min(eta, gamma/||m||) m
        state.setdefault("clipped", []).append(step < lr)
        return [step / lr * m for m in ms]
    return direction


def ref_adagrad(eps):
    def direction(gs, state, t):
        ss = state.get("s", [np.zeros_like(g) for g in gs])
        ss = state["s"] = [s + g * g for s, g in zip(ss, gs)]
        return [g / (eps + np.sqrt(s)) for g, s in zip(gs, ss)]
    return direction


def ref_adam(b1, b2, eps, bias_correction=True):
    def direction(gs, state, t):
        ms = state.get("m", [np.zeros_like(g) for g in gs])
        vs = state.get("v", [np.zeros_like(g) for g in gs])
        ms = state["m"] = [b1 * m + (1 - b1) * g for m, g in zip(ms, gs)]
        vs = state["v"] = [b2 * v + (1 - b2) * g * g for v, g in zip(vs, gs)]
        if bias_correction:
            return [(m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
                    for m, v in zip(ms, vs)]
        return [m / (np.sqrt(v) + eps) for m, v in zip(ms, vs)]
    return direction


def ref_lion(b1, b2):
    def direction(gs, state, t):
        ms = state.get("m", [np.zeros_like(g) for g in gs])
        cs = [b1 * m + (1 - b1) * g for m, g in zip(ms, gs)]
        state["m"] = [b2 * m + (1 - b2) * g for m, g in zip(ms, gs)]
        return [np.sign(c) for c in cs]
    return direction


def ref_gen_sign(b1, b2, eps, bias_correction=False):
    def direction(gs, state, t):
        ms = state.get("m", [np.zeros_like(g) for g in gs])
        vs = state.get("v", [np.zeros_like(g) for g in gs])
        ms = state["m"] = [b1 * m + (1 - b1) * g for m, g in zip(ms, gs)]
        vs = state["v"] = [b2 * v + (1 - b2) * m * m for v, m in zip(vs, ms)]
        if bias_correction:
            ms = [m / (1 - b1 ** t) for m in ms]
            vs = [v / (1 - b2 ** t) for v in vs]
        return [m / (np.sqrt(v) + eps) for m, v in zip(ms, vs)]
    return direction


def ref_sign(beta):
    def direction(gs, state, t):
        ms = state.get("m", [np.zeros_like(g) for g in gs])
        ms = state["m"] = [beta * m + (1 - beta) * g for m, g in zip(ms, gs)]
        return [np.sign(m) for m in ms]
    return direction


PRECOND = [np.array([0.5, 2.0, 0.1]), np.array([[1.0, 3.0], [0.25, 0.7]])]


def ref_precond(gs, state, t):
    return [d * g for d, g in zip(PRECOND, gs)]


# (id, lr, library constructor given (params, lr, lam, mode), reference direction)
CASES = [
    ("SGD", 0.05, lambda ps, lr, lam, mode: mo.SGD(
        ps, lr=lr, weight_decay=lam, weight_decay_mode=mode), ref_sgd),
    ("SGD-momentum", 0.05, lambda ps, lr, lam, mode: mo.SGD(
        ps, lr=lr, momentum=0.7, weight_decay=lam, weight_decay_mode=mode), ref_momentum(0.7)),
    ("SGD-dampening0", 0.05, lambda ps, lr, lam, mode: mo.SGD(
        ps, lr=lr, momentum=0.7, dampening=0, weight_decay=lam, weight_decay_mode=mode),
     ref_momentum(0.7, dampening=0.0)),
    ("SGD-dampening0.3", 0.05, lambda ps, lr, lam, mode: mo.SGD(
        ps, lr=lr, momentum=0.7, dampening=0.3, weight_decay=lam, weight_decay_mode=mode),
     ref_momentum(0.7, dampening=0.3)),
    ("SGD-nesterov", 0.05, lambda ps, lr, lam, mode: mo.SGD(
        ps, lr=lr, momentum=0.6, nesterov=True, weight_decay=lam, weight_decay_mode=mode),
     ref_momentum(0.6, nesterov=True)),
    ("SGD-nesterov-dampening0", 0.05, lambda ps, lr, lam, mode: mo.SGD(
        ps, lr=lr, momentum=0.6, dampening=0, nesterov=True, weight_decay=lam,
        weight_decay_mode=mode), ref_momentum(0.6, dampening=0.0, nesterov=True)),
    ("SGDNormalized", 0.07, lambda ps, lr, lam, mode: mo.SGDNormalized(
        ps, lr=lr, momentum=0.6, weight_decay=lam, weight_decay_mode=mode), ref_normalized(0.6)),
    ("SGDClipGrad-clipping", 0.1, lambda ps, lr, lam, mode: mo.SGDClipGrad(
        ps, lr=lr, gamma=0.05, weight_decay=lam, weight_decay_mode=mode),
     ref_clip_grad(0.1, 0.05)),
    ("SGDClipGrad-not-clipping", 0.1, lambda ps, lr, lam, mode: mo.SGDClipGrad(
        ps, lr=lr, gamma=100.0, weight_decay=lam, weight_decay_mode=mode),
     ref_clip_grad(0.1, 100.0)),
    ("SGDClipMomentum-clipping", 0.1, lambda ps, lr, lam, mode: mo.SGDClipMomentum(
        ps, lr=lr, momentum=0.6, gamma=0.05, weight_decay=lam, weight_decay_mode=mode),
     ref_clip_momentum(0.1, 0.6, 0.05)),
    ("SGDClipMomentum-not-clipping", 0.1, lambda ps, lr, lam, mode: mo.SGDClipMomentum(
        ps, lr=lr, momentum=0.6, gamma=100.0, weight_decay=lam, weight_decay_mode=mode),
     ref_clip_momentum(0.1, 0.6, 100.0)),
    ("AdaGrad", 0.2, lambda ps, lr, lam, mode: mo.AdaGrad(
        ps, lr=lr, eps=1e-3, weight_decay=lam, weight_decay_mode=mode), ref_adagrad(1e-3)),
    ("Adam", 0.03, lambda ps, lr, lam, mode: mo.Adam(
        ps, lr=lr, betas=(0.8, 0.95), eps=1e-3, weight_decay=lam, weight_decay_mode=mode),
     ref_adam(0.8, 0.95, 1e-3)),
    ("Adam-no-bias-correction", 0.03, lambda ps, lr, lam, mode: mo.Adam(
        ps, lr=lr, betas=(0.8, 0.95), eps=1e-3, weight_decay=lam, weight_decay_mode=mode,
        bias_correction=False), ref_adam(0.8, 0.95, 1e-3, bias_correction=False)),
    ("AdamW", 0.03, lambda ps, lr, lam, mode: mo.AdamW(
        ps, lr=lr, betas=(0.7, 0.9), eps=1e-4, weight_decay=lam, weight_decay_mode=mode),
     ref_adam(0.7, 0.9, 1e-4)),
    ("AdamProx", 0.03, lambda ps, lr, lam, mode: mo.AdamProx(
        ps, lr=lr, betas=(0.7, 0.9), eps=1e-4, weight_decay=lam, weight_decay_mode=mode),
     ref_adam(0.7, 0.9, 1e-4)),
    ("Lion", 0.02, lambda ps, lr, lam, mode: mo.Lion(
        ps, lr=lr, betas=(0.8, 0.95), weight_decay=lam, weight_decay_mode=mode),
     ref_lion(0.8, 0.95)),
    ("Lion-beta2-below-beta1", 0.02, lambda ps, lr, lam, mode: mo.Lion(
        ps, lr=lr, betas=(0.9, 0.5), weight_decay=lam, weight_decay_mode=mode),
     ref_lion(0.9, 0.5)),
    ("GeneralizedSignSGD", 0.02, lambda ps, lr, lam, mode: mo.GeneralizedSignSGD(
        ps, lr=lr, betas=(0.8, 0.9), weight_decay=lam, weight_decay_mode=mode),
     ref_gen_sign(0.8, 0.9, 0.0)),
    ("GeneralizedSignSGD-eps-bias-correction", 0.02, lambda ps, lr, lam, mode:
     mo.GeneralizedSignSGD(ps, lr=lr, betas=(0.8, 0.9), eps=1e-3, bias_correction=True,
                           weight_decay=lam, weight_decay_mode=mode),
     ref_gen_sign(0.8, 0.9, 1e-3, bias_correction=True)),
    ("SignSGD", 0.02, lambda ps, lr, lam, mode: mo.SignSGD(
        ps, lr=lr, momentum=0.7, weight_decay=lam, weight_decay_mode=mode), ref_sign(0.7)),
    ("PreconditionedGD", 0.1, lambda ps, lr, lam, mode: mo.PreconditionedGD(
        ps, lr=lr, preconditioner=PRECOND, weight_decay=lam, weight_decay_mode=mode),
     ref_precond),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,lr,make,reference", CASES, ids=[c[0] for c in CASES])
def test_first_three_steps_follow_the_equations(name, lr, make, reference, mode):
    """w_1, w_2, w_3 of each optimizer (non-default hyperparameters, lambda = 0.3) equal the
    talk's equations evaluated by hand, in each weight-decay mode."""
    lam = 0.3
    want = reference_run(reference, lr, lam, mode)
    got = library_run(lambda ps: make(ps, lr, lam, mode))
    assert_same_iterates(got, want)


@pytest.mark.parametrize("name,lr,make,reference", CASES, ids=[c[0] for c in CASES])
def test_without_weight_decay_every_mode_is_the_plain_algorithm(name, lr, make, reference):
    """With lambda = 0 the three modes coincide with the undecayed equations."""
    want = reference_run(reference, lr, 0.0, "l2")
    for mode in MODES:
        assert_same_iterates(library_run(lambda ps: make(ps, lr, 0.0, mode)), want)


def test_the_modes_really_differ():
    """Sanity check of the references: with lambda > 0 the three modes give different iterates
    (so the test above could not pass with the mode ignored)."""
    finals = [reference_run(ref_adam(0.8, 0.95, 1e-3), 0.03, 0.3, m)[-1] for m in MODES]
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert np.max(np.abs(finals[a][0] - finals[b][0])) > 1e-6


def test_clipping_cases_do_and_do_not_clip():
    """Sanity check of the references: the "clipping" cases clip in every step, the
    "not-clipping" ones never, so both branches of min(eta, gamma/||.||) are covered."""
    for direction, expect in [(ref_clip_grad(0.1, 0.05), True), (ref_clip_grad(0.1, 100.0), False),
                              (ref_clip_momentum(0.1, 0.6, 0.05), True),
                              (ref_clip_momentum(0.1, 0.6, 100.0), False)]:
        state = {}

        def spy(gs, st, t, direction=direction):
            return direction(gs, state, t)
        reference_run(spy, 0.1, 0.3, "l2")
        assert state["clipped"] == [expect] * STEPS


# -- the documented defaults ---------------------------------------------------------------------
DEFAULT_CASES = [
    ("SGD", lambda ps: mo.SGD(ps), 0.01, 0.0, "l2", ref_sgd),
    ("SGDNormalized", lambda ps: mo.SGDNormalized(ps, lr=0.01), 0.01, 0.0, "l2",
     ref_normalized(0.9)),
    ("SGDClipMomentum", lambda ps: mo.SGDClipMomentum(ps, lr=0.1, gamma=0.05), 0.1, 0.0, "l2",
     ref_clip_momentum(0.1, 0.9, 0.05)),
    ("AdaGrad", lambda ps: mo.AdaGrad(ps), 0.01, 0.0, "l2", ref_adagrad(1e-10)),
    ("Adam", lambda ps: mo.Adam(ps), 1e-3, 0.0, "l2", ref_adam(0.9, 0.999, 1e-8)),
    ("Adam-l2", lambda ps: mo.Adam(ps, weight_decay=0.2), 1e-3, 0.2, "l2",
     ref_adam(0.9, 0.999, 1e-8)),
    ("AdamW", lambda ps: mo.AdamW(ps), 1e-3, 0.01, "decoupled", ref_adam(0.9, 0.999, 1e-8)),
    ("AdamProx", lambda ps: mo.AdamProx(ps), 1e-3, 0.01, "proximal",
     ref_adam(0.9, 0.999, 1e-8)),
    ("Lion", lambda ps: mo.Lion(ps, weight_decay=0.2), 1e-4, 0.2, "decoupled",
     ref_lion(0.9, 0.99)),
    ("GeneralizedSignSGD", lambda ps: mo.GeneralizedSignSGD(ps), 1e-3, 0.0, "l2",
     ref_gen_sign(0.9, 0.99, 0.0)),
    ("SignSGD", lambda ps: mo.SignSGD(ps, lr=1e-3), 1e-3, 0.0, "l2", ref_sign(0.9)),
]


@pytest.mark.parametrize("name,make,lr,lam,mode,reference", DEFAULT_CASES,
                         ids=[c[0] for c in DEFAULT_CASES])
def test_defaults_are_the_documented_ones(name, make, lr, lam, mode, reference):
    """With defaults left alone each optimizer follows its documented hyperparameters
    (e.g. AdamW: decoupled, lambda = 0.01; AdamProx: proximal; Lion: decoupled)."""
    assert_same_iterates(library_run(make), reference_run(reference, lr, lam, mode))


def test_signsgd_is_generalized_signsgd_with_beta2_zero():
    """SignSGD(momentum=b) is GeneralizedSignSGD(betas=(b, 0)): x <- x - eta sign(m_t)."""
    a = library_run(lambda ps: mo.SignSGD(ps, lr=0.02, momentum=0.7))
    b = library_run(lambda ps: mo.GeneralizedSignSGD(ps, lr=0.02, betas=(0.7, 0.0)))
    assert_same_iterates(a, b)


def test_first_adam_step_has_length_lr_in_every_coordinate():
    """With bias correction and eps = 0, m^_1 / sqrt(v^_1) = sign(g_1): the first step moves
    every coordinate by exactly eta (the docstring's example)."""
    p = P([1.0, -2.0, 0.3])
    opt = mo.Adam([p], lr=0.1, eps=0.0)
    p.grad = ad.backend.asarray(np.array([5.0, -1e-3, 0.0]))
    opt.step()
    np.testing.assert_allclose(host(p.data), [0.9, -1.9, 0.3], rtol=RTOL)
