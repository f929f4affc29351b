r"""Test problems of the talk as plain arrays (no autodiff): quadratics and 1-d (L0, L1)-smooth
functions, plus ``Point``/``run`` to drive any optimizer on them.

- ``Quadratic``: f(x) = 1/2 x'Hx + b'x + c, H symmetric positive definite (the scale-freeness
  corollary: with H diagonal, a scale-free algorithm cannot tell f from its ``preconditioned``
  twin).
- ``Quartic``, ``ExpFunction``: (L0, L1)-smooth, |F''(x)| <= L0 + L1 |F'(x)|, but not smooth.
- ``GDLowerBound``: a 1-d function where constant-step GD needs many more iterations than
  generalized SignSGD (the talk's GD lower bound, Zhang et al. NeurIPS'20 as corrected).

Constants are built on the host in float64 and moved to the device; methods take device arrays
(or floats, for the 1-d functions) and compute in float64, for exact minimizers and clean finite
differences.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from autodiff import backend

from .optimizers.base import Point

_EXP_MAX = 709.0  # e^709 ~ 8e307: beyond it exp overflows to inf (quietly, for floats too)


def _host(a) -> np.ndarray:
    return np.array(backend.to_numpy(a) if backend.is_array(a) else a, dtype=np.float64)


class Quadratic:
    r"""f(x) = 1/2 x'Hx + b'x + c, with H symmetric positive definite.

        grad f(x) = Hx + b,   x* = -H^{-1} b,   f(x*) = c - 1/2 b'H^{-1}b,   kappa = l_max / l_min

    Args: H as a 1-d array (the diagonal) or a 2-d array; b (length d); c. Inputs x are device
    arrays of any backend (the constants follow x's backend); results are float64.
    """

    def __init__(self, H, b, c: float = 0.0):
        H, b = _host(H), _host(b)
        if H.ndim == 1:
            eig = np.sort(H)
        elif H.ndim == 2 and H.shape[0] == H.shape[1]:
            if not np.allclose(H, H.T, rtol=1e-12, atol=0):
                raise ValueError("Quadratic: H must be symmetric")
            H = (H + H.T) / 2
            eig = np.linalg.eigvalsh(H)
        else:
            raise ValueError(f"Quadratic: H must be 1-d (a diagonal) or square, got {H.shape}")
        if b.shape != (H.shape[0],):
            raise ValueError(f"Quadratic: b must have shape ({H.shape[0]},), got {b.shape}")
        if not (np.isfinite(H).all() and np.isfinite(b).all() and eig[0] > 0):
            raise ValueError("Quadratic: H must be positive definite (and H, b finite)")
        self.diagonal, self.dim, self.c = H.ndim == 1, H.shape[0], float(c)
        self.eigenvalues = eig                                   # host, ascending
        self.condition_number = float(eig[-1] / eig[0])
        H2 = np.diag(H) if self.diagonal else H
        xstar = -np.linalg.solve(H2, b)
        self.min_value = float(self.c + 0.5 * b @ xstar)         # c - 1/2 b'H^{-1}b
        self._host = {"H": H, "H2": H2, "b": b, "xstar": xstar}
        self._device: dict[str, dict] = {}

    @classmethod
    def random(cls, dim: int, condition_number: float, diagonal: bool = True, seed: int = 0):
        """Eigenvalues evenly spaced in log from 1 to ``condition_number`` (both exactly), in a
        random order on the diagonal or in a random rotation Q diag(l) Q'; b ~ N(0, I)."""
        if dim < 1 or condition_number < 1 or (dim == 1 and condition_number != 1):
            raise ValueError("Quadratic.random: need dim >= 1 and condition_number >= 1 "
                             "(exactly 1 when dim == 1)")
        rng = backend.generator(seed)
        eig = rng.permutation(np.geomspace(1.0, condition_number, dim))
        b = rng.standard_normal(dim)
        if diagonal:
            return cls(eig, b)
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))                              # Haar-distributed rotation
        return cls((q * eig) @ q.T, b)

    @classmethod
    def ill_conditioned_2d(cls, condition_number: float = 100.0, minimizer=(1.0, 1.0)):
        """H = diag(1, kappa), x* = ``minimizer`` and f(x*) = 0: the lessons' 2-d picture."""
        h, m = np.array([1.0, float(condition_number)]), np.asarray(minimizer, dtype=np.float64)
        return cls(h, -h * m, 0.5 * float(m @ (h * m)))

    def _consts(self, name: str) -> dict:
        if name not in self._device:
            self._device[name] = {k: backend.to_backend(v, name) for k, v in self._host.items()}
        return self._device[name]

    def _on(self, x):
        home = backend.backend_of(x)
        if home is None:                                         # lists, scalars: active backend
            x = backend.asarray(x, dtype=np.float64)
            home = backend.backend_of(x)
        return x, self._consts(home.name)

    def value(self, x):
        """f(x), a 0-d array on x's backend (a numpy scalar on numpy)."""
        x, k = self._on(x)
        xp = backend.array_module(x)
        quad = xp.sum(k["H"] * x * x) if self.diagonal else x @ (k["H"] @ x)
        return 0.5 * quad + xp.sum(k["b"] * x) + self.c

    def grad(self, x):
        """Hx + b."""
        x, k = self._on(x)
        return (k["H"] * x if self.diagonal else k["H"] @ x) + k["b"]

    @property
    def hessian(self):
        """H as a 2-d array on the active backend."""
        return self._consts(backend.get_backend())["H2"]

    @property
    def b(self):
        return self._consts(backend.get_backend())["b"]

    @property
    def minimizer(self):
        """x* = -H^{-1} b, on the active backend."""
        return self._consts(backend.get_backend())["xstar"]

    def preconditioned(self) -> Quadratic:
        r"""The talk's twin for diagonal H: f~(x) = 1/2 x'x + (H^{-1}b)'x + c.

        grad f~(x) = x + H^{-1}b = H^{-1} grad f(x): every coordinate of the gradient divided by a
        fixed positive number. A scale-free algorithm (Adam with eps = 0, generalized SignSGD)
        therefore takes exactly the same steps on f and f~, so it sees condition number 1 whatever
        kappa(f). Both have the minimizer x* = -H^{-1}b (their minimum values differ).
        """
        if not self.diagonal:
            raise ValueError("preconditioned(): the corollary needs a diagonal H; a rotated "
                             "quadratic has no coordinate-wise twin (scale-freeness is per "
                             "coordinate)")
        H, b = self._host["H"], self._host["b"]
        return Quadratic(np.ones_like(H), b / H, self.c)

    def __repr__(self):
        kind = "diagonal" if self.diagonal else "full"
        return f"Quadratic(dim={self.dim}, {kind}, condition_number={self.condition_number:.4g})"


