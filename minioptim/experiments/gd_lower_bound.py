r"""The talk's GD lower bound (claim C9): on an (L0, L1)-smooth function, constant-step gradient
descent needs many more iterations than generalized SignSGD to reach |F'(x)| < epsilon.

The slide "Lower Bound of GD": fix epsilon, L0, L1, M >= max(L0/L1, epsilon) and x0; for any
constant step eta there is a 1-d (L0, L1)-smooth F with sup{|F'(x)| : F(x) <= F(x0)} <= M on
which GD needs at least

    M L1 (F(x0) - F* - 15 epsilon^2 / (16 L0)) / (2 epsilon^2 (ln(M L1 / L0) + 1))

iterations to reach |F'(x_T)| < epsilon, while generalized SignSGD's rate is
O~(L0 (F(x0) - F*) / epsilon^2): a gap of order M L1 / (L0 ln(M L1/L0)), as large as M makes it.
The fixed-step GD lower bound under (L0, L1)-smoothness is Zhang, He, Sra and Jadbabaie's (ICLR
2020, "Why gradient clipping accelerates training"), there the reason why clipped GD provably
beats fixed-step GD; their smoothness is the Hessian form |F''| <= L0 + L1 |F'|. The slide states
the bound with corrected constants ("Lower bound in Zhang et al. (NeurIPS'20) has an error, we
fixed it") next to generalized SignSGD (Crawshaw, Liu, Orabona, Zhang and Zhuang, NeurIPS 2022),
which gets its rate without any clipping. Both are theorems, and both papers' experiments train
networks: the iteration counts below are this construction's, not numbers from the papers.

The function is ``problems.GDLowerBound()`` (L0 = L1 = 1, M = 1e4, epsilon = 1, x0 = 0): the
theorem's two worst cases glued into one, from left to right a plateau (F' = -epsilon, 50 long),
an exponential ramp up to |F'| = M, a steep linear part, an exponential valley around x* (the
only place where |F'| < epsilon) and a linear wall. Above the critical step
eta_c = 2 (ln(M L1/L0) + 1) / (M L1) GD overshoots the valley (roughly: from x0, eta_c itself
never gets there, and from ~0.93 eta_c up some start phases fail); at or below it, crossing the
plateau alone takes plateau_length / (eta epsilon) >= plateau_length / (eta_c epsilon) steps.

Smoothness, carefully: every exponential piece has |F''| = L0 + L1 |F'| exactly, so F meets the
Hessian form with equality; the slide's first-order form, |F'(x) - F'(y)| <= (L0 + L1 |F'(x)|)
|x - y| for |x - y| <= 1/L1, fails along those pieces by the factor (e^{L1 d} - 1)/(L1 d) at
d = |x - y|, up to e - 1 at d = 1/L1 (by Gronwall the Hessian form always gives the first-order
one with that factor, so e - 1 is the worst possible). The bound as Zhang et al. prove it needs
the Hessian form; under the first-order form this construction qualifies only with L0 and L1
divided by e - 1, which makes the bound about e - 1 times smaller. ``smoothness_ratios``
measures both.

The figure:
  (a) F and |F'| (log axis) over the construction, its parts shaded.
  (b) GD's iterations to |F'(x)| < epsilon against its step size on a log grid; failures
      (thrown out, or not there within the cap: caught in a cycle, or crawling) drawn at the
      cap; the theorem's bound, the plateau-only bound and generalized SignSGD as horizontal
      lines. Hollow markers are phase-lucky steps: they succeed from x0 but fail when the start
      moves along the plateau by a fraction of one step (the same construction with a slightly
      shorter plateau; the theorem picks its function after eta, so it would pick such a one).
  (c) F(x_t) - F* and |F'(x_t)| against t for the best GD step of the grid, the best
      phase-robust one, and generalized SignSGD (eta = 1, betas (0.9, 0.9), no bias correction:
      an untuned setting, GD gets the best of its grid; beta2 near 1 is erratic here, see
      ``GDLowerBound``).

Both methods run as plain-float loops (~1.5 us an iteration); every run checks the SignSGD loop
against the library's ``GeneralizedSignSGD`` on a ``Point`` (they agree bit for bit).

Presets (``reproduce(..., preset=...)``; wall time measured on this 2-core machine, figure
included (about 2 s of it, cold), Python start-up not):

    smoke  {1, 2, 5} x 10^k, 1e-4 .. 50 (18 steps), cap 30,000, 4 phases    ~3 s
    small  2^k, 2^-16 .. 2^9, and {1, 2, 5} x 10^k, 1e-5 .. 500 (47 steps),
           cap 200,000, 8 phases                                          ~12 s
    paper  2^(k/8), 2^-13 .. 2^10, and {1, ..., 9} x 10^k, 1e-4 .. 900 (243 steps),
           cap 1,000,000, 8 phases                                        ~2 min

Measured: smoke: best GD 25,696 iterations (eta = 0.002 = 0.979 eta_c, phase-robust),
generalized SignSGD 80, ratio 321. small: best GD of the grid 13,157 (eta = 2^-8 = 1.91 eta_c,
but only at this phase: 164x), best phase-robust 25,696 (eta = 0.002: 321x). Bounds (every
preset): plateau-only 24,485; the theorem's, with Delta = F(x0) - F* = 5.2e5, 2.5e8.
paper: the dense grid finds lucky steps, and its best is absurd: eta = 117.38 lands in the
valley in 1 iteration (x0 + eta epsilon is within 0.69 of x*), so ``ratio`` = 1/80; 12 of its
13 successes above eta_c are phase-lucky. Phase-robust best 20,290 (eta = 0.00253 = 1.24 eta_c,
the one step above eta_c that gets there at all 8 phases; 254x), best at or below eta_c 25,696
(eta = 0.002). For dense grids read the phase-robust numbers.

Summary keys (``gd_lower_bound_summary.json``): ``gd_best_iterations``/``_step_size`` (best of
the grid), ``gd_phase_robust_best_*`` (worst over the phases, best over the grid),
``gd_best_at_most_critical_*``, ``gd_phase_lucky_step_sizes``, ``gd_results`` (every step),
``generalized_signsgd_*``, ``lower_bound`` (Delta = F(x0) - F*), ``lower_bound_plateau``
(Delta = plateau drop + 15 eps^2/(16 L0)), ``ratio`` and ``ratio_phase_robust`` (GD / SignSGD),
``critical_step_size``, ``step_size_grid``, ``iteration_cap``, ``construction`` (parameters and
joints), ``hessian_worst_ratio``, ``first_order_worst_ratio``, ``generalized_signsgd_rate_scale``
(L0 Delta / eps^2: SignSGD's rate without its constants and logs, far above its 80 here too),
``caption``, ``runtime_seconds``.
"""
from __future__ import annotations

