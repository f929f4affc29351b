"""minioptim.problems against independent facts: finite differences, exact quadratic identities,
the (L0, L1) inequality on dense grids, and GD vs generalized SignSGD on the lower-bound function
run as plain-float loops written here (independent of minioptim's optimizers)."""
import math
from functools import partial

import numpy as np
import pytest

from autodiff import backend
import minioptim as mo
from minioptim.problems import (ExpFunction, GDLowerBound, Point, Quadratic, Quartic,
                                Trajectory, run)


def host(a):
    return np.asarray(backend.to_numpy(a), dtype=np.float64)


def dev(a):
    return backend.asarray(np.asarray(a, dtype=np.float64))


QUADRATICS = {
    "diag": lambda: Quadratic.random(6, 100.0, diagonal=True, seed=1),
    "full": lambda: Quadratic.random(6, 100.0, diagonal=False, seed=2),
    "given": lambda: Quadratic([[2.0, 0.5], [0.5, 1.0]], [1.0, -1.0], c=3.0),
}


# -- quadratics -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", QUADRATICS)
def test_quadratic_grad_is_the_finite_difference_of_value(name):
    q = QUADRATICS[name]()
    x = np.random.default_rng(0).standard_normal(q.dim)
    h, fd = 1e-5, np.empty(q.dim)
    for i in range(q.dim):
        e = np.zeros(q.dim)
        e[i] = h
        fd[i] = (float(q.value(dev(x + e))) - float(q.value(dev(x - e)))) / (2 * h)
    g = q.grad(dev(x))
    assert backend.backend_of(g) is backend.active()
    np.testing.assert_allclose(host(g), fd, rtol=1e-7, atol=1e-7)
    H = host(q.hessian)                         # and the closed forms, on the host
    np.testing.assert_allclose(host(g), H @ x + host(q.b), rtol=1e-12, atol=1e-12)
    assert float(q.value(dev(x))) == pytest.approx(0.5 * x @ H @ x + host(q.b) @ x + q.c,
                                                   rel=1e-12)


@pytest.mark.parametrize("name", QUADRATICS)
def test_minimizer_has_zero_gradient_and_min_value(name):
    q = QUADRATICS[name]()
    xs = q.minimizer
    assert np.abs(host(q.grad(xs))).max() < 1e-12 * (1 + np.abs(host(q.b)).max())
    assert float(q.value(xs)) == pytest.approx(q.min_value, rel=1e-12, abs=1e-12)
    d = np.random.default_rng(1).standard_normal(q.dim)   # f(x* + d) - f* = 1/2 d'Hd exactly
    gap = float(q.value(dev(host(xs) + d))) - q.min_value
    assert gap == pytest.approx(0.5 * d @ host(q.hessian) @ d, rel=1e-9)


@pytest.mark.parametrize("diagonal", [True, False])
def test_random_has_the_requested_spectrum(diagonal):
    q = Quadratic.random(8, 1e4, diagonal=diagonal, seed=3)
    eig = np.linalg.eigvalsh(host(q.hessian))
    assert eig.max() / eig.min() == pytest.approx(1e4, rel=1e-9)
    assert q.condition_number == pytest.approx(1e4, rel=1e-9) and q.dim == 8
    np.testing.assert_allclose(np.diff(np.log(eig)), np.log(1e4) / 7, rtol=1e-8)
    if diagonal:
        assert eig.min() == 1.0 and eig.max() == 1e4     # both ends exactly
    np.testing.assert_array_equal(host(Quadratic.random(8, 1e4, diagonal, seed=3).hessian),
                                  host(q.hessian))          # seeded


