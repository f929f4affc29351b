"""The instruments measure what they claim, checked against hand computations."""
import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from minioptim import analysis


P = mo.Point


def _quadratic_grad(H, b):
    Hd, bd = ad.backend.asarray(np.asarray(H, float)), ad.backend.asarray(np.asarray(b, float))
    return lambda x: Hd * x + bd


def test_scale_free_check_separates_adam_from_sgd():
    grad = _quadratic_grad([100.0, 1.0, 0.01], [1.0, -1.0, 0.5])
    scale = [1e3, 1e-2, 7.0]
    adam = analysis.scale_free_check(lambda p: mo.Adam(p, lr=0.1, eps=0.0), grad, [1.0, 1.0, 1.0], scale)
    sgd = analysis.scale_free_check(lambda p: mo.SGD(p, lr=1e-3), grad, [1.0, 1.0, 1.0], scale)
    assert adam < 1e-12
    assert sgd > 1e-2
    for bad in ([1.0, -1.0, 1.0], [1.0, 0.0, 1.0]):
        with pytest.raises(ValueError, match="every scale must be > 0"):
            analysis.scale_free_check(lambda p: mo.SGD(p, lr=1e-3), grad, [1.0, 1.0, 1.0], bad)


def test_smoothness_probe_on_a_quadratic_is_exactly_the_curvature_along_the_step():
    # F(x) = 1/2 x'Hx + b'x: grad(x_mid) - grad(x_t) = H (d/2) for the step d, so L = ||Hd|| / ||d||
    H, b = np.array([50.0, 2.0, 0.5]), np.array([1.0, -2.0, 3.0])
    p = P([1.0, -1.0, 2.0])
    probe = analysis.SmoothnessProbe(mo.SGD([p], lr=0.01, momentum=0.5), grad_fn=_quadratic_grad(H, b))
    x, m = np.array([1.0, -1.0, 2.0]), np.zeros(3)
    for step in range(4):
        probe.step()
        g = H * x + b
        m = 0.5 * m + 0.5 * g
        d = -0.01 * m
        rec = probe.records[step]
        assert rec.smoothness["all"] == pytest.approx(np.linalg.norm(H * d) / np.linalg.norm(d), rel=1e-10)
        assert rec.grad_norm["all"] == pytest.approx(np.linalg.norm(g), rel=1e-12)
        x = x + d
    # training was not disturbed: the parameter is where plain SGD puts it
    np.testing.assert_allclose(ad.backend.to_numpy(p.data), x, rtol=1e-12)


def test_smoothness_probe_per_layer():
    # two "layers" of a separable quadratic: each group's L is the curvature along its own block
    h1 = np.array([40.0, 1.0])          # layer 2 has the single curvature 0.2
    w1 = ad.Tensor([1.0, 1.0], dtype="float64", requires_grad=True)
    w2 = ad.Tensor([3.0], dtype="float64", requires_grad=True)
    opt = mo.SGD([w1, w2], lr=0.01)

    def closure():
        w1.grad = w2.grad = None
        loss = 0.5 * ((ad.Tensor(h1, dtype="float64") * w1 * w1).sum() + (0.2 * w2 * w2).sum())
        loss.backward()
        return loss
    probe = analysis.SmoothnessProbe(opt, closure, groups={"layer1": [w1], "layer2": [w2]})
    x1 = np.array([1.0, 1.0])
    probe.step()
    d1 = -0.01 * h1 * x1
    rec = probe.records[0]
    assert rec.smoothness["layer1"] == pytest.approx(np.linalg.norm(h1 * d1) / np.linalg.norm(d1))
    assert rec.smoothness["layer2"] == pytest.approx(0.2)
    assert rec.loss == pytest.approx(0.5 * (41.0 + 0.2 * 9))
    assert rec.grad_norm["layer2"] == pytest.approx(0.6)