import math
import textwrap
import time
from typing import NamedTuple

import numpy as np

from . import common

NAME = "gd-lower-bound"
SIGNSGD_LR = 1.0
SIGNSGD_BETAS = (0.9, 0.9)
DIVERGENCE_RANGE = 1e12   # |x - x*| beyond this (or not finite): thrown out for good
COLUMNS = ("kind", "method", "step_size", "start_shift", "outcome", "iterations", "t", "x",
           "grad_abs", "f_minus_fstar")


def step_size_grid(preset: str) -> list[float]:
    """The GD step sizes of a preset, ascending."""
    common.check_preset(preset)
    if preset == "smoke":
        grid = [c * 10.0 ** k for k in range(-4, 2) for c in (1, 2, 5)]
    elif preset == "small":
        grid = [2.0 ** k for k in range(-16, 10)]
        grid += [c * 10.0 ** k for k in range(-5, 3) for c in (1, 2, 5)]
    else:  # below ~1e-4 every step just crawls: 50 / eta iterations, nothing new but time
        grid = [2.0 ** (k / 8) for k in range(-104, 81)]
        grid += [c * 10.0 ** k for k in range(-4, 3) for c in range(1, 10)]
    return sorted(set(grid))


SETTINGS = {  # iteration cap, number of start phases tried per successful step
    "smoke": {"cap": 30_000, "phases": 4},
    "small": {"cap": 200_000, "phases": 8},
    "paper": {"cap": 1_000_000, "phases": 8},
}


class Run(NamedTuple):
    outcome: str        # "reached" (|F'(x_t)| < epsilon), "diverged" or "cap"
    iterations: int     # t of the first x_t with |F'(x_t)| < epsilon; else the t it stopped at
    x: float            # the last iterate
    trace: list | None  # x_0 .. x_t when asked for


def _stopped(x, x_star) -> bool:
    return not abs(x - x_star) < DIVERGENCE_RANGE              # also true for inf and nan