class Trajectory(NamedTuple):
    iterates: np.ndarray   # host, (steps + 1, dim): x_0 ... x_steps
    values: np.ndarray     # host, (steps + 1,): f(x_0) ... f(x_steps)


def run(problem, optimizer_factory, x0, steps: int) -> Trajectory:
    """Run an optimizer for ``steps`` steps: p.grad = problem.grad(p.data); opt.step().

    ``optimizer_factory`` maps a parameter list to an optimizer, e.g.
    ``functools.partial(mo.Adam, lr=0.1)``. Works for any problem with value/grad; with a 1-d
    function and a vector x0 the problem is the separable sum F(x_1) + ... + F(x_d).
    Returns host copies of every iterate and value (one device-to-host copy per step).
    """
    p = Point(x0)
    opt = optimizer_factory([p])
    iterates = np.empty((steps + 1, int(np.prod(p.data.shape))))
    values = np.empty(steps + 1)
    for t in range(steps + 1):
        if t:
            p.grad = problem.grad(p.data)
            opt.step()
        iterates[t] = backend.to_numpy(p.data).reshape(-1)
        values[t] = float(backend.to_numpy(problem.value(p.data)).sum())
    return Trajectory(iterates, values)


# -- 1-d (L0, L1)-smooth functions ---------------------------------------------------------------

