"""RMSprop, Adam/AdamW/AdamProx with amsgrad, and maximize: against their equations by hand.

The references are written in plain NumPy float64 from torch.optim's documented updates (not
from the library code). Gradients come from the *current* iterate (a diagonal quadratic whose
linear term is redrawn each step), so a wrong step changes every later gradient too.

    RMSprop  v_t = a v + (1-a) g^2;  centered: g_bar_t = a g_bar + (1-a) g, d = sqrt(v - g_bar^2)
             + eps, else d = sqrt(v) + eps;  b_t = mu b + g/d;  w -= eta (b_t if mu else g/d)
    AMSGrad  v_max_t = max(v_max_{t-1}, v_t) in place of v_t in v_hat_t
    maximize g_t <- -g_t before everything (before the L2 term)
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
import minioptim as mo
from params import P, dev, host
from test_optimizers_equations import reference_run as shared_reference_run

STEPS = 20
RTOL, ATOL = 1e-11, 1e-13
SHAPES = [(3,), (2, 2)]
_rng = np.random.default_rng(2024)
W0 = [_rng.normal(size=s) for s in SHAPES]
CURV = [_rng.uniform(0.2, 5.0, size=s) for s in SHAPES]
SHIFTS = [[3.0 * _rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]
# decay (lambda, mode); lambda = 0 is "no weight decay"
DECAYS = [(0.0, "l2"), (0.2, "l2"), (0.2, "decoupled"), (0.2, "proximal")]


def grad_f(ws, t):
    """g_t = H w + b_t: the gradient of f_t(w) = 1/2 w'Hw + b_t'w."""
    return [h * w + b for h, w, b in zip(CURV, ws, SHIFTS[t - 1])]


def reference_run(direction, lr, lam, mode, maximize=False, steps=STEPS):
    """w_1..w_steps of the equations (test_optimizers_equations' loop); ``direction(g, state,
    t)`` is u_t of one parameter (state: its own dict)."""
    def per_parameter(gs, state, t):
        return [direction(g, state.setdefault(i, {}), t) for i, g in enumerate(gs)]
    return shared_reference_run(per_parameter, lr, lam, mode, steps=steps, w0=W0, grads=grad_f,
                                maximize=maximize)


def library_run(make, grads=grad_f, steps=STEPS, w0=W0, record=None):
    ps = [P(w) for w in w0]
    opt = make(ps)
    out = []
    for t in range(1, steps + 1):
        for p, g in zip(ps, grads([host(p.data) for p in ps], t)):
            p.grad = dev(g)
        opt.step()
        out.append([host(p.data) for p in ps])
        if record is not None:
            record(opt, ps)
    return out


def assert_same(got, want, rtol=RTOL, atol=ATOL):
    for t, (gw, ww) in enumerate(zip(got, want), start=1):
        for i, (g, w) in enumerate(zip(gw, ww)):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol,
                                       err_msg=f"step {t}, parameter {i}")


# -- references ----------------------------------------------------------------------------------
def ref_rmsprop(alpha, eps, momentum, centered):
    def direction(g, s, t):
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g ** 2
        if centered:
            s["gbar"] = alpha * s.get("gbar", 0.0) + (1 - alpha) * g
            d = np.sqrt(s["v"] - s["gbar"] ** 2) + eps
        else:
            d = np.sqrt(s["v"]) + eps
        if momentum > 0:
            s["b"] = momentum * s.get("b", 0.0) + g / d
            return s["b"]
        return g / d
    return direction


def ref_adam(b1, b2, eps, amsgrad, bias_correction=True):
    def direction(g, s, t):
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g ** 2
        s["vmax"] = np.maximum(s.get("vmax", 0.0), s["v"])
        v = s["vmax"] if amsgrad else s["v"]
        c1, c2 = (1 - b1 ** t, 1 - b2 ** t) if bias_correction else (1.0, 1.0)
        return (s["m"] / c1) / (np.sqrt(v / c2) + eps)
    return direction


# -- RMSprop: every option combination -----------------------------------------------------------
RMS_COMBOS = list(itertools.product([False, True], [0.0, 0.6], [False, True], DECAYS))


@pytest.mark.parametrize("centered,momentum,maximize,decay", RMS_COMBOS,
                         ids=[f"c{int(c)}-mu{m}-max{int(x)}-{d[1]}{d[0]}"
                              for c, m, x, d in RMS_COMBOS])
def test_rmsprop_follows_its_equations(centered, momentum, maximize, decay):
    """20 steps of RMSprop (alpha = 0.9, eps = 1e-3) in each combination of centered,
    momentum, maximize and weight decay equal the equations evaluated in NumPy."""
    lam, mode = decay
    want = reference_run(ref_rmsprop(0.9, 1e-3, momentum, centered), 0.01, lam, mode, maximize)
    got = library_run(lambda ps: mo.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-3, momentum=momentum,
                                            centered=centered, maximize=maximize,
                                            weight_decay=lam, weight_decay_mode=mode))
    assert_same(got, want)


def test_rmsprop_defaults_are_pytorchs():
    """lr 1e-2, alpha 0.99, eps 1e-8, no momentum, not centered, L2 decay."""
    want = reference_run(ref_rmsprop(0.99, 1e-8, 0.0, False), 1e-2, 0.0, "l2")
    assert_same(library_run(lambda ps: mo.RMSprop(ps)), want)
    opt = mo.RMSprop([P([1.0])], weight_decay=0.1)
    assert opt.param_groups[0]["weight_decay_mode"] == "l2"


def test_first_rmsprop_step_by_hand():
    """v_1 = (1 - alpha) g^2, so with eps = 0 the first step is eta g / (sqrt(1 - alpha) |g|):
    eta / sqrt(0.01) = 10 eta in every coordinate (0 where g = 0); centered:
    v_1 - g_bar_1^2 = (1 - alpha) alpha g^2, a step of eta / sqrt(0.0099)."""
    for centered, scale in [(False, 10.0), (True, 1 / np.sqrt(0.0099))]:
        p = P([1.0, -2.0, 0.3])
        opt = mo.RMSprop([p], lr=0.01, alpha=0.99, eps=0.0, centered=centered)
        p.grad = dev([5.0, -1e-3, 0.0])
        opt.step()
        np.testing.assert_allclose(host(p.data), [1.0 - 0.01 * scale, -2.0 + 0.01 * scale, 0.3],
                                   rtol=1e-13)


# -- Adam, AdamW, AdamProx with amsgrad ----------------------------------------------------------
ADAMS = [("Adam", mo.Adam), ("AdamW", mo.AdamW), ("AdamProx", mo.AdamProx)]
AMS_COMBOS = list(itertools.product(ADAMS, [False, True], [True, False], [False, True], DECAYS))


@pytest.mark.parametrize("cls,amsgrad,bias_correction,maximize,decay", AMS_COMBOS,
                         ids=[f"{c[0]}-ams{int(a)}-bc{int(b)}-max{int(x)}-{d[1]}{d[0]}"
                              for c, a, b, x, d in AMS_COMBOS])
def test_adam_family_with_amsgrad_and_maximize_follows_its_equations(
        cls, amsgrad, bias_correction, maximize, decay):
    lam, mode = decay
    want = reference_run(ref_adam(0.8, 0.95, 1e-4, amsgrad, bias_correction), 0.03, lam, mode,
                         maximize)
    got = library_run(lambda ps: cls[1](ps, lr=0.03, betas=(0.8, 0.95), eps=1e-4,
                                        weight_decay=lam, weight_decay_mode=mode,
                                        bias_correction=bias_correction, amsgrad=amsgrad,
                                        maximize=maximize))
    assert_same(got, want)


def fading(ws, t):
    """Gradients whose scale falls 0.7x per step, so v_t falls too and v_max_t != v_t."""
    return [0.7 ** t * g for g in grad_f(ws, t)]


def test_amsgrad_v_max_is_monotone_and_bounds_v():
    """v_max_t never decreases, is >= v_t, and (gradients fading) differs from v_t: so amsgrad
    changes the trajectory."""
    seen = []

    def record(opt, ps):
        seen.append([(host(opt.state[id(p)]["max_exp_avg_sq"]), host(opt.state[id(p)]["v"]))
                     for p in ps])
    ams = library_run(lambda ps: mo.Adam(ps, lr=0.03, betas=(0.5, 0.6), amsgrad=True),
                      grads=fading, record=record)
    for before, after in zip(seen, seen[1:]):
        for (vmax0, _), (vmax1, v1) in zip(before, after):
            assert np.all(vmax1 >= vmax0) and np.all(vmax1 >= v1)
    assert any(np.any(vmax > v) for vmax, v in seen[-1])
    plain = library_run(lambda ps: mo.Adam(ps, lr=0.03, betas=(0.5, 0.6)), grads=fading)
    assert np.max(np.abs(ams[-1][0] - plain[-1][0])) > 1e-4


# -- maximize f == minimize -f -------------------------------------------------------------------
MAXIMIZERS = [
    ("SGD", lambda ps, **k: mo.SGD(ps, lr=0.02, **k)),
    ("SGD-momentum-dampening0", lambda ps, **k: mo.SGD(ps, lr=0.02, momentum=0.8, dampening=0,
                                                       nesterov=True, **k)),
    ("AdaGrad", lambda ps, **k: mo.AdaGrad(ps, lr=0.1, **k)),
    ("RMSprop", lambda ps, **k: mo.RMSprop(ps, lr=0.01, momentum=0.5, centered=True, **k)),
    ("Adam", lambda ps, **k: mo.Adam(ps, lr=0.03, **k)),
    ("Adam-amsgrad", lambda ps, **k: mo.Adam(ps, lr=0.03, amsgrad=True, **k)),
    ("AdamW", lambda ps, **k: mo.AdamW(ps, lr=0.03, **k)),
    ("AdamProx", lambda ps, **k: mo.AdamProx(ps, lr=0.03, **k)),
]


@pytest.mark.parametrize("mode", ["l2", "decoupled", "proximal"])
@pytest.mark.parametrize("name,make", MAXIMIZERS, ids=[c[0] for c in MAXIMIZERS])
def test_maximizing_f_is_minimizing_minus_f(name, make, mode):
    """The same iterates, bit for bit (negation is exact), in every decay mode; and not the
    iterates of minimizing f."""
    def minus(ws, t):
        return [-g for g in grad_f(ws, t)]
    up = library_run(lambda ps: make(ps, maximize=True, weight_decay=0.1,
                                     weight_decay_mode=mode))
    down = library_run(lambda ps: make(ps, weight_decay=0.1, weight_decay_mode=mode), grads=minus)
    for a, b in zip(up, down):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    plain = library_run(lambda ps: make(ps, weight_decay=0.1, weight_decay_mode=mode))
    assert np.max(np.abs(plain[-1][0] - up[-1][0])) > 1e-3


def test_maximize_climbs_a_concave_function_with_backward():
    """f(w) = -||w - c||^2: maximize=True walks to c, with autodiff tensors."""
    c = ad.Tensor(np.array([3.0, -1.0]), dtype="float64")
    w = ad.Tensor(np.zeros(2), dtype="float64", requires_grad=True)
    opt = mo.RMSprop([w], lr=0.05, maximize=True)
    for _ in range(200):
        opt.zero_grad()
        (-((w - c) ** 2).sum()).backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), [3.0, -1.0], atol=0.1)


# -- scale-freeness ------------------------------------------------------------------------------
SCALE_FREE = [
    ("RMSprop", lambda ps: mo.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0)),
    ("RMSprop-centered-momentum", lambda ps: mo.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0,
                                                        momentum=0.7, centered=True)),
    ("RMSprop-decoupled", lambda ps: mo.RMSprop(ps, lr=0.01, eps=0.0, weight_decay=0.3,
                                                weight_decay_mode="decoupled")),
    ("Adam-amsgrad", lambda ps: mo.Adam(ps, lr=0.03, betas=(0.8, 0.9), eps=0.0, amsgrad=True)),
]
DIM = sum(int(np.prod(s)) for s in SHAPES)


@pytest.mark.parametrize("name,make", SCALE_FREE, ids=[c[0] for c in SCALE_FREE])
@settings(max_examples=10)
@given(log_c=st.lists(st.floats(-3.0, 3.0), min_size=DIM, max_size=DIM))
def test_eps_zero_is_scale_free(name, make, log_c):
    """With eps = 0, multiplying coordinate i of every gradient by c_i > 0 (log-uniform in
    [1e-3, 1e3]) leaves the iterates unchanged: v_t scales by c^2, g_bar_t by c, d_t by c."""
    c, k, D = 10.0 ** np.array(log_c), 0, []
    for s in SHAPES:
        n = int(np.prod(s))
        D.append(c[k:k + n].reshape(s))
        k += n
    traj = library_run(make)
    scaled = library_run(make, grads=lambda ws, t: [d * g for d, g in zip(D, grad_f(ws, t))])
    moved = max(np.max(np.abs(x - w0)) for x, w0 in zip(traj[-1], W0))
    assert_same(scaled, traj, rtol=0, atol=1e-8 * moved)


@pytest.mark.parametrize("make", [
    lambda ps: mo.RMSprop(ps, lr=0.01, eps=0.0, weight_decay=0.5),      # "l2": lambda w unscaled
    lambda ps: mo.RMSprop(ps, lr=0.01, eps=1.0),                        # eps comparable to d_t
], ids=["l2", "large-eps"])
def test_rmsprop_is_not_scale_free_with_l2_or_a_large_eps(make):
    D = [np.full(s, 100.0) for s in SHAPES]
    traj = library_run(make)
    scaled = library_run(make, grads=lambda ws, t: [d * g for d, g in zip(D, grad_f(ws, t))])
    assert np.max(np.abs(traj[-1][0] - scaled[-1][0])) > 1e-3


# -- arguments -----------------------------------------------------------------------------------
def _p():
    return P([1.0, 2.0])


@pytest.mark.parametrize("make,exc,phrase", [
    (lambda: mo.RMSprop([_p()], lr=-0.1), ValueError, "lr must be"),
    (lambda: mo.RMSprop([_p()], alpha=-0.1), ValueError, "alpha must be a number in [0, 1)"),
    (lambda: mo.RMSprop([_p()], alpha=1.0), ValueError, "alpha must be a number in [0, 1)"),
    (lambda: mo.RMSprop([_p()], alpha=1.5), ValueError, "alpha must be a number in [0, 1)"),
    (lambda: mo.RMSprop([_p()], eps=-1e-8), ValueError, "eps must be a finite number >= 0"),
    (lambda: mo.RMSprop([_p()], momentum=-0.5), ValueError, "momentum must be a number in [0, 1)"),
    (lambda: mo.RMSprop([_p()], momentum=1.0), ValueError, "momentum must be a number in [0, 1)"),
    (lambda: mo.RMSprop([_p()], weight_decay=-1.0), ValueError, "weight_decay must be"),
    (lambda: mo.RMSprop([_p()], centered="yes"), TypeError, "centered must be True or False"),
    (lambda: mo.RMSprop([_p()], maximize=1), TypeError, "maximize must be True or False"),
    (lambda: mo.Adam([_p()], amsgrad=None), TypeError, "amsgrad must be True or False"),
    (lambda: mo.AdamW([_p()], maximize="no"), TypeError, "maximize must be True or False"),
    (lambda: mo.RMSprop([{"params": [_p()], "betas": (0.9, 0.99)}]), TypeError,
     "has no hyperparameter betas"),
    (lambda: mo.Lion([{"params": [_p()], "maximize": True}]), TypeError,
     "has no hyperparameter maximize"),
], ids=["lr", "alpha-negative", "alpha-one", "alpha-above", "eps", "momentum-negative",
        "momentum-one", "weight_decay", "centered", "maximize-int", "amsgrad-none",
        "maximize-str", "rmsprop-betas", "lion-maximize"])
def test_bad_arguments_are_named(make, exc, phrase):
    with pytest.raises(exc) as info:
        make()
    assert phrase in str(info.value)


def test_rmsprop_is_registered_for_the_trainer():
    from minioptim.training import builders, config
    assert builders.optimizer_class("rmsprop") is mo.RMSprop
    assert "rmsprop" in config.OPTIMIZER_NAMES
    assert set(builders.accepted(mo.RMSprop)) == {"lr", "weight_decay", "weight_decay_mode",
                                                  "momentum", "eps"}


# -- saving and resuming -------------------------------------------------------------------------
RESUMABLE = [
    ("RMSprop-centered-momentum", lambda ps: mo.RMSprop(ps, lr=0.01, momentum=0.6,
                                                        centered=True, maximize=True)),
    ("Adam-amsgrad", lambda ps: mo.Adam(ps, lr=0.03, betas=(0.5, 0.6), amsgrad=True)),
    ("AdamW-amsgrad-maximize", lambda ps: mo.AdamW(ps, lr=0.03, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name,make", RESUMABLE, ids=[c[0] for c in RESUMABLE])
def test_state_dict_round_trip_resumes_exactly(name, make):
    """10 steps, state_dict(), a fresh optimizer loads it (host arrays, as from a file) and takes
    10 more: the same iterates as 20 steps without a stop."""
    whole = library_run(make, grads=fading)
    ps = [P(w) for w in W0]
    opt = make(ps)
    for t in range(1, 11):
        for p, g in zip(ps, fading([host(p.data) for p in ps], t)):
            p.grad = dev(g)
        opt.step()
    sd = opt.state_dict()
    keys = set(sd["state"][0])
    assert keys >= ({"max_exp_avg_sq"} if "amsgrad" in name else {"v", "g_bar", "b"})
    sd["state"] = {i: {k: host(v) if ad.backend.is_array(v) else v for k, v in s.items()}
                   for i, s in sd["state"].items()}
    ps2 = [P(host(p.data)) for p in ps]
    opt2 = make(ps2)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["maximize"] == opt.param_groups[0]["maximize"]
    for t in range(11, 21):
        for p, g in zip(ps2, fading([host(p.data) for p in ps2], t)):
            p.grad = dev(g)
        opt2.step()
    for p, w in zip(ps2, whole[-1]):
        np.testing.assert_array_equal(host(p.data), w)


def test_a_state_dict_saved_before_amsgrad_and_maximize_existed_still_loads():
    """Checkpoints written before these flags lack them; they were off then."""
    opt = mo.Adam([P([1.0, 2.0])], lr=0.1)
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        del g["amsgrad"], g["maximize"]
    fresh = mo.Adam([P([1.0, 2.0])], lr=0.1, amsgrad=True)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["amsgrad"] is False


@pytest.mark.parametrize("make", [
    lambda ps: mo.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: mo.AdamW(ps, lr=0.01, amsgrad=True, maximize=True),
], ids=["RMSprop", "AdamW-amsgrad"])
def test_float32_parameters_and_state_stay_float32(make):
    w = ad.Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    opt = make([w])
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert w.dtype == ad.backend.xp.float32
    for k, v in opt.state[id(w)].items():
        if ad.backend.is_array(v):
            assert v.dtype == ad.backend.xp.float32, f"state {k} is {v.dtype}"