def _iterate(problem, move, cap: int, x0, record: bool) -> Run:
    """x_{t+1} = move(x_t, F'(x_t)) from x0 until |F'(x_t)| < epsilon (t <= cap), the iterate
    thrown out (``_stopped``), or the cap."""
    grad, eps, x_star = problem.grad, problem.epsilon, problem.minimizer
    x = problem.x0 if x0 is None else float(x0)
    trace = [x] if record else None
    for t in range(cap + 1):
        g = grad(x)
        if abs(g) < eps:
            return Run("reached", t, x, trace)
        if t == cap:
            break
        x = move(x, g)
        if record:
            trace.append(x)
        if _stopped(x, x_star):
            return Run("diverged", t + 1, x, trace)
    return Run("cap", cap, x, trace)


def gd_run(problem, eta: float, cap: int, x0: float | None = None, record: bool = False) -> Run:
    """x_{t+1} = x_t - eta F'(x_t) from x0 (default ``problem.x0``) in Python floats, until
    |F'(x_t)| < epsilon (t <= cap)."""
    return _iterate(problem, lambda x, g: x - eta * g, cap, x0, record)


def signsgd_run(problem, lr: float = SIGNSGD_LR, betas=SIGNSGD_BETAS, cap: int = 100_000,
                x0: float | None = None, record: bool = False) -> Run:
    """Generalized SignSGD in Python floats, operation for operation as
    ``optimizers.GeneralizedSignSGD`` (eps = 0, no bias correction): m = b1 m + (1 - b1) g;
    v = b2 v + (1 - b2) m^2; x -= eta (m / sqrt(v)) (no move while v = 0)."""
    b1, b2 = betas
    state = {"m": 0.0, "v": 0.0}

    def move(x, g):
        m = state["m"] = b1 * state["m"] + (1 - b1) * g
        v = state["v"] = b2 * state["v"] + (1 - b2) * m * m
        return x - lr * (m / math.sqrt(v)) if v > 0 else x
    return _iterate(problem, move, cap, x0, record)


def signsgd_library_trace(problem, lr: float, betas, steps: int) -> list[float]:
    """x_0 .. x_steps of ``optimizers.GeneralizedSignSGD`` on a ``Point`` (the active backend)."""
    from autodiff import backend

    from ..optimizers import GeneralizedSignSGD
    from ..optimizers.base import Point

    p = Point([problem.x0])
    opt = GeneralizedSignSGD([p], lr=lr, betas=betas)
    xs = [float(backend.to_numpy(p.data)[0])]
    for _ in range(steps):
        p.grad = problem.grad(p.data)
        opt.step()
        xs.append(float(backend.to_numpy(p.data)[0]))
    return xs


def phase_shifts(problem, step: float, phases: int) -> list[float]:
    """Starts x0 + (j / phases) * (one step along the plateau), j = 1 .. phases - 1: the same
    construction with a plateau shorter by less than a step, i.e. GD's other phases."""
    span = min(step, problem.plateau_length)
    return [j / phases * span for j in range(1, phases)]


def phase_robust(run_from, problem, step: float, phases: int, first: Run) -> tuple[int | None,
                                                                                  list]:
    """The worst iteration count over the starts x0 + shift (None if any fails) and the runs.
    ``run_from(x0, cap)`` runs from x0; a shifted run gets 2 t + 1000 iterations (t the count
    from x0): a step that needs more at some phase does not count as robust."""
    if first.outcome != "reached":
        return None, []
    cap = 2 * first.iterations + 1000
    runs = [(s, run_from(problem.x0 + s, cap)) for s in phase_shifts(problem, step, phases)]
    if any(r.outcome != "reached" for _, r in runs):
        return None, runs
    return max([first.iterations] + [r.iterations for _, r in runs]), runs