class _Ops:
    """exp/expm1 on floats (math) or arrays (xp), overflowing to inf without a warning."""

    def __init__(self, xp=None):
        self.xp = xp

    def exp(self, t):
        return self._guarded(t, math.exp, "exp")

    def expm1(self, t):
        return self._guarded(t, math.expm1, "expm1")

    def _guarded(self, t, scalar, name):
        if self.xp is None:
            return scalar(t) if t < _EXP_MAX else math.inf
        return self.xp.where(t < _EXP_MAX, getattr(self.xp, name)(self.xp.minimum(t, _EXP_MAX)),
                             math.inf)


class _Function1d:
    """F, F', F'' elementwise: a float gives a float, an array a float64 array on its backend;
    subclasses state L0, L1 with |F''| <= L0 + L1 |F'| everywhere."""

    def value(self, x):
        return self._apply(x, 0)

    def grad(self, x):
        return self._apply(x, 1)

    def second(self, x):
        return self._apply(x, 2)

    def _apply(self, x, order):
        if backend.is_scalar(x):
            return float(self._eval(float(x), order, _Ops()))
        x = backend.asarray(x) if not backend.is_array(x) else x
        xp = backend.array_module(x)
        return self._eval(xp.asarray(x, dtype=xp.float64), order, _Ops(xp))


class Quartic(_Function1d):
    r"""F(x) = x^4 / 4, F' = x^3, F'' = 3x^2; x* = 0, F* = 0.

    Not smooth (F'' is unbounded) but (L0, L1) = (1, 2)-smooth:
    1 + 2|x|^3 - 3x^2 = (|x| - 1)^2 (2|x| + 1) >= 0, tight at |x| = 1.
    (Any L1 > 0 works with L0 = 4 / L1^2, the maximum of 3x^2 - L1|x|^3.)
    """

    L0, L1 = 1.0, 2.0
    minimizer, min_value = 0.0, 0.0

    def _eval(self, x, order, ops):
        return (x ** 4 / 4, x ** 3, 3 * x ** 2)[order]


class ExpFunction(_Function1d):
    r"""F(x) = exp(a x) + exp(-a x) (= 2 cosh(a x)); x* = 0, F* = 2.

    F' = a (e^{ax} - e^{-ax}), F'' = a^2 (e^{ax} + e^{-ax}); since F''^2 = a^2 F'^2 + 4 a^4,
    F'' = sqrt(a^2 F'^2 + 4 a^4) <= a |F'| + 2 a^2: (L0, L1) = (2 a^2, a), tight at x = 0 and
    as |x| -> inf. ``rate`` is a (default 1).
    """

    minimizer = 0.0

    def __init__(self, rate: float = 1.0):
        if not rate > 0:
            raise ValueError(f"ExpFunction: rate must be > 0, got {rate}")
        self.rate, self.L0, self.L1, self.min_value = float(rate), 2.0 * rate ** 2, float(rate), 2.0

    def _eval(self, x, order, ops):
        a = self.rate
        up, down = ops.exp(a * x), ops.exp(-a * x)
        return (up + down, a * (up - down), a * a * (up + down))[order]


def _exponential(j, Fj, g, sigma, sign, a, k):
    """A piece growing as fast as (L0, L1)-smoothness allows: at u = sigma (x - j) >= 0 from
    the joint j (where |F'| = g, F = Fj), |F'| = (g + a) e^{ku} - a and F' has sign ``sign``, so
    |F''| = k (g + a) e^{ku} = L0 + L1 |F'| (a = L0/L1, k = L1). expm1 keeps F' exact near j."""
    u = lambda x: sigma * (x - j)                                   # noqa: E731
    return (lambda x, o: Fj + sigma * sign * ((g + a) / k * o.expm1(k * u(x)) - a * u(x)),
            lambda x, o: sign * ((g + a) * o.expm1(k * u(x)) + g),
            lambda x, o: sigma * sign * k * (g + a) * o.exp(k * u(x)))