def test_smoothness_probe_on_an_autodiff_model_leaves_training_unchanged():
    rng = np.random.default_rng(0)
    A, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    At, yt = ad.Tensor(A, dtype="float64"), ad.Tensor(y, dtype="float64")

    def train(with_probe):
        w = ad.Tensor(np.zeros(3), dtype="float64", requires_grad=True)
        opt = mo.Adam([w], lr=0.05)

        def closure():
            w.grad = None
            loss = ((At @ w - yt) ** 2).mean()
            loss.backward()
            return loss
        probe = analysis.SmoothnessProbe(opt, closure) if with_probe else None
        for _ in range(10):
            if probe:
                probe.step()
            else:
                closure()
                opt.step()
        return w.numpy(), probe

    w_plain, _ = train(False)
    w_probed, probe = train(True)
    np.testing.assert_array_equal(w_plain, w_probed)
    # least squares: the Hessian is 2 A'A / n, so every L lies between its extreme eigenvalues
    eig = np.linalg.eigvalsh(2 * A.T @ A / 20)
    g, L = probe.pairs()
    assert len(L) == 10 and (L >= eig[0] - 1e-9).all() and (L <= eig[-1] + 1e-9).all()


def test_probing_a_model_with_batch_norm_and_dropout_leaves_it_bit_identical():
    """The second forward of a probed step runs in training mode: without care it updates the
    batch-norm statistics again and draws another dropout mask. With ``model=`` both are put
    back, and the midpoint gradient sees the step's own mask."""
    from autodiff import nn
    from autodiff.nn import functional as F
    x = ad.Tensor(np.random.default_rng(1).normal(size=(16, 6)))
    y = ad.Tensor(np.random.default_rng(2).integers(0, 3, 16))

    def train(with_probe):
        ad.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(8, 3))
        opt = mo.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss
        probe = analysis.SmoothnessProbe(opt, closure, model=model) if with_probe else None
        for _ in range(4):
            if probe:
                probe.step()
            else:
                closure()
                opt.step()
        return {k: ad.backend.to_numpy(v).copy() for k, v in model.state_dict().items()}, probe

    plain, _ = train(False)
    probed, probe = train(True)
    assert len(plain) == 9                       # 6 parameters, 3 batch-norm buffers
    for k in plain:
        np.testing.assert_array_equal(plain[k], probed[k], err_msg=k)
    assert len(probe.pairs()[1]) == 4


def test_fit_l0_l1_recovers_the_tightest_line():
    g = np.linspace(0.0, 10.0, 21)
    L = 2.0 + 0.5 * g
    L_below = L - np.abs(np.sin(g))          # points under the line do not move it
    l0, l1 = analysis.fit_l0_l1(np.concatenate([g, g]), np.concatenate([L, L_below]))
    assert l0 == pytest.approx(2.0) and l1 == pytest.approx(0.5)
    # a constant smoothness gives L1 = 0 (classic smoothness)
    assert analysis.fit_l0_l1([1.0, 5.0, 9.0], [3.0, 3.0, 2.0]) == (3.0, 0.0)
    # curvature growing with the gradient, through the origin: L0 = 0
    l0, l1 = analysis.fit_l0_l1([1.0, 2.0, 4.0], [3.0, 6.0, 12.0])
    assert l0 == pytest.approx(0.0, abs=1e-12) and l1 == pytest.approx(3.0)


def test_fit_l0_l1_bounds_every_point():
    rng = np.random.default_rng(1)
    g, L = rng.random(200) * 5, rng.random(200) * 3 + rng.random(200) * 2
    l0, l1 = analysis.fit_l0_l1(g, L)
    assert (L <= l0 + l1 * g + 1e-9).all() and l0 >= 0 and l1 >= 0


def test_step_recorder_measures_the_effective_step():
    p = P([1.0, -2.0, 4.0])
    rec = analysis.StepRecorder(mo.SGD([p], lr=0.1), keep_arrays=True)
    p.grad = ad.backend.asarray(np.array([1.0, 2.0, -8.0]))
    r = rec.step()
    assert r.effective_step[0.5] == pytest.approx(0.1)       # SGD: eta on every coordinate
    np.testing.assert_allclose(r.per_coordinate[0], 0.1)
    assert r.update_ratio == pytest.approx(0.1 * np.sqrt(69) / np.sqrt(21))

    # Adam's first step moves every coordinate by eta: its effective step is eta / |g_i|
    q = P([1.0, 1.0])
    rec = analysis.StepRecorder(mo.Adam([q], lr=0.01, eps=0.0), keep_arrays=True)
    q.grad = ad.backend.asarray(np.array([0.5, 4.0]))
    r = rec.step(grad_norm_before_clip=40.0)
    np.testing.assert_allclose(r.per_coordinate[0], [0.02, 0.0025])
    q.grad = ad.backend.asarray(np.array([0.5, 4.0]))
    second = rec.step()
    assert rec.records == [r, second] and (r.step, second.step) == (0, 1)
    assert r.grad_norm_before_clip == 40.0 and r.grad_norm == pytest.approx(np.hypot(0.5, 4.0))