def smoothness_ratios(problem, samples: int = 2001) -> dict:
    """The worst ratios, over sampled x (the joints included) and |x - y| <= 1/L1, of

        Hessian form      |F''(x)| / (L0 + L1 |F'(x)|)                          (<= 1)
        first-order form  |F'(x) - F'(y)| / ((L0 + L1 |F'(x)|) |x - y|)

    Along an exponential piece the second is (e^{L1 |x - y|} - 1) / (L1 |x - y|): e - 1 at
    |x - y| = 1/L1, which the Hessian form allows (Gronwall) and the first-order form does not."""
    L0, L1 = problem.L0, problem.L1
    lo, hi = problem.joints[0] - 2 / L1, problem.joints[-1] + 2 / L1
    xs = [lo + (hi - lo) * i / (samples - 1) for i in range(samples)] + list(problem.joints)
    worst_first, worst_at, worst_hessian = 0.0, None, 0.0
    for x in xs:
        g = problem.grad(x)
        scale = L0 + L1 * abs(g)
        worst_hessian = max(worst_hessian, abs(problem.second(x)) / scale)
        for d in (1.0, 0.5, 0.1, -0.1, -0.5, -1.0):
            y = x + d / L1
            ratio = abs(problem.grad(y) - g) / (scale * abs(y - x))
            if ratio > worst_first:
                worst_first, worst_at = ratio, (x, y)
    return {"first_order_worst_ratio": worst_first, "first_order_worst_pair": list(worst_at),
            "hessian_worst_ratio": worst_hessian, "e_minus_1": math.e - 1}


def _curve_rows(problem, method, step, trace):
    """The curve's points: every iteration of the first 200, then ~600 log-spaced ones and the
    last (a 25,000-step run would otherwise be megabytes of CSV)."""
    fstar, n = problem.min_value, len(trace)
    kept = set(range(min(n, 200))) | {n - 1}
    if n > 200:
        kept |= {int(t) for t in np.geomspace(200, n - 1, 600)}
    for t in sorted(kept):
        x = trace[t]
        yield {"kind": "curve", "method": method, "step_size": step, "t": t, "x": x,
               "grad_abs": abs(problem.grad(x)), "f_minus_fstar": problem.value(x) - fstar}