def test_preconditioned_twin_of_the_corollary():
    q = Quadratic.random(5, 1e3, diagonal=True, seed=4)
    t = q.preconditioned()
    h, b = np.diag(host(q.hessian)), host(q.b)
    np.testing.assert_allclose(host(t.minimizer), host(q.minimizer), rtol=1e-12)
    np.testing.assert_allclose(host(t.minimizer), -b / h, rtol=1e-12)
    y = np.random.default_rng(5).standard_normal(5)
    np.testing.assert_allclose(host(t.grad(dev(y))), y + b / h, rtol=1e-12, atol=1e-15)
    # grad f~ = H^{-1} grad f: a fixed positive rescaling of each coordinate
    np.testing.assert_allclose(host(t.grad(dev(y))), host(q.grad(dev(y))) / h, rtol=1e-12)
    assert t.condition_number == 1.0 and t.c == q.c
    with pytest.raises(ValueError, match="diagonal"):
        Quadratic.random(3, 10.0, diagonal=False).preconditioned()


def test_ill_conditioned_2d_and_validation():
    q = Quadratic.ill_conditioned_2d(condition_number=50.0)
    np.testing.assert_allclose(host(q.minimizer), [1.0, 1.0])
    assert q.min_value == 0.0 and q.condition_number == 50.0
    assert float(q.value(dev([0.0, 0.0]))) == pytest.approx(0.5 * (1 + 50))
    for bad in [([[1.0, 2.0], [0.0, 1.0]], [0.0, 0.0]),     # not symmetric
                ([[1.0, 2.0], [2.0, 1.0]], [0.0, 0.0]),     # indefinite
                ([1.0, -1.0], [0.0, 0.0]),                  # diagonal not positive
                ([1.0, 2.0], [0.0, 0.0, 0.0])]:             # b of the wrong length
        with pytest.raises(ValueError, match="Quadratic"):
            Quadratic(*bad)


# -- Point and run ------------------------------------------------------------------------------

def test_point_is_an_optimizer_ready_copy(backend_name):
    x0 = np.array([1.0, 2.0], dtype=np.float32)
    p = Point(x0)
    assert backend.backend_of(p.data).name == backend_name and p.grad is None
    assert p.data.dtype == np.float64
    x0[0] = 7.0
    assert host(p.data)[0] == 1.0


def test_run_with_sgd_converges_to_the_minimizer():
    q = Quadratic.random(5, 10.0, diagonal=False, seed=6)
    traj = run(q, partial(mo.SGD, lr=1 / 10.0), np.zeros(5), 300)
    assert isinstance(traj, Trajectory)
    assert traj.iterates.shape == (301, 5) and traj.values.shape == (301,)
    np.testing.assert_array_equal(traj.iterates[0], 0.0)
    np.testing.assert_allclose(traj.iterates[-1], host(q.minimizer), atol=1e-10)
    assert traj.values[-1] == pytest.approx(q.min_value, abs=1e-12)
    assert np.all(np.diff(traj.values) <= 1e-12)           # GD with lr <= 1/L never goes up
    # one step by hand: x_1 = x_0 - lr (H x_0 + b)
    np.testing.assert_allclose(traj.iterates[1], -host(q.b) / 10.0, rtol=1e-12)


def test_run_on_a_1d_function_is_the_separable_sum():
    traj = run(Quartic(), partial(mo.SGD, lr=0.1), [1.0, -0.5], 20)
    np.testing.assert_allclose(traj.values, (traj.iterates ** 4 / 4).sum(axis=1), rtol=1e-12)
    assert traj.iterates[1] == pytest.approx([1.0 - 0.1, -0.5 + 0.1 * 0.125])


# -- 1-d (L0, L1)-smooth functions ---------------------------------------------------------------

FUNCTIONS = {"quartic": Quartic, "exp": ExpFunction, "exp_rate3": lambda: ExpFunction(3.0),
             "gd_lower_bound": GDLowerBound,
             "gd_lower_bound_other": lambda: GDLowerBound(L0=2.0, L1=0.5, M=300.0, epsilon=0.3,
                                                          x0=-7.0, plateau_length=5.0,
                                                          steep_length=2.0)}


def domain(f, n):
    if isinstance(f, GDLowerBound):
        return np.linspace(f.joints[0] - 3, f.joints[-1] + 3, n)
    return np.linspace(-3.0, 3.0, n)


