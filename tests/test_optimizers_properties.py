"""Properties of the optimizers that the talk states as theorems or remarks.

- Scale-freeness: multiplying coordinate i of every gradient by c_i > 0 does not change the
  iterates of AdaGrad, Adam, AdamW, AdamProx, Lion, (generalized) SignSGD with eps = 0; it does
  change those of SGD, Adam with an L2 term and clipped SGD.
- Its corollary on a diagonal quadratic: a scale-free method does not see the condition number.
- AdamW is the first-order expansion of AdamProx: one step differs by O(eta^2).
- The proximal step for lambda/2 ||w||^2 never flips the sign of w; SGD with L2 does.
- Saving and resuming through state_dict is exact.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
import minioptim as mo
from params import P, host


SHAPES = [(3,), (2, 2)]
DIM = sum(int(np.prod(s)) for s in SHAPES)


def split(flat):
    out, k = [], 0
    for s in SHAPES:
        n = int(np.prod(s))
        out.append(flat[k:k + n].reshape(s))
        k += n
    return out


def run(make, x0, grad, steps):
    """Iterates x_1..x_steps (flattened, on the host) of ``make(params)`` fed by ``grad(x)``
    (host -> host, on the flattened iterate); the parameters have shapes SHAPES."""
    ps = [P(a) for a in split(np.asarray(x0, dtype=np.float64))]
    opt = make(ps)
    out = []
    for _ in range(steps):
        x = np.concatenate([host(p.data).ravel() for p in ps])
        for p, g in zip(ps, split(grad(x))):
            p.grad = ad.backend.asarray(np.array(g, copy=True))
        opt.step()
        out.append(np.concatenate([host(p.data).ravel() for p in ps]))
    return np.array(out)


def random_quadratic(seed, dim=DIM):
    """A random strongly convex quadratic 1/2 x'Ax + b'x; returns A, b."""
    r = np.random.default_rng(seed)
    Q = r.normal(size=(dim, dim))
    return Q.T @ Q / dim + 0.1 * np.eye(dim), r.normal(size=dim)


def deviation(x0, traj, traj_scaled):
    """How far the scaled run is from the original, relative to how far the original moved."""
    return np.max(np.abs(traj - traj_scaled)) / np.max(np.abs(traj - x0))


# -- scale-freeness ------------------------------------------------------------------------------
SCALE_FREE = [
    ("AdaGrad", lambda ps: mo.AdaGrad(ps, lr=0.1, eps=0.0)),
    ("AdaGrad-proximal", lambda ps: mo.AdaGrad(ps, lr=0.1, eps=0.0, weight_decay=0.2,
                                               weight_decay_mode="proximal")),
    ("Adam", lambda ps: mo.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=0.0)),
    ("Adam-no-bias-correction", lambda ps: mo.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=0.0,
                                                   bias_correction=False)),
    ("AdamW", lambda ps: mo.AdamW(ps, lr=0.05, eps=0.0, weight_decay=0.2)),
    ("AdamProx", lambda ps: mo.AdamProx(ps, lr=0.05, eps=0.0, weight_decay=0.2)),
    ("Lion", lambda ps: mo.Lion(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.2)),
    ("GeneralizedSignSGD", lambda ps: mo.GeneralizedSignSGD(ps, lr=0.02, betas=(0.8, 0.9))),
    ("SignSGD", lambda ps: mo.SignSGD(ps, lr=0.02, momentum=0.7)),
]

NOT_SCALE_FREE = [
    ("SGD", lambda ps: mo.SGD(ps, lr=1e-4)),
    ("SGD-momentum", lambda ps: mo.SGD(ps, lr=1e-4, momentum=0.9)),
    ("Adam-l2", lambda ps: mo.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=0.0, weight_decay=0.5,
                                   weight_decay_mode="l2")),
    ("SGDClipGrad", lambda ps: mo.SGDClipGrad(ps, lr=1e-4, gamma=1e-3)),
]

log_scales = st.lists(st.floats(-3.0, 3.0), min_size=DIM, max_size=DIM)
starts = st.lists(st.floats(-2.0, 2.0), min_size=DIM, max_size=DIM)


@pytest.mark.parametrize("name,make", SCALE_FREE, ids=[c[0] for c in SCALE_FREE])
@settings(max_examples=15)
@given(log_c=log_scales, x0=starts, seed=st.integers(0, 2 ** 16))
def test_scale_free_methods_ignore_per_coordinate_gradient_scaling(name, make, log_c, x0, seed):
    """Theorem: with eps = 0 the iterates are the same whether the oracle returns g or D g
    (D positive diagonal, entries log-uniform in [1e-3, 1e3])."""
    A, b = random_quadratic(seed)
    D, x0 = 10.0 ** np.array(log_c), np.array(x0)
    traj = run(make, x0, lambda x: A @ x + b, 20)
    traj_scaled = run(make, x0, lambda x: D * (A @ x + b), 20)
    assert deviation(x0, traj, traj_scaled) < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name,make", NOT_SCALE_FREE, ids=[c[0] for c in NOT_SCALE_FREE])
def test_other_methods_are_not_scale_free(name, make, seed):
    """SGD, Adam with an L2 term (lambda > 0) and clipped SGD change their iterates when the
    gradient coordinates are rescaled: a deviation of the order of the steps themselves."""
    A, b = random_quadratic(100 + seed)
    r = np.random.default_rng(seed)
    D = 10.0 ** r.choice([-2.0, -1.0, 1.0, 2.0], size=DIM)
    x0 = r.uniform(-2, 2, size=DIM)
    traj = run(make, x0, lambda x: A @ x + b, 20)
    traj_scaled = run(make, x0, lambda x: D * (A @ x + b), 20)
    assert np.all(np.isfinite(traj_scaled))
    assert deviation(x0, traj, traj_scaled) > 0.1


def test_adam_l2_becomes_scale_free_without_decay():
    """The L2 term is what breaks Adam's scale-freeness: the same run with lambda = 0 is
    scale-free (so the test above does not pass for another reason)."""
    A, b = random_quadratic(100)
    r = np.random.default_rng(0)
    D = 10.0 ** r.choice([-2.0, -1.0, 1.0, 2.0], size=DIM)
    x0 = r.uniform(-2, 2, size=DIM)
    make = lambda ps: mo.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=0.0)   # noqa: E731
    traj = run(make, x0, lambda x: A @ x + b, 20)
    assert deviation(x0, traj, run(make, x0, lambda x: D * (A @ x + b), 20)) < 1e-6


# -- the corollary on an ill-conditioned diagonal quadratic --------------------------------------
H = np.logspace(0, 4, DIM)                 # diag(H): condition number 1e4
B = np.random.default_rng(7).uniform(-1, 1, size=DIM) * H
X0 = np.random.default_rng(8).uniform(-1, 1, size=DIM)
X_STAR = -B / H


def grad_f(x):                             # f(x) = 1/2 x'Hx + b'x
    return H * x + B


def grad_f_tilde(x):                       # f~(x) = 1/2 x'x + (H^-1 b)'x, condition number 1
    return x + B / H


@pytest.mark.parametrize("name,make", [
    ("Adam", lambda ps: mo.Adam(ps, lr=0.01, eps=0.0)),
    ("AdaGrad", lambda ps: mo.AdaGrad(ps, lr=0.1, eps=0.0)),
    ("Lion", lambda ps: mo.Lion(ps, lr=0.01)),
], ids=["Adam", "AdaGrad", "Lion"])
def test_scale_free_methods_do_not_see_the_condition_number(name, make):
    """grad f = diag(H) grad f~ coordinate-wise, so from the same start a scale-free method has
    the same iterates on f (condition number 1e4) as on f~ (condition number 1)."""
    a, b = run(make, X0, grad_f, 200), run(make, X0, grad_f_tilde, 200)
    assert deviation(X0, a, b) < 1e-9
    # ... and it does make progress on the flattest direction of f
    flat = 0
    assert abs(a[-1, flat] - X_STAR[flat]) < 0.5 * abs(X0[flat] - X_STAR[flat])


def test_gradient_descent_does_see_the_condition_number():
    """GD's iterates on f and f~ differ, and on f with the largest stable step (eta < 2/L) the
    distance to x* along the flat direction (curvature 1) barely shrinks in 200 steps."""
    eta = 1.9 / H.max()
    make = lambda ps: mo.SGD(ps, lr=eta)                                 # noqa: E731
    a, b = run(make, X0, grad_f, 200), run(make, X0, grad_f_tilde, 200)
    assert deviation(X0, a, b) > 0.1
    assert np.all(np.abs(a[-1] - X_STAR) <= np.abs(X0 - X_STAR) + 1e-12)   # it is stable
    flat = 0
    assert abs(a[-1, flat] - X_STAR[flat]) > 0.95 * abs(X0[flat] - X_STAR[flat])


# -- AdamW is AdamProx to first order ------------------------------------------------------------
def _one_step_from(sd, w, g, mode, lr, lam):
    """One Adam step in ``mode`` with step ``lr``, from the saved state ``sd`` at w."""
    p = P(w)
    opt = mo.Adam([p], lr=lr, betas=(0.8, 0.95), eps=0.0, weight_decay=lam)
    opt.load_state_dict(sd)
    opt.param_groups[0].update(lr=lr, weight_decay=lam, weight_decay_mode=mode)
    p.grad = ad.backend.asarray(np.array(g, copy=True))
    opt.step()
    return host(p.data)


@pytest.mark.parametrize("lam", [0.1, 1.0, 10.0])
def test_adamw_and_adamprox_differ_by_eta_squared(lam):
    """From the same state and gradient, |AdamW step - AdamProx step| scales like eta^2:
    halving eta divides the gap by ~4 (exactly eta^2 lam |lam w + u| / (1 + eta lam))."""
    r = np.random.default_rng(3)
    p = P(r.normal(size=5))
    warm = mo.Adam([p], lr=0.01, betas=(0.8, 0.95), eps=0.0)
    for _ in range(3):
        p.grad = ad.backend.asarray(r.normal(size=5))
        warm.step()
    sd, w, g = warm.state_dict(), host(p.data), r.normal(size=5)

    def gap(eta):
        return np.max(np.abs(_one_step_from(sd, w, g, "decoupled", eta, lam)
                             - _one_step_from(sd, w, g, "proximal", eta, lam)))
    eta = 0.01
    assert gap(eta) > 0
    assert 3.5 < gap(eta) / gap(eta / 2) < 4.5


# -- the proximal step never flips the sign ------------------------------------------------------
@pytest.mark.parametrize("u", [0.0, 0.1, -0.3, 0.45])
def test_proximal_step_never_flips_the_sign_even_for_large_eta_lambda(u):
    """eta = 2, lambda = 1: the proximal step is (w - eta u) / 3, same sign as the undecayed
    step w - eta u (and, for u = 0, as w); the decoupled step is (1 - 2) w - eta u."""
    w, eta, lam = 1.0, 2.0, 1.0
    out = {}
    for mode in ("proximal", "decoupled"):
        p = P([w])
        opt = mo.SGD([p], lr=eta, weight_decay=lam, weight_decay_mode=mode)
        p.grad = ad.backend.asarray(np.array([u]))
        opt.step()
        out[mode] = host(p.data)[0]
    assert out["proximal"] == pytest.approx((w - eta * u) / (1 + eta * lam), rel=1e-15)
    assert np.sign(out["proximal"]) == np.sign(w - eta * u)
    if u == 0.0:
        assert 0 < out["proximal"] < w
        assert out["decoupled"] == -1.0                            # decoupled does flip


def test_sgd_with_l2_flips_the_sign():
    """SGD with an L2 term, w = 1, g = 0, eta lambda = 2: w <- w - eta lambda w = -1."""
    p = P([1.0])
    opt = mo.SGD([p], lr=2.0, weight_decay=1.0, weight_decay_mode="l2")
    p.grad = ad.backend.asarray(np.array([0.0]))
    opt.step()
    assert host(p.data)[0] == -1.0


ALL = [
    ("SGD", lambda ps: mo.SGD(ps, lr=0.05, momentum=0.5, nesterov=True)),
    ("SGDNormalized", lambda ps: mo.SGDNormalized(ps, lr=0.05, momentum=0.5)),
    ("SGDClipGrad", lambda ps: mo.SGDClipGrad(ps, lr=0.05, gamma=0.1)),
    ("SGDClipMomentum", lambda ps: mo.SGDClipMomentum(ps, lr=0.05, momentum=0.5, gamma=0.1)),
    ("AdaGrad", lambda ps: mo.AdaGrad(ps, lr=0.1)),
    ("Adam", lambda ps: mo.Adam(ps, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("AdamW", lambda ps: mo.AdamW(ps, lr=0.05, weight_decay=0.1)),
    ("AdamProx", lambda ps: mo.AdamProx(ps, lr=0.05, weight_decay=0.1)),
    ("Lion", lambda ps: mo.Lion(ps, lr=0.05, weight_decay=0.1)),
    ("GeneralizedSignSGD", lambda ps: mo.GeneralizedSignSGD(ps, lr=0.05, bias_correction=True)),
    ("SignSGD", lambda ps: mo.SignSGD(ps, lr=0.05, momentum=0.5)),
    ("PreconditionedGD", lambda ps: mo.PreconditionedGD(
        ps, lr=0.05, preconditioner=[np.full(s, 0.5) for s in SHAPES])),
]
ALL_IDS = [c[0] for c in ALL]


@pytest.mark.parametrize("name,make", ALL, ids=ALL_IDS)
def test_proximal_mode_is_the_undecayed_step_shrunk(name, make):
    """For every optimizer, after the same warm-up, one proximal step with eta lambda = 3
    equals the undecayed step divided by 1 + eta lambda: it never flips a sign."""
    A, b = random_quadratic(5)
    x0 = np.random.default_rng(5).normal(size=DIM)
    eta, lam = 1.5, 2.0
    finals = {}
    for mode, wd in (("proximal", lam), ("decoupled", 0.0)):
        ps = [P(a) for a in split(x0)]
        opt = make(ps)
        for k in range(4):
            if k == 3:                                             # the step under test
                for grp in opt.param_groups:
                    grp.update(lr=eta, weight_decay=wd, weight_decay_mode=mode)
            x = np.concatenate([host(p.data).ravel() for p in ps])
            for p, g in zip(ps, split(A @ x + b)):
                p.grad = ad.backend.asarray(g)
            opt.step()
        finals[mode] = np.concatenate([host(p.data).ravel() for p in ps])
    np.testing.assert_allclose(finals["proximal"], finals["decoupled"] / (1 + eta * lam),
                               rtol=1e-13, atol=1e-15)
    assert np.all(np.sign(finals["proximal"]) == np.sign(finals["decoupled"]))


# -- saving and resuming -------------------------------------------------------------------------
def _feed(ps, A, b):
    x = np.concatenate([host(p.data).ravel() for p in ps])
    for p, g in zip(ps, split(A @ x + b)):
        p.grad = ad.backend.asarray(g)


@pytest.mark.parametrize("name,make", ALL, ids=ALL_IDS)
def test_state_dict_round_trip_resumes_exactly(name, make):
    """k steps, save, load into a FRESH optimizer on copies of the parameters, m more steps:
    the iterates are bitwise those of an uninterrupted run."""
    A, b = random_quadratic(11)
    x0 = np.random.default_rng(11).normal(size=DIM)
    k, m = 3, 4

    ps = [P(a) for a in split(x0)]
    opt = make(ps)
    straight = []
    for _ in range(k + m):
        _feed(ps, A, b)
        opt.step()
        straight.append([host(p.data) for p in ps])

    ps = [P(a) for a in split(x0)]
    opt = make(ps)
    for _ in range(k):
        _feed(ps, A, b)
        opt.step()
    sd = opt.state_dict()
    ps2 = [P(host(p.data)) for p in ps]
    opt2 = make(ps2)
    opt2.load_state_dict(sd)
    for t in range(m):
        _feed(ps2, A, b)
        opt2.step()
        for got, want in zip([host(p.data) for p in ps2], straight[k + t]):
            assert np.array_equal(got, want), f"step {k + t + 1} differs after resuming"


@pytest.mark.parametrize("name,make", ALL, ids=ALL_IDS)
def test_state_dict_is_a_copy(name, make):
    """A saved state dict does not change when the optimizer goes on (more steps, a changed
    lr, state arrays modified in place), nor does loading it tie an optimizer to it."""
    A, b = random_quadratic(12)
    ps = [P(a) for a in split(np.random.default_rng(12).normal(size=DIM))]
    opt = make(ps)
    for _ in range(2):
        _feed(ps, A, b)
        opt.step()
    sd = opt.state_dict()
    frozen = _snapshot(sd)

    opt.param_groups[0]["lr"] = 123.0
    for s in opt.state.values():
        for v in s.values():
            if ad.backend.is_array(v):
                v *= 7.0                                           # in place, on the device
    for _ in range(2):
        _feed(ps, A, b)
        opt.step()
    assert _snapshot(sd) == frozen

    ps2 = [P(host(p.data)) for p in ps]
    opt2 = make(ps2)
    opt2.load_state_dict(sd)
    for _ in range(2):
        _feed(ps2, A, b)
        opt2.step()
    for s in opt2.state.values():
        for v in s.values():
            if ad.backend.is_array(v):
                v *= 3.0
    assert _snapshot(sd) == frozen


def _snapshot(sd):
    """A host-side, comparable copy of a state dict."""
    def conv(v):
        if ad.backend.is_array(v):
            return ("array", host(v).tobytes(), tuple(v.shape))
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(conv(x) for x in v)
        return v
    return conv(sd)