def reproduce(out_dir: str, seed: int = 0, progress=print, preset: str = "small",
              workers=None, scheduler=None) -> dict:
    """Run GD over the preset's step sizes and generalized SignSGD on ``GDLowerBound()``; write
    the figure, the long CSV and the summary; return {"figure", "data", "summary": path}.
    ``seed``, ``workers`` and ``scheduler`` are accepted for the common interface and unused:
    the experiment is deterministic and runs in this process (seconds of float loops)."""
    from ..problems import GDLowerBound

    start = time.perf_counter()
    common.check_preset(preset)
    paths = common.outputs(out_dir, NAME)
    problem = GDLowerBound()
    cap, phases = SETTINGS[preset]["cap"], SETTINGS[preset]["phases"]
    grid = step_size_grid(preset)
    eps, eta_c = problem.epsilon, problem.critical_step_size
    bound = problem.gd_iterations_lower_bound()
    plateau_delta = problem.plateau_drop + 15 * eps ** 2 / (16 * problem.L0)
    bound_plateau = problem.gd_iterations_lower_bound(plateau_delta)
    progress(f"{problem!r}: F(x0) - F* = {problem.initial_value:.6g}, eta_c = {eta_c:.6g}; "
             f"bounds: theorem {bound:.4g}, plateau-only {bound_plateau:.6g}")

    # generalized SignSGD, checked against the library optimizer
    sign = signsgd_run(problem, cap=cap, record=True)
    library = signsgd_library_trace(problem, SIGNSGD_LR, SIGNSGD_BETAS,
                                    min(len(sign.trace) - 1, 1000))
    library_gap = max(abs(a - b) for a, b in zip(sign.trace, library))
    sign_robust, sign_shifted = phase_robust(
        lambda x0, n: signsgd_run(problem, cap=min(n, cap), x0=x0), problem, SIGNSGD_LR, phases,
        sign)
    progress(f"generalized SignSGD (eta {SIGNSGD_LR:g}, betas {SIGNSGD_BETAS}): {sign.outcome} "
             f"after {sign.iterations} iterations (worst phase {sign_robust}; library optimizer "
             f"within {library_gap:.1e})")

    rows = [{"kind": "grid", "method": "generalized SignSGD", "step_size": SIGNSGD_LR,
             "start_shift": s, "outcome": r.outcome, "iterations": r.iterations, "x": r.x}
            for s, r in [(0.0, sign)] + sign_shifted]

    # GD over the grid
    results = []
    progress(f"GD over {len(grid)} step sizes, cap {cap:,} iterations, {phases} phases:")
    for eta in grid:
        first = gd_run(problem, eta, cap)
        robust, shifted = phase_robust(lambda x0, n: gd_run(problem, eta, min(n, cap), x0=x0),
                                       problem, eta * eps, phases, first)
        results.append({"step_size": eta, "outcome": first.outcome,
                        "iterations": first.iterations, "phase_robust_iterations": robust})
        rows += [{"kind": "grid", "method": "GD", "step_size": eta, "start_shift": s,
                  "outcome": r.outcome, "iterations": r.iterations, "x": r.x}
                 for s, r in [(0.0, first)] + shifted]
        note = "" if first.outcome != "reached" else \
            f" (worst phase: {robust if robust is not None else 'fails'})"
        progress(f"  eta = {eta:<12.6g} ({eta / eta_c:8.3g} eta_c): {first.outcome:8s} "
                 f"{first.iterations:>9,d}{note}")

    reached = [r for r in results if r["outcome"] == "reached"]
    robust = [r for r in results if r["phase_robust_iterations"] is not None]
    below = [r for r in reached if r["step_size"] <= eta_c]
    best = min(reached, key=lambda r: r["iterations"], default=None)
    best_robust = min(robust, key=lambda r: r["phase_robust_iterations"], default=None)
    best_below = min(below, key=lambda r: r["iterations"], default=None)
    lucky = [r["step_size"] for r in reached if r["phase_robust_iterations"] is None]

    curves = {"generalized SignSGD": (SIGNSGD_LR, sign.trace)}
    if best is not None:
        curves["GD, best step"] = (best["step_size"],
                                   gd_run(problem, best["step_size"], cap, record=True).trace)
    if best_robust is not None and best_robust is not best:
        curves["GD, best phase-robust step"] = (
            best_robust["step_size"], gd_run(problem, best_robust["step_size"], cap,
                                             record=True).trace)
    for method, (step, trace) in curves.items():
        rows += _curve_rows(problem, method, step, trace)

    smooth = smoothness_ratios(problem)
    progress(f"(L0, L1)-smoothness: Hessian form worst ratio {smooth['hessian_worst_ratio']:.6f}; "
             f"first-order form worst ratio {smooth['first_order_worst_ratio']:.6f} "
             f"(e - 1 = {math.e - 1:.6f})")

    def ratio(gd_iterations, sign_iterations):
        return gd_iterations / sign_iterations if gd_iterations and sign_iterations else None

    sign_its = sign.iterations if sign.outcome == "reached" else None
    summary = {
        "experiment": NAME, "preset": preset, "seed": seed,
        "construction": {
            "L0": problem.L0, "L1": problem.L1, "M": problem.M, "epsilon": eps,
            "x0": problem.x0, "plateau_length": problem.plateau_length,
            "steep_length": problem.steep_length, "joints": list(problem.joints),
            "minimizer": problem.minimizer, "min_value": problem.min_value,
            "initial_value": problem.initial_value, "valley_radius": problem.valley_radius,
            "plateau_drop": problem.plateau_drop,
            "epsilon_window_radius": math.log1p(eps * problem.L1 / problem.L0) / problem.L1},
        "critical_step_size": eta_c,
        "step_size_grid": grid, "iteration_cap": cap, "phases": phases,
        "gd_best_iterations": best and best["iterations"],
        "gd_best_step_size": best and best["step_size"],
        "gd_best_is_phase_robust": best is not None and best["phase_robust_iterations"] is not None,
        "gd_phase_robust_best_iterations": best_robust and best_robust["phase_robust_iterations"],
        "gd_phase_robust_best_step_size": best_robust and best_robust["step_size"],
        "gd_best_at_most_critical_iterations": best_below and best_below["iterations"],
        "gd_best_at_most_critical_step_size": best_below and best_below["step_size"],
        "gd_phase_lucky_step_sizes": lucky,
        "gd_results": results,
        "generalized_signsgd_iterations": sign_its,
        "generalized_signsgd_step_size": SIGNSGD_LR,
        "generalized_signsgd_betas": list(SIGNSGD_BETAS),
        "generalized_signsgd_phase_robust_iterations": sign_robust,
        "generalized_signsgd_library_max_abs_difference": library_gap,
        "lower_bound": bound, "lower_bound_delta": problem.initial_value - problem.min_value,
        "lower_bound_plateau": bound_plateau, "lower_bound_plateau_delta": plateau_delta,
        "generalized_signsgd_rate_scale": problem.L0 * (problem.initial_value
                                                        - problem.min_value) / eps ** 2,
        "ratio": ratio(best and best["iterations"], sign_its),
        "ratio_phase_robust": ratio(best_robust and best_robust["phase_robust_iterations"],
                                    sign_robust),
        **smooth,
    }
    summary["caption"] = caption(summary)
    summary["runtime_seconds"] = None  # filled in below, after the figure

    progress("drawing the figure")
    _figure(problem, summary, results, curves, paths["figure"])
    common.write_long_csv(paths["data"], COLUMNS, rows)
    summary["runtime_seconds"] = time.perf_counter() - start
    common.write_summary(paths["summary"], summary)
    progress(f"GD best {summary['gd_best_iterations']} (eta {summary['gd_best_step_size']}), "
             f"phase-robust {summary['gd_phase_robust_best_iterations']}; generalized SignSGD "
             f"{sign_its}; ratio {_fmt(summary['ratio'])} ({summary['runtime_seconds']:.1f} s)")
    return dict(paths)