def away_from_joints(f, x, h):
    joints = np.asarray(getattr(f, "joints", ()))
    return x if not joints.size else x[np.abs(x[:, None] - joints).min(axis=1) > 3 * h]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_grad_and_second_are_finite_differences(name):
    f = FUNCTIONS[name]()
    h = 1e-6
    x = away_from_joints(f, domain(f, 2001) + 1e-3, h)
    F = lambda z: host(f.value(dev(z)))                                # noqa: E731
    G = lambda z: host(f.grad(dev(z)))                                 # noqa: E731
    scale = 1 + np.abs(F(x))
    np.testing.assert_allclose(G(x), (F(x + h) - F(x - h)) / (2 * h),
                               rtol=1e-5, atol=1e-14 * scale.max() / h + 1e-6)
    np.testing.assert_allclose(host(f.second(dev(x))), (G(x + h) - G(x - h)) / (2 * h),
                               rtol=1e-5, atol=1e-14 * (1 + np.abs(G(x)).max()) / h + 1e-6)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_floats_and_arrays_agree(name):
    f = FUNCTIONS[name]()
    x = domain(f, 301)
    for method in (f.value, f.grad, f.second):
        on_array = method(dev(x))
        assert backend.backend_of(on_array) is backend.active()
        from_floats = np.array([method(float(v)) for v in x])
        assert all(type(method(float(v))) is float for v in x[:3])
        np.testing.assert_allclose(host(on_array), from_floats, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_relaxed_smoothness_on_a_dense_grid(name):
    f = FUNCTIONS[name]()
    x = dev(domain(f, 400001))
    lhs, bound = host(backend.xp.abs(f.second(x))), host(f.L0 + f.L1 * backend.xp.abs(f.grad(x)))
    assert np.all(lhs <= bound * (1 + 1e-12))
    assert np.max(lhs / bound) > 0.999            # the stated constants are tight


def test_stated_constants_and_minimizers():
    assert (Quartic.L0, Quartic.L1) == (1.0, 2.0)
    assert Quartic().second(1.0) == Quartic.L0 + Quartic.L1 * abs(Quartic().grad(1.0))
    e = ExpFunction(2.0)
    assert (e.L0, e.L1) == (8.0, 2.0) and e.second(0.0) == e.L0
    for f in (Quartic(), ExpFunction(), GDLowerBound()):
        assert f.grad(f.minimizer) == 0.0 and f.value(f.minimizer) == f.min_value
    with pytest.raises(ValueError):
        ExpFunction(0.0)
    with pytest.raises(ValueError, match="M >= max"):
        GDLowerBound(L0=1.0, L1=1.0, M=0.5, epsilon=1.0)


@pytest.mark.parametrize("name", ["gd_lower_bound", "gd_lower_bound_other"])
def test_lower_bound_function_is_c1_with_the_stated_geometry(name):
    f = FUNCTIONS[name]()
    M, eps, L0, L1 = f.M, f.epsilon, f.L0, f.L1
    curvature = L0 + L1 * M * math.e                     # bounds |F''| near every joint
    for j in f.joints:
        for d in (1e-9, 1e-6):
            assert abs(f.grad(j + d) - f.grad(j - d)) <= 2 * d * curvature * 1.01
            assert abs(f.value(j + d) - f.value(j - d)) <= 2 * d * (M + 1) + 1e-15 * f.value(j)
        d = 1e-6                                          # one-sided derivatives meet F'(j)
        left, right = (f.value(j) - f.value(j - d)) / d, (f.value(j + d) - f.value(j)) / d
        tol = d * curvature + 4e-16 * abs(f.value(j)) / d
        assert abs(left - f.grad(j)) <= tol and abs(right - f.grad(j)) <= tol
    x = domain(f, 200001)
    F, G = host(f.value(dev(x))), host(f.grad(dev(x)))
    assert F.min() >= 0.0 and f.value(f.x0) == pytest.approx(f.initial_value, rel=1e-14)
    sub = F <= f.initial_value                            # the sublevel set is [x0, xt]
    dx = x[1] - x[0]
    assert x[sub].min() == pytest.approx(f.x0, abs=dx) and x[sub].max() == pytest.approx(
        f.joints[-1], abs=dx)
    assert np.abs(G[sub]).max() <= M * (1 + 1e-12)        # sup |F'| over it is M
    assert np.abs(G[sub]).max() >= M * (1 - 1e-9)
    window = np.abs(G) < eps                              # |F'| < eps only in the valley
    radius = math.log1p(eps * L1 / L0) / L1
    assert np.all(np.abs(x[window] - f.minimizer) < radius + 1e-9)
    assert np.all(window[np.abs(x - f.minimizer) < radius - 1e-9])


def test_lower_bound_formula():
    f = GDLowerBound()
    L0, L1, M, eps = f.L0, f.L1, f.M, f.epsilon
    delta = f.value(f.x0) - f.min_value
    assert f.gd_iterations_lower_bound() == pytest.approx(
        M * L1 * (delta - 15 * eps ** 2 / (16 * L0)) / (2 * eps ** 2 * (math.log(M * L1 / L0)
                                                                        + 1)), rel=1e-12)
    assert f.critical_step_size == pytest.approx(2 * (math.log(1e4) + 1) / 1e4, rel=1e-14)
    plateau = f.gd_iterations_lower_bound(f.plateau_drop + 15 * eps ** 2 / (16 * L0))
    assert plateau == pytest.approx(f.plateau_length / (f.critical_step_size * eps), rel=1e-12)


# -- GD vs generalized SignSGD, as plain-float loops --------------------------------------------

def gd_iterations(f, eta, max_iter):
    """Iterations of x <- x - eta F'(x) from x0 until |F'(x)| < eps; None if never (or thrown
    out to |x| > 1e12, or into a cycle that outlasts max_iter)."""
    x = f.x0
    for t in range(max_iter):
        g = f.grad(x)
        if abs(g) < f.epsilon:
            return t
        x -= eta * g
        if not abs(x) < 1e12:
            return None
    return None


def signsgd_iterations(f, eta, beta1, beta2, max_iter):
    """Generalized SignSGD: m = b1 m + (1-b1) g, v = b2 v + (1-b2) m^2, x -= eta m / sqrt(v)."""
    x, m, v = f.x0, 0.0, 0.0
    for t in range(max_iter):
        g = f.grad(x)
        if abs(g) < f.epsilon:
            return t
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * m * m
        x -= eta * m / math.sqrt(v)
    return None


def test_gd_needs_many_more_iterations_than_generalized_signsgd():
    f = GDLowerBound()                                    # the recommended setting
    t_sign = signsgd_iterations(f, eta=1.0, beta1=0.9, beta2=0.9, max_iter=10_000)
    assert t_sign is not None and t_sign <= 200
    cap = 5 * t_sign
    grid = [c * 10.0 ** k for k in range(-5, 2) for c in (1, 3)]
    fast = {eta: t for eta in grid if (t := gd_iterations(f, eta, cap)) is not None}
    assert not fast, f"GD reached |F'| < eps within 5x SignSGD's {t_sign} iterations: {fast}"
    # below the critical step GD does converge, but only after crossing the plateau slowly
    eta = 0.9 * f.critical_step_size
    t_gd = gd_iterations(f, eta, 100_000)
    assert t_gd is not None
    assert t_gd >= f.plateau_length / (eta * f.epsilon) >= f.gd_iterations_lower_bound(
        f.plateau_drop + 15 * f.epsilon ** 2 / (16 * f.L0))
    assert t_gd >= 100 * t_sign


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the largest GD step diverges, on purpose
def test_library_optimizers_show_the_gd_lower_bound_gap():
    """The same gap with minioptim's own SGD and GeneralizedSignSGD (not hand loops): on the
    lower-bound function, the best constant-step GD of a grid needs >= 20x the iterations of
    generalized SignSGD to reach |F'(x)| < eps."""
    import minioptim as mo
    from minioptim.problems import GDLowerBound, Point

    F = GDLowerBound()

    def iterations(make, cap):
        p = Point([F.x0])
        opt = make([p])
        for t in range(cap):
            g = F.grad(p.data)
            if abs(float(g[0])) < F.epsilon:
                return t
            p.grad = g
            opt.step()
        return cap

    sign = iterations(lambda ps: mo.GeneralizedSignSGD(ps, lr=1.0, betas=(0.9, 0.9)), 1000)
    assert sign < 200
    cap = 20 * sign
    gd = min(iterations(lambda ps: mo.SGD(ps, lr=lr), cap) for lr in (1e-4, 1e-3, 3e-3, 1e-2, 1e-1))
    assert gd >= cap


# -- pinned by mutation testing (tools/mutate.py) ------------------------------------------------

@pytest.mark.parametrize("name", ["gd_lower_bound", "gd_lower_bound_other"])
def test_lower_bound_joints_are_where_the_docstring_puts_them(name):
    f = FUNCTIONS[name]()
    x0, p, s, left, xs, right, xt = f.joints
    a, k, M, eps = f.L0 / f.L1, f.L1, f.M, f.epsilon
    r = math.log1p(M / a) / k
    assert (x0, p - x0, xs) == pytest.approx((f.x0, f.plateau_length, f.minimizer), rel=1e-14)
    assert s - p == pytest.approx(math.log((M + a) / (eps + a)) / k, rel=1e-12)   # the ramp
    assert left - s == pytest.approx(f.steep_length, rel=1e-12, abs=1e-12)
    assert (xs - left, right - xs, f.valley_radius) == pytest.approx((r, r, r), rel=1e-12)
    expected_slopes = [-eps, -eps, -M, -M, 0.0, M, M]
    for j, slope in zip(f.joints, expected_slopes):
        assert f.grad(j) == pytest.approx(slope, rel=1e-9, abs=1e-9), j
    assert f.value(xs) == 0.0 and f.value(xt) == pytest.approx(f.initial_value, rel=1e-12)
    assert f.value(x0) == pytest.approx(f.initial_value, rel=1e-14)


@pytest.mark.parametrize("name", ["gd_lower_bound", "gd_lower_bound_other"])
def test_floats_and_arrays_agree_exactly_at_the_joints(name):
    f = FUNCTIONS[name]()
    joints = np.array(f.joints)
    for method in (f.value, f.grad, f.second):       # F'' jumps there: both take the right piece
        on_array = host(method(dev(joints)))
        from_floats = np.array([method(float(j)) for j in joints])
        np.testing.assert_allclose(on_array, from_floats, rtol=1e-13, atol=1e-12)
        right = np.array([method(float(j) + 1e-9 * (1 + abs(j))) for j in joints])
        np.testing.assert_allclose(from_floats, right, rtol=1e-5, atol=1e-5 * f.M)


def test_exponential_pieces_overflow_to_inf_without_warnings_or_errors():
    import warnings
    f = GDLowerBound()
    far = [f.joints[-1] + 2000.0, f.joints[0] - 2000.0]     # exp(L1 * 2000): beyond e^709
    near = f.joints[-1] + 700.0 / f.L1                      # exp(700) ~ 1e304: still finite
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in far:
            assert f.value(x) == math.inf and abs(f.grad(x)) == math.inf
        assert np.all(np.isinf(host(f.value(dev(far)))))
        assert np.isfinite(f.value(near)) and f.value(near) > 1e300
        assert host(f.value(dev([near])))[0] == pytest.approx(f.value(near), rel=1e-12)
        e = ExpFunction()
        assert e.value(710.0) == math.inf and e.value(708.0) == pytest.approx(math.exp(708.0))
        assert host(e.value(dev([710.0, 708.0]))).tolist()[0] == math.inf


def test_quadratic_condition_number_and_positive_definiteness():
    q = Quadratic([2.0, 8.0, 4.0], [0.0, 0.0, 0.0])
    assert q.condition_number == 4.0 and q.eigenvalues.tolist() == [2.0, 4.0, 8.0]
    full = Quadratic([[3.0, 1.0], [1.0, 3.0]], [1.0, 0.0])          # eigenvalues 2 and 4
    assert full.condition_number == pytest.approx(2.0, rel=1e-12)
    for singular in ([[1.0, 1.0], [1.0, 1.0]], [1.0, 0.0]):        # positive semi-definite
        with pytest.raises(ValueError, match="positive definite"):
            Quadratic(singular, [0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        Quadratic([1.0, np.inf], [0.0, 0.0])
    with pytest.raises(ValueError, match="1-d .a diagonal. or square"):
        Quadratic(np.ones((2, 3)), [0.0, 0.0])


def test_quadratic_random_in_one_dimension():
    q = Quadratic.random(1, 1.0, seed=0)
    assert q.dim == 1 and q.condition_number == 1.0 and host(q.hessian).tolist() == [[1.0]]
    for bad in [(1, 2.0), (0, 1.0), (3, 0.5)]:
        with pytest.raises(ValueError, match="Quadratic.random"):
            Quadratic.random(*bad)


def test_quadratic_inputs_lists_scalars_device_arrays_and_another_backend(backend_name):
    q = Quadratic(dev([2.0, 1.0]), dev([1.0, -1.0]), c=0.5)         # device arrays in
    assert float(host(q.value([1.0, 1.0]))) == pytest.approx(0.5 * 3 + 0.0 + 0.5)   # a list
    np.testing.assert_allclose(host(q.grad([1.0, 1.0])), [3.0, 0.0])
    one = Quadratic([4.0], [2.0])
    assert float(host(one.value(dev([1.0])))) == pytest.approx(4.0)
    other = "numpy" if backend_name != "numpy" else "strict"
    x = backend.to_backend(np.array([1.0, 2.0]), other)             # not the active backend
    g = q.grad(x)
    assert backend.backend_of(g).name == other                       # results follow x
    np.testing.assert_allclose(host(g), [3.0, 1.0])
    assert float(backend.to_numpy(q.value(x))) == pytest.approx(0.5 * (2 + 4) + (1 - 2) + 0.5)


def test_lower_bound_formula_with_constants_other_than_one():
    f = FUNCTIONS["gd_lower_bound_other"]()                  # L0 = 2, L1 = 0.5, M = 300, eps = 0.3
    # by hand: M L1 (delta - 15 eps^2 / (16 L0)) / (2 eps^2 (ln(M L1 / L0) + 1)) with delta = 10
    by_hand = 300 * 0.5 * (10 - 15 * 0.09 / 32) / (2 * 0.09 * (math.log(75.0) + 1))
    assert f.gd_iterations_lower_bound(10.0) == pytest.approx(by_hand, rel=1e-12)
    assert f.critical_step_size == pytest.approx(2 * (math.log(75.0) + 1) / 150.0, rel=1e-12)
    assert GDLowerBound(plateau_length=0.0, steep_length=0.0).joints[1] == 0.0   # allowed: 0


def test_quadratic_symmetrizes_a_nearly_symmetric_hessian_and_seeds_by_default():
    H = np.array([[2.0, 0.5], [0.5 * (1 + 1e-13), 1.0]])     # symmetric up to rounding
    q = Quadratic(H, [1.0, 0.0])
    Hq = host(q.hessian)
    np.testing.assert_array_equal(Hq, Hq.T)
    np.testing.assert_array_equal(host(Quadratic.random(4, 10.0).hessian),
                                  host(Quadratic.random(4, 10.0, seed=0).hessian))
    q = Quadratic.ill_conditioned_2d(condition_number=10.0, minimizer=(2.0, -1.0))
    np.testing.assert_allclose(host(q.minimizer), [2.0, -1.0])
    assert q.min_value == pytest.approx(0.0, abs=1e-12)
    assert float(host(q.value(dev([0.0, 0.0])))) == pytest.approx(0.5 * (4 + 10))


def test_1d_functions_take_lists_and_arrays_of_another_backend(backend_name):
    f = Quartic()
    np.testing.assert_allclose(host(f.grad([1.0, -2.0])), [1.0, -8.0])     # a list: active
    other = "numpy" if backend_name != "numpy" else "strict"
    x = backend.to_backend(np.array([1.0, -2.0]), other)
    g = f.grad(x)
    assert backend.backend_of(g).name == other                            # results follow x
    np.testing.assert_allclose(host(g), [1.0, -8.0])