def _linear(j, Fj, slope):
    return (lambda x, o: Fj + slope * (x - j), lambda x, o: slope + 0 * x, lambda x, o: 0 * x)


class GDLowerBound(_Function1d):
    r"""A 1-d (L0, L1)-smooth function on which constant-step GD is slow and generalized SignSGD
    is not: the two functions of the talk's GD lower bound (Zhang et al., NeurIPS'20, as
    corrected) glued into one.

    With a = L0/L1, r = ln(1 + M/a)/L1, ramp = ln((M + a)/(eps + a))/L1, from left to right:

        x0 .. p     plateau, F' = -eps                    (p = x0 + plateau_length)
        p .. s      ramp, |F'| = (eps + a) e^{L1 (x-p)} - a, from eps up to M
        s .. x*-r   steep part, F' = -M                   (s + steep_length = x* - r)
        |x-x*| <= r valley, F' = a (e^{L1|x-x*|} - 1) sign(x - x*), F* = F(x*) = 0
        x*+r .. xt  F' = M, up to the level F(xt) = F(x0)
        outside [x0, xt] F grows exponentially (|F''| = L0 + L1|F'|), so GD thrown out diverges.

    F is C^1 and piecewise C^2; each exponential piece has |F''| = L0 + L1|F'| exactly (the
    fastest growth allowed), the linear ones F'' = 0: F is (L0, L1)-smooth, with F* = 0 and
    sup{|F'| : F <= F(x0)} = M, attained on the sublevel set [x0, xt].
    |F'| < eps only in the valley, |x - x*| < ln(1 + eps/a)/L1.

    Why GD is slow: it enters the valley from the steep part with a step eta*M. For
    eta > eta_c = 2 (ln(M L1/L0) + 1)/(M L1) (``critical_step_size``) that jump overshoots, and
    GD (but for lucky phases) is thrown out or caught in a cycle: the theorem's first function.
    For eta <= eta_c, crossing the plateau alone takes plateau_length/(eta eps) steps: the
    second. Generalized SignSGD steps by about eta whatever |F'|: ~plateau_length/eta steps.

    Recommended (the defaults): L0 = L1 = 1, M = 1e4, eps = 1, x0 = 0, plateau 50, steep 50.
    Measured with float loops (~1 us an iteration; cap failing runs, many never end): GD works
    up to ~eta_c = 2.04e-3 (25,749 iterations at 0.977 eta_c), sporadically to ~3 eta_c; best
    of eta in {1, 3} x 10^k: 17,131; in {1, 2, 5} x 10^k: 25,696; in 2^k: 13,157. Generalized
    SignSGD (m/sqrt(v), no bias correction), eta = 1: 80 with betas (0.9, 0.9), 29 with
    (0.9, 0.99) (beta2 near 1 is erratic here: v remembers M^2 and the steps stall). Lucky
    steps exist (in 1-d, eta = (x* - x0)/eps lands at once): of 721 log-spaced eta in
    [eta_c/10, 1e8 eta_c], 2 beat 10x SignSGD (0.5: 104 iterations, 118: 1). So compare on a
    grid, as the theorem (which picks the function after eta) does.
    """

    def __init__(self, L0: float = 1.0, L1: float = 1.0, M: float = 1e4, epsilon: float = 1.0,
                 x0: float = 0.0, plateau_length: float = 50.0, steep_length: float = 50.0):
        if not (L0 > 0 and L1 > 0 and epsilon > 0 and M >= max(L0 / L1, epsilon)):
            raise ValueError(f"GDLowerBound: need L0, L1, epsilon > 0 and M >= max(L0/L1, "
                             f"epsilon), as the theorem; got {L0}, {L1}, {M}, {epsilon}")
        if not (plateau_length >= 0 and steep_length >= 0):
            raise ValueError("GDLowerBound: plateau_length and steep_length must be >= 0")
        self.L0, self.L1, self.M, self.epsilon = float(L0), float(L1), float(M), float(epsilon)
        self.x0, self.plateau_length, self.steep_length = float(x0), plateau_length, steep_length
        a, k, eps = L0 / L1, L1, epsilon
        self.valley_radius = r = math.log1p(M / a) / k
        ramp = math.log((M + a) / (eps + a)) / k
        p, s = x0 + plateau_length, x0 + plateau_length + ramp
        xs = s + steep_length + r
        self.minimizer, self.min_value = xs, 0.0
        Fr = M / k - a * r                                       # F(x* +- r)
        Fs = Fr + M * steep_length
        Fp = Fs + (M - eps) / k - a * ramp
        self.initial_value = F0 = Fp + eps * plateau_length      # F(x0)
        xt = xs + r + (F0 - Fr) / M
        self.joints = (x0, p, s, xs - r, xs, xs + r, xt)
        self.critical_step_size = 2 * (math.log(M * L1 / L0) + 1) / (M * L1)
        self.plateau_drop = eps * plateau_length
        # (upper end, (F, F', F'')) of each piece, left to right
        self._pieces = [(x0, _exponential(x0, F0, eps, -1, -1, a, k)),    # F rises to the left
                        (p, _linear(x0, F0, -eps)),                         # plateau
                        (s, _exponential(p, Fp, eps, 1, -1, a, k)),         # ramp
                        (xs - r, _linear(s, Fs, -M)),                       # steep part
                        (xs, _exponential(xs, 0.0, 0.0, -1, -1, a, k)),     # valley
                        (xs + r, _exponential(xs, 0.0, 0.0, 1, 1, a, k)),
                        (xt, _linear(xs + r, Fr, M)),
                        (math.inf, _exponential(xt, F0, M, 1, 1, a, k))]

    def _eval(self, x, order, ops):
        if ops.xp is None:                                       # a float: find its piece
            for hi, fns in self._pieces:
                if x < hi:
                    return fns[order](x, ops)
            return fns[order](x, ops)                            # +inf or nan
        xp, lo, out = ops.xp, -math.inf, None
        for hi, fns in self._pieces:
            val = fns[order](xp.clip(x, lo, hi), ops)            # clipped: no overflow elsewhere
            out = val if out is None else xp.where(x >= lo, val, out)
            lo = hi
        return out

    def gd_iterations_lower_bound(self, delta: float | None = None) -> float:
        r"""The talk's bound: GD with any constant step needs at least

            M L1 (delta - 15 eps^2 / (16 L0)) / (2 eps^2 (ln(M L1 / L0) + 1))

        iterations to reach |F'(x)| < eps, delta = F(x0) - F* (the default), on a worst-case
        function picked after eta. On this function most of F(x0) - F* is the steep part and the
        valley, which GD descends in a few steps, so that default is not attained here; what GD with
        eta <= eta_c must pay is the plateau: delta = plateau_drop + 15 eps^2/(16 L0) gives
        plateau_length / (eta_c eps), a true lower bound for those step sizes.
        """
        delta = self.initial_value - self.min_value if delta is None else delta
        L0, L1, M, eps = self.L0, self.L1, self.M, self.epsilon
        return M * L1 * (delta - 15 * eps ** 2 / (16 * L0)) / (2 * eps ** 2
                                                               * (math.log(M * L1 / L0) + 1))

    def __repr__(self):
        names = ("L0", "L1", "M", "epsilon", "x0", "plateau_length", "steep_length")
        return f"GDLowerBound({', '.join(f'{n}={getattr(self, n)}' for n in names)})"