def _iterations(n: int) -> str:
    return f"{n:,} iteration" + ("" if n == 1 else "s")


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e7:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def _above_critical(s: dict) -> str:
    eta_c = s["critical_step_size"]
    above = [r for r in s["gd_results"] if r["step_size"] > eta_c and r["outcome"] == "reached"]
    robust = [r for r in above if r["phase_robust_iterations"] is not None]
    if not above:
        return "none of this grid's gets there"
    get = f"{len(above)} of this grid's " + ("gets" if len(above) == 1 else "get") + " there"
    if not robust:
        return get + (", only at its phase" if len(above) == 1 else ", each only at its phase")
    return f"{get}, {len(robust)} at every phase tried"


def caption(s: dict) -> str:
    """What the figure shows, with its numbers (the summary's ``caption``)."""
    c = s["construction"]
    eta_c = s["critical_step_size"]
    if s["gd_best_iterations"] is None:
        best = (f"No GD step of the grid reached |F'| < eps within {s['iteration_cap']:,} "
                f"iterations; generalized SignSGD (eta = {s['generalized_signsgd_step_size']:g}, "
                f"betas {tuple(s['generalized_signsgd_betas'])}) needed "
                f"{_fmt(s['generalized_signsgd_iterations'])}.")
    else:
        best = (f"Best GD step of the grid: eta = {s['gd_best_step_size']:.4g} "
                f"({s['gd_best_step_size'] / eta_c:.3g} eta_c), "
                f"{_iterations(s['gd_best_iterations'])} to |F'| < eps, vs "
                f"{_fmt(s['generalized_signsgd_iterations'])} for "
                f"generalized SignSGD (eta = {s['generalized_signsgd_step_size']:g}, betas "
                f"{tuple(s['generalized_signsgd_betas'])}): {_fmt(s['ratio'], 3)}x.")
        if not s["gd_best_is_phase_robust"]:
            best += (f" That step works only at this phase (it fails when the start moves by a "
                     f"fraction of a step; phase-lucky steps in the grid: "
                     f"{len(s['gd_phase_lucky_step_sizes'])}); best phase-robust step (worst of "
                     f"{s['phases']} start phases): eta = "
                     f"{_fmt(s['gd_phase_robust_best_step_size'])}, "
                     f"{_fmt(s['gd_phase_robust_best_iterations'])} iterations "
                     f"({_fmt(s['ratio_phase_robust'], 3)}x).")
    return (
        f"GD with a constant step vs generalized SignSGD on a 1-d (L0, L1) = ({c['L0']:g}, "
        f"{c['L1']:g})-smooth function with M = {c['M']:g}, eps = {c['epsilon']:g}. {best} "
        f"The theorem's bound, M L1 (Delta - 15 eps^2/(16 L0)) / (2 eps^2 (ln(M L1/L0) + 1)) "
        f"with Delta = F(x0) - F* = {s['lower_bound_delta']:.4g}, is {s['lower_bound']:.3g} "
        f"iterations; this function does not attain it, because most of F(x0) - F* is the steep "
        f"part and the valley, which GD descends in a few steps (the theorem picks its worst "
        f"function after eta). What GD with eta <= eta_c = 2 (ln(M L1/L0) + 1)/(M L1) = "
        f"{eta_c:.4g} must pay is the plateau: Delta = eps * plateau length + 15 eps^2/(16 L0) "
        f"gives plateau length/(eta_c eps) = {s['lower_bound_plateau']:,.0f} iterations, a true "
        f"lower bound for every eta <= eta_c (larger steps overshoot the valley: "
        f"{_above_critical(s)}). Smoothness: every exponential piece has "
        f"|F''| = L0 + L1 |F'| exactly, so F satisfies the Hessian form |F''| <= L0 + L1 |F'| "
        f"tightly (worst ratio "
        f"{s['hessian_worst_ratio']:.6f}), but it violates the slide's first-order form "
        f"|F'(x) - F'(y)| <= (L0 + L1 |F'(x)|) |x - y| for |x - y| <= 1/L1 by up to a factor "
        f"e - 1 = {math.e - 1:.4f} (measured {s['first_order_worst_ratio']:.4f}): along an "
        f"exponential piece the ratio is (e^(L1 |x-y|) - 1)/(L1 |x-y|). The bound, as Zhang et "
        f"al. prove it, needs the Hessian form (its worst functions, like this one, are glued "
        f"from such exponential pieces); under the first-order form this construction qualifies "
        f"only with L0 and L1 divided by e - 1, which makes the bound about e - 1 times smaller.")