# -- pinned by mutation testing (tools/mutate.py): options and optimality, not only defaults ----

def _lp_optimum_by_brute_force(g, L):
    """min L0 + L1 mean(g) over L0, L1 >= 0 with L_i <= L0 + L1 g_i, by trying every vertex of
    the feasible region: crossings of two constraint lines (the axes L0 = 0 and L1 = 0 among
    them), kept when feasible. A linear program's optimum is at a vertex."""
    lines = [(1.0, gi, Li) for gi, Li in zip(g, L)] + [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]
    best = np.inf
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            A = np.array([lines[i][:2], lines[j][:2]])
            if abs(np.linalg.det(A)) < 1e-12:
                continue
            l0, l1 = np.linalg.solve(A, [lines[i][2], lines[j][2]])
            if l0 >= -1e-9 and l1 >= -1e-9 and (L <= l0 + l1 * g + 1e-9).all():
                best = min(best, l0 + l1 * g.mean())
    return best


def test_fit_l0_l1_is_the_linear_programs_optimum_on_random_data_with_duplicates():
    rng = np.random.default_rng(7)
    for trial in range(600):
        n = int(rng.integers(1, 8))
        if trial % 3 == 0:                   # small integers: duplicated and collinear points
            g, L = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, n).astype(float)
        elif trial % 3 == 1:
            g, L = rng.random(n) * 3, rng.random(n) * 3
        else:                                # gradient norms below 1, steep smoothness
            g, L = rng.random(n) * 1.2, rng.random(n) * 3
        l0, l1 = analysis.fit_l0_l1(g, L)
        assert l0 >= 0 and l1 >= 0 and (L <= l0 + l1 * g + 1e-9).all(), (g, L)
        assert l0 + l1 * g.mean() == pytest.approx(_lp_optimum_by_brute_force(g, L),
                                                   abs=1e-9), (g, L, l0, l1)


