"""The `gd-lower-bound` experiment: its files, the GD/SignSGD gap, both lower bounds, and the two
forms of (L0, L1)-smoothness on the construction (Hessian form tight, first-order form off by
up to e - 1)."""
import contextlib
import csv
import io
import json
import math
import os

import numpy as np
import pytest

import autodiff as ad
from autodiff import backend
from minioptim.experiments import gd_lower_bound as exp
from minioptim.optimizers import GeneralizedSignSGD
from minioptim.optimizers.base import Point
from minioptim.problems import GDLowerBound

KEYS = {"gd_best_iterations", "gd_best_step_size", "generalized_signsgd_iterations",
        "lower_bound", "lower_bound_plateau", "step_size_grid", "critical_step_size", "ratio",
        "construction", "caption", "gd_phase_robust_best_iterations", "ratio_phase_robust",
        "first_order_worst_ratio", "hessian_worst_ratio"}


def _first_backend_only(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("host floats only; checked once")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """`minioptim reproduce gd-lower-bound --preset smoke`, once, on the host backend."""
    from minioptim import cli

    previous = backend.get_backend()
    ad.set_backend("numpy")
    out = tmp_path_factory.mktemp("gd_lower_bound")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            assert cli.main(["reproduce", "gd-lower-bound", "--preset", "smoke",
                             "--out", str(out)]) == 0
    finally:
        ad.set_backend(previous)
    paths = {k: str(out / f"gd_lower_bound{suffix}") for k, suffix in
             (("figure", ".png"), ("data", ".csv"), ("summary", "_summary.json"))}
    with open(paths["summary"]) as f:
        summary = json.load(f)
    with open(paths["data"]) as f:
        rows = list(csv.DictReader(f))
    return paths, summary, rows, printed.getvalue().splitlines()


def test_smoke_writes_the_three_files(smoke, backend_name):
    _first_backend_only(backend_name)
    paths, summary, rows, lines = smoke
    assert all(os.path.isfile(p) for p in paths.values())
    assert sum(os.path.abspath(p) in "\n".join(lines) for p in paths.values()) == 3
    assert not [p for p in os.listdir(os.path.dirname(paths["figure"])) if p.startswith(".")]
    assert KEYS <= set(summary) and summary["preset"] == "smoke"
    c = summary["construction"]
    assert (c["L0"], c["L1"], c["M"], c["epsilon"], c["x0"]) == (1.0, 1.0, 1e4, 1.0, 0.0)
    assert summary["step_size_grid"] == exp.step_size_grid("smoke")
    assert summary["runtime_seconds"] > 0 and lines and any("GD" in line for line in lines)
    # long format: the grid runs and the curves, told apart by "kind"; floats round-trip exactly
    assert set(rows[0]) == set(exp.COLUMNS)
    assert {r["kind"] for r in rows} == {"grid", "curve"}
    gd = [r for r in rows if r["kind"] == "grid" and r["method"] == "GD"
          and float(r["start_shift"]) == 0.0]
    assert [float(r["step_size"]) for r in gd] == summary["step_size_grid"]
    assert {r["outcome"] for r in gd} <= {"reached", "diverged", "cap"}
    best = [r for r in gd if float(r["step_size"]) == summary["gd_best_step_size"]]
    assert int(best[0]["iterations"]) == summary["gd_best_iterations"]
    curve = [r for r in rows if r["kind"] == "curve" and r["method"] == "generalized SignSGD"]
    assert [int(r["t"]) for r in curve] == list(range(summary["generalized_signsgd_iterations"]
                                                      + 1))
    assert float(curve[-1]["grad_abs"]) < 1.0 <= float(curve[-2]["grad_abs"])
    assert abs(GDLowerBound().grad(float(curve[-1]["x"]))) == float(curve[-1]["grad_abs"])


def test_the_figure_is_a_png(smoke, backend_name):
    _first_backend_only(backend_name)
    with open(smoke[0]["figure"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(smoke[0]["figure"])
    assert image.shape[0] > 800 and image.shape[1] > 1200


def test_gd_needs_at_least_20x_the_iterations_of_generalized_signsgd(smoke, backend_name):
    _first_backend_only(backend_name)
    s = smoke[1]
    assert s["generalized_signsgd_iterations"] is not None
    assert s["gd_best_iterations"] >= 20 * s["generalized_signsgd_iterations"]
    assert s["ratio"] == pytest.approx(s["gd_best_iterations"]
                                       / s["generalized_signsgd_iterations"])
    assert s["ratio"] >= 20 and s["ratio_phase_robust"] >= 20
    # SignSGD's count does not hang on its phase; the float loop is the library optimizer's
    assert s["generalized_signsgd_phase_robust_iterations"] <= 1.1 * s[
        "generalized_signsgd_iterations"]
    assert s["generalized_signsgd_library_max_abs_difference"] == 0.0


def test_the_summary_states_both_bounds(smoke, backend_name):
    _first_backend_only(backend_name)
    s = smoke[1]
    f = GDLowerBound()
    assert s["lower_bound"] == pytest.approx(f.gd_iterations_lower_bound(), rel=1e-15)
    assert s["lower_bound_delta"] == pytest.approx(f.initial_value - f.min_value)
    eps = f.epsilon
    assert s["lower_bound_plateau"] == pytest.approx(
        f.plateau_length / (f.critical_step_size * eps), rel=1e-12)
    assert s["critical_step_size"] == f.critical_step_size
    # the bound with Delta = F(x0) - F* is far above anything GD needs here; the plateau one
    # holds for the best step at or below eta_c
    assert s["lower_bound"] > 1000 * s["gd_best_iterations"]
    assert s["gd_best_at_most_critical_iterations"] >= s["lower_bound_plateau"]
    cap = s["caption"]
    for needle in (f"{s['lower_bound']:.3g}", f"{s['lower_bound_plateau']:,.0f}",
                   "Delta = F(x0) - F*", "Hessian form", "first-order form", "e - 1",
                   "|x - y| <= 1/L1", "1.7183"):
        assert needle in cap, needle


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.8, 0.9, 0.99, 1.0])
def test_gd_at_or_below_the_critical_step_pays_at_least_the_plateau_bound(fraction,
                                                                          backend_name):
    """Crossing the plateau (F' = -eps) takes plateau_length / (eta eps) >= plateau_length /
    (eta_c eps) steps. Near eta_c GD may also never get there (at eta_c itself it is caught in
    a cycle): not within a cap above the bound counts as at least the bound."""
    _first_backend_only(backend_name)
    f = GDLowerBound()
    eta = fraction * f.critical_step_size
    bound = f.gd_iterations_lower_bound(f.plateau_drop + 15 * f.epsilon ** 2 / (16 * f.L0))
    cap = 200_000
    run = exp.gd_run(f, eta, cap=cap)
    if fraction <= 0.99:
        assert run.outcome == "reached"
    if run.outcome == "reached":
        assert run.iterations >= f.plateau_length / (eta * f.epsilon) >= bound * (1 - 1e-12)
        assert abs(f.grad(run.x)) < f.epsilon
    else:
        assert run.iterations == cap > bound


def test_a_step_above_the_critical_one_succeeds_only_at_its_phase(backend_name):
    _first_backend_only(backend_name)
    f = GDLowerBound()
    eta = 2.0 ** -8                                   # 1.91 eta_c: 13,157 iterations from x0
    first = exp.gd_run(f, eta, cap=30_000)
    assert first.outcome == "reached" and first.iterations < f.gd_iterations_lower_bound(
        f.plateau_drop + 15 * f.epsilon ** 2 / (16 * f.L0))
    robust, shifted = exp.phase_robust(lambda x0, n: exp.gd_run(f, eta, n, x0=x0), f,
                                       eta * f.epsilon, 4, first)
    assert robust is None and any(r.outcome != "reached" for _, r in shifted)
    eta = 0.002                                       # below eta_c: every phase gets there
    first = exp.gd_run(f, eta, cap=30_000)
    robust, shifted = exp.phase_robust(lambda x0, n: exp.gd_run(f, eta, n, x0=x0), f,
                                       eta * f.epsilon, 4, first)
    assert robust is not None and robust - first.iterations <= 2 and len(shifted) == 3


def test_gd_divergence_and_cap_are_failures(backend_name):
    _first_backend_only(backend_name)
    f = GDLowerBound()
    thrown = exp.gd_run(f, 10.0, cap=1000)
    assert thrown.outcome == "diverged" and not abs(thrown.x - f.minimizer) < 1e12
    slow = exp.gd_run(f, 1e-4, cap=100)
    assert slow.outcome == "cap" and slow.iterations == 100
    assert slow.x == pytest.approx(100 * 1e-4 * f.epsilon)


@pytest.mark.parametrize("lr, betas", [(1.0, (0.9, 0.9)), (0.3, (0.9, 0.99)), (2.0, (0.5, 0.0))])
def test_the_float_signsgd_loop_is_the_library_optimizer(lr, betas, backend_name):
    """On every backend: the library's GeneralizedSignSGD on a Point takes the float loop's
    steps, bit for bit, for the first 60 steps."""
    f = GDLowerBound()
    loop = exp.signsgd_run(f, lr=lr, betas=betas, cap=60, record=True).trace
    p = Point([f.x0])
    opt = GeneralizedSignSGD([p], lr=lr, betas=betas)
    library = [f.x0]
    for _ in range(len(loop) - 1):
        p.grad = f.grad(p.data)
        opt.step()
        library.append(float(backend.to_numpy(p.data)[0]))
    assert len(loop) > 10
    np.testing.assert_array_equal(np.array(loop), np.array(library))
    # and the m / sqrt(v) recursion written out once more, by hand
    x, m, v = f.x0, 0.0, 0.0
    for t in range(min(5, len(loop) - 1)):
        g = f.grad(x)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * m ** 2
        x = x - lr * m / math.sqrt(v)
        assert loop[t + 1] == pytest.approx(x, rel=1e-14, abs=1e-14)


CONSTRUCTIONS = {"default": GDLowerBound,
                 "other": lambda: GDLowerBound(L0=2.0, L1=0.5, M=300.0, epsilon=0.3, x0=-7.0,
                                               plateau_length=5.0, steep_length=2.0)}


def _exponential_pieces(f):
    """(start, direction, length) of the pieces on which |F'| grows at the fastest allowed rate,
    walking away from the start: the ramp, both halves of the valley, the two outer pieces."""
    x0, p, s, _, xs, _, xt = f.joints
    r = f.valley_radius
    return [(p, 1, s - p), (xs, -1, r), (xs, 1, r), (x0, -1, 5 / f.L1), (xt, 1, 5 / f.L1)]


@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_the_hessian_form_holds_with_equality_on_the_exponential_pieces(name, backend_name):
    _first_backend_only(backend_name)
    f = CONSTRUCTIONS[name]()
    for start, direction, length in _exponential_pieces(f):
        assert length > 1 / f.L1                       # room for |x - y| = 1/L1 in each piece
        for u in np.linspace(0.01, 0.99, 25) * length:
            x = start + direction * u
            assert abs(f.second(x)) == pytest.approx(f.L0 + f.L1 * abs(f.grad(x)), rel=1e-12)
    xs = np.linspace(f.joints[0] - 3, f.joints[-1] + 3, 20001)
    worst = max(abs(f.second(float(x))) / (f.L0 + f.L1 * abs(f.grad(float(x)))) for x in xs)
    assert worst == pytest.approx(1.0, rel=1e-9)       # <= 1 everywhere, tight


@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_the_first_order_form_fails_by_up_to_e_minus_1(name, backend_name):
    """|F'(x) - F'(y)| / ((L0 + L1 |F'(x)|) |x - y|) over |x - y| <= 1/L1: along an exponential
    piece it is (e^{L1 d} - 1) / (L1 d), which tends to e - 1 as d -> 1/L1; no pair does worse."""
    _first_backend_only(backend_name)
    f = CONSTRUCTIONS[name]()
    L0, L1 = f.L0, f.L1

    def ratio(x, y):
        return abs(f.grad(y) - f.grad(x)) / ((L0 + L1 * abs(f.grad(x))) * abs(x - y))

    along = []
    for start, direction, length in _exponential_pieces(f):
        for u in np.linspace(0.0, length - 1 / L1, 7):
            x = start + direction * u
            for d in (0.25, 0.5, 0.9, 0.99, 1.0):
                y = x + direction * d / L1
                along.append((d, ratio(x, y)))
                assert ratio(x, y) == pytest.approx(math.expm1(d) / d, rel=1e-7)
    assert max(r for _, r in along) == pytest.approx(math.e - 1, rel=1e-9)
    assert max(r for d, r in along if d == 0.99) > 1.7           # approaches e - 1 from below
    # random pairs anywhere (across joints too) never do worse than e - 1
    rng = np.random.default_rng(0)
    lo, hi = f.joints[0] - 3, f.joints[-1] + 3
    x = rng.uniform(lo, hi, 4000)
    y = x + rng.uniform(-1, 1, 4000) / L1
    worst = max(ratio(float(a), float(b)) for a, b in zip(x, y) if abs(a - b) > 1e-6)
    assert 1.0 < worst <= (math.e - 1) * (1 + 1e-9)
    # the experiment measures the same factor
    s = exp.smoothness_ratios(f, samples=501)
    assert s["first_order_worst_ratio"] == pytest.approx(math.e - 1, rel=1e-9)
    assert s["hessian_worst_ratio"] == pytest.approx(1.0, rel=1e-9)


def test_presets_and_grids(backend_name):
    _first_backend_only(backend_name)
    sizes = {p: len(exp.step_size_grid(p)) for p in ("smoke", "small", "paper")}
    assert sizes["smoke"] < sizes["small"] < sizes["paper"]
    for p in ("smoke", "small", "paper"):
        grid = exp.step_size_grid(p)
        assert grid == sorted(set(grid)) and min(grid) < GDLowerBound().critical_step_size
    assert exp.SETTINGS["smoke"]["cap"] < exp.SETTINGS["small"]["cap"] < exp.SETTINGS[
        "paper"]["cap"]
    with pytest.raises(ValueError, match="preset"):
        exp.reproduce("unused", preset="huge")