_PARTS = (("plateau", 0, 1, "C0"), ("ramp", 1, 2, "C1"), ("steep part", 2, 3, "C3"),
          ("valley", 3, 5, "C2"), ("wall", 5, 6, "C4"))


def _plotted(n: int, head: int = 300, tail: int = 300, middle: int = 1500):
    """Indices of a curve of n points for a log time axis: the first and last few hundred all,
    log-spaced in between (the runs end with a plunge of a few steps)."""
    import numpy as np

    mid = np.unique(np.geomspace(1, max(n - 1, 1), middle).astype(int))
    keep = np.concatenate([np.arange(min(head, n)), mid, np.arange(max(n - tail, 0), n)])
    return np.unique(keep[keep < n])


def _figure(problem, s, results, curves, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np

    eps, eta_c, cap = problem.epsilon, s["critical_step_size"], s["iteration_cap"]
    fig = plt.figure(figsize=(16, 12.5))
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.15], left=0.06, right=0.94, top=0.93,
                            bottom=0.17, hspace=0.28, wspace=0.2)

    # (a) the function
    ax = fig.add_subplot(grid[0, :])
    j = problem.joints
    xs = np.linspace(j[0] - 2 / problem.L1, j[-1] + 2 / problem.L1, 2001)
    xs = np.union1d(xs, np.asarray(j))
    F = np.array([problem.value(float(x)) for x in xs])
    G = np.array([abs(problem.grad(float(x))) for x in xs])
    for label, a, b, color in _PARTS:
        ax.axvspan(j[a], j[b], color=color, alpha=0.12, lw=0, label=label)
    ax.plot(xs, F - problem.min_value, color="k", lw=1.8, label="F(x) - F*")
    ax.set_xlabel("x")
    ax.set_ylabel("F(x) - F*")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(0, 1.15 * problem.initial_value)
    ax.axvline(problem.x0, color="k", ls=":", lw=1)
    ax.annotate(" x0", (problem.x0, 1.07 * problem.initial_value), ha="left", fontsize=10)
    ax.annotate("x*", (problem.minimizer, 0.03 * problem.initial_value), ha="center",
                fontsize=10)
    twin = ax.twinx()
    twin.semilogy(xs, np.maximum(G, 1e-3), color="C9", lw=1.4, label="|F'(x)| (right axis)")
    twin.axhline(eps, color="C9", ls="--", lw=1, label=f"epsilon = {eps:g}")
    twin.set_ylabel("|F'(x)|  (log)")
    twin.set_ylim(1e-3, 10 * G.max())
    twin.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())   # decades suffice
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper center", ncol=4, fontsize=9)
    ax.set_title(f"(a) The construction (L0 = {problem.L0:g}, L1 = {problem.L1:g}, "
                 f"M = {problem.M:g}, eps = {eps:g}): |F'| < eps only within "
                 f"{s['construction']['epsilon_window_radius']:.3g} of x*")

    # (b) iterations against the step size
    ax = fig.add_subplot(grid[1, 0])
    etas = np.array([r["step_size"] for r in results])
    ok = np.array([r["outcome"] == "reached" for r in results])
    robust = np.array([r["phase_robust_iterations"] is not None for r in results])
    its = np.array([r["iterations"] for r in results], dtype=float)
    diverged = np.array([r["outcome"] == "diverged" for r in results])
    capped = np.array([r["outcome"] == "cap" for r in results])
    ax.loglog(etas, np.where(ok & robust, its, np.nan), color="C0", lw=0.8, alpha=0.6)
    ax.loglog(etas[ok & robust], its[ok & robust], "o", color="C0", ms=5,
              label="GD: reached |F'| < eps")
    if (ok & ~robust).any():
        ax.loglog(etas[ok & ~robust], its[ok & ~robust], "o", mfc="none", mec="C1", ms=7,
                  label="GD: reached, but only at this phase")
    if diverged.any():
        ax.loglog(etas[diverged], np.full(diverged.sum(), cap), "x", color="C3", ms=6,
                  label="GD: thrown out (drawn at the cap)")
    if capped.any():
        ax.loglog(etas[capped], np.full(capped.sum(), cap), "v", color="0.45", ms=6,
                  label=f"GD: not there within the cap ({cap:,})")
    lo = etas.min()
    line = np.geomspace(lo, eta_c, 50)
    ax.loglog(line, problem.plateau_length / (line * eps), ":", color="C2", lw=1.2,
              label="plateau length / (eta eps): crossing the plateau")
    ax.axhline(s["lower_bound"], color="k", lw=1.5,
               label=f"theorem's bound, Delta = F(x0) - F*: {s['lower_bound']:.3g}")
    ax.hlines(s["lower_bound_plateau"], lo, eta_c, color="C2", lw=1.5, ls="--",
              label=f"plateau-only bound (eta <= eta_c): {s['lower_bound_plateau']:,.0f}")
    if s["generalized_signsgd_iterations"] is not None:
        ax.axhline(s["generalized_signsgd_iterations"], color="C5", lw=1.5,
                   label=f"generalized SignSGD (eta = {s['generalized_signsgd_step_size']:g}): "
                         f"{s['generalized_signsgd_iterations']}")
    ax.axvline(eta_c, color="0.3", ls="-.", lw=1, label=f"eta_c = {eta_c:.3g}")
    ax.set_ylim(0.5, 3 * s["lower_bound"])
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("GD step size eta")
    ax.set_ylabel("iterations to |F'(x)| < eps")
    ax.set_title("(b) GD's iterations against its step size")
    ax.legend(fontsize=8, loc="lower left")

    # (c) F(x_t) - F* and |F'(x_t)| against t
    inner = grid[1, 1].subgridspec(2, 1, hspace=0.08, height_ratios=[1.3, 1])
    top = fig.add_subplot(inner[0])
    bottom = fig.add_subplot(inner[1], sharex=top)
    styles = {"generalized SignSGD": ("C5", "-"), "GD, best step": ("C0", "-"),
              "GD, best phase-robust step": ("C0", "--")}
    for name, (step, trace) in curves.items():
        t = _plotted(len(trace))
        x = [trace[i] for i in t]
        color, ls = styles[name]
        top.loglog(t + 1, np.maximum([problem.value(v) - problem.min_value for v in x], 1e-6),
                   color=color, ls=ls, lw=1.5,
                   label=f"{name} (eta = {step:.4g}): {_iterations(len(trace) - 1)} from x0")
        bottom.loglog(t + 1, np.maximum([abs(problem.grad(v)) for v in x], 1e-6), color=color,
                      ls=ls, lw=1.5)
    bottom.axhline(eps, color="k", ls=":", lw=1, label=f"epsilon = {eps:g} (the plateau's |F'|)")
    top.set_ylabel("F(x_t) - F*")
    for a in (top, bottom):
        a.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    bottom.set_ylabel("|F'(x_t)|")
    bottom.set_xlabel("iteration t + 1")
    top.tick_params(labelbottom=False)
    top.set_title("(c) The runs: F(x_t) - F* and |F'(x_t)| (stop: |F'| < eps)")
    top.legend(fontsize=8, loc="lower left")
    bottom.legend(fontsize=8, loc="upper left")

    fig.suptitle("The GD lower bound under (L0, L1)-smoothness: constant-step GD vs generalized "
                 "SignSGD (Zhang et al. ICLR'20; Crawshaw et al. NeurIPS'22)", fontsize=13)
    fig.text(0.06, 0.015, textwrap.fill(s["caption"], 235), fontsize=8.2, va="bottom",
             ha="left")
    common.save_figure(fig, path)
    plt.close(fig)