def test_fit_l0_l1_hand_cases():
    # two points on a rising line and one far below: the line through the two, not a flat one
    assert analysis.fit_l0_l1([0.0, 2.0, 1.0], [0.0, 3.0, 0.0]) == pytest.approx((0.0, 1.5))
    # duplicated points on the hull
    assert analysis.fit_l0_l1([1.0, 1.0, 3.0, 3.0], [2.0, 2.0, 4.0, 4.0]) == pytest.approx((1.0, 1.0))
    # through the origin is tighter than any hull edge when the hull's line has L0 < 0
    assert analysis.fit_l0_l1([1.0, 2.0], [1.0, 4.0]) == pytest.approx((0.0, 2.0))
    # through the origin, supported at a point with ||g|| < 1 (most gradient norms are small)
    g, L = [0.1, 0.2, 1.0, 1.5], [0.05, 0.1, 2.0, 2.2]
    assert analysis.fit_l0_l1(g, L) == pytest.approx((0.0, 2.0))
    # one point: the flat line and the line through the origin are equally tight; the flat
    # one (classic smoothness) is chosen, as for every tie
    assert analysis.fit_l0_l1([2.0], [3.0]) == (3.0, 0.0)
    with pytest.raises(ValueError, match="same, non-zero length"):
        analysis.fit_l0_l1([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same, non-zero length"):
        analysis.fit_l0_l1([], [])


def test_smoothness_probe_every_k_probes_steps_0_k_2k_and_counts_every_step():
    H, b = np.array([4.0, 1.0]), np.array([1.0, -1.0])
    calls = []
    grad = _quadratic_grad(H, b)

    def counting(x):
        calls.append(1)
        return grad(x)

    p = P([1.0, 2.0])
    probe = analysis.SmoothnessProbe(mo.SGD([p], lr=0.1), grad_fn=counting, every=3)
    x = np.array([1.0, 2.0])
    for t in range(7):
        probe.step()
        g = H * x + b
        if t % 3 == 0:                       # L_t = ||H d|| / ||d||, d = -eta g_t
            rec = probe.records[-1]
            assert rec.step == t
            d = -0.1 * g
            assert rec.smoothness["all"] == pytest.approx(np.linalg.norm(H * d) / np.linalg.norm(d))
            assert rec.grad_norm["all"] == pytest.approx(np.linalg.norm(g))
        x = x - 0.1 * g
    assert [r.step for r in probe.records] == [0, 3, 6]
    assert probe.t == 7 and len(calls) == 7 + 3          # one extra gradient per probed step
    np.testing.assert_allclose(ad.backend.to_numpy(p.data), x, rtol=1e-12)
    g_pairs, L_pairs = probe.pairs()
    assert g_pairs.shape == L_pairs.shape == (3,)


def test_smoothness_probe_refuses_wrong_arguments():
    p, q = P([1.0]), P([2.0])
    opt = mo.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="exactly one of closure"):
        analysis.SmoothnessProbe(opt)
    with pytest.raises(ValueError, match="exactly one of closure"):
        analysis.SmoothnessProbe(opt, closure=lambda: None, grad_fn=lambda x: x)
    with pytest.raises(ValueError, match="one parameter"):
        analysis.SmoothnessProbe(mo.SGD([p, q], lr=0.1), grad_fn=lambda x: x)
    with pytest.raises(ValueError, match="group 'extra'"):
        analysis.SmoothnessProbe(opt, grad_fn=lambda x: x, groups={"extra": [q]})


def test_smoothness_probe_halves_and_a_parameter_without_gradient():
    # the halves the trainer uses: after_step returns the record; a parameter that gets no
    # gradient counts as a zero gradient and, not moving, has no smoothness (NaN)
    p, frozen = P([1.0, 2.0]), P([5.0])
    opt = mo.SGD([p, frozen], lr=0.1)
    probe = analysis.SmoothnessProbe(opt, closure=lambda: None,
                                     groups={"moving": [p], "frozen": [frozen]})
    p.grad = ad.backend.asarray(np.array([3.0, 4.0]))
    probe.before_step()
    opt.step()

    def again():
        p.grad = ad.backend.asarray(np.array([3.0, 4.0]) * 0.5)
    rec = probe.after_step(again)
    assert rec is probe.records[-1] and rec.step == 0
    assert rec.grad_norm["frozen"] == 0.0 and np.isnan(rec.smoothness["frozen"])
    assert rec.grad_norm["moving"] == pytest.approx(5.0)
    # ||g_mid - g_t|| / ||x_mid - x_t|| = 2.5 / (0.1 * 5 / 2)
    assert rec.smoothness["moving"] == pytest.approx(10.0)
    np.testing.assert_allclose(ad.backend.to_numpy(p.data), [0.7, 1.6])   # back at x_{t+1}
    assert probe._x_t is None and probe._g_t is None   # no copy of the weights kept between steps


def test_scale_free_check_relative_and_absolute_deviations_by_hand():
    # grad(x) = x, SGD with eta = 0.1 from x0 = 2 with scale 3: the plain run takes x <- 0.9 x,
    # the scaled one x <- 0.7 x. After one step 1.8 vs 1.4, after two 1.62 vs 0.98.
    make = lambda p: mo.SGD(p, lr=0.1)                       # noqa: E731
    ident = lambda x: x * 1.0                                # noqa: E731
    one_abs = analysis.scale_free_check(make, ident, [2.0], 3.0, steps=1, relative=False)
    one_rel = analysis.scale_free_check(make, ident, [2.0], 3.0, steps=1, relative=True)
    assert one_abs == pytest.approx(0.4) and one_rel == pytest.approx(0.4 / 2.8)
    two_abs = analysis.scale_free_check(make, ident, [2.0], 3.0, steps=2, relative=False)
    assert two_abs == pytest.approx(0.64)                     # the worst step is the last
    # from the minimizer neither run moves
    assert analysis.scale_free_check(make, ident, [0.0], 3.0, steps=3) == 0.0
