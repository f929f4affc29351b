r"""The talk's scale-freeness figures: GD, Adam, AdaGrad and Lion, each with and without
preconditioning, on ill-conditioned quadratics.

"With preconditioning" means run on the twin of the talk's corollary,
f~(x) = 1/2 x'x + (H^{-1} b)'x, whose gradient is H^{-1} grad f(x) (for GD this is exactly
gradient descent on f with the diagonal preconditioner H^{-1}). Both have the minimizer
x* = -H^{-1} b; every curve is f(x_t) - f(x*) of the original f at the iterates.

Expected picture: GD zig-zags across the narrow valley of f and crawls along it, and runs straight
on f~. Adam (eps = 0), AdaGrad (eps = 0) and Lion are scale-free: each draws the same path on f and
on f~, so the condition number does not reach them.

Step sizes: GD uses eta = 1.8 / L on each problem (L the largest curvature: 1.8/L is the usual
"large but stable" choice that shows the zig-zag); the others use one eta for f and f~
(``METHODS``).
"""
from __future__ import annotations

import csv
import functools
import json
import os
from dataclasses import dataclass

import numpy as np

from autodiff import backend
from autodiff.files import atomic_write

from .. import optimizers as opt
from ..problems import Quadratic, run


@dataclass(frozen=True)
class Method:
    name: str
    make: object  # (params, L, lr) -> optimizer; L the problem's largest curvature
    lr: tuple     # (step size on the 2-d problem, on the high-dimensional one)


METHODS = (
    Method("GD", lambda ps, L, lr: opt.SGD(ps, lr=1.8 / L), (None, None)),
    Method("Adam", lambda ps, L, lr: opt.Adam(ps, lr=lr, betas=(0.9, 0.999), eps=0.0),
           (0.1, 0.1)),
    Method("AdaGrad", lambda ps, L, lr: opt.AdaGrad(ps, lr=lr, eps=0.0), (0.5, 0.5)),
    # Lion's steps have length eta in every coordinate whatever the gradient, so with a constant
    # eta it ends oscillating around x* at that amplitude: a smaller eta for the 50-d problem
    Method("Lion", lambda ps, L, lr: opt.Lion(ps, lr=lr, betas=(0.9, 0.99)), (0.05, 0.005)),
)


def _runs(problem: Quadratic, x0, steps: int, progress, which: int):
    """Iterates and f - f* of every method on f and on its preconditioned twin."""
    twin = problem.preconditioned()
    out = {}
    for method in METHODS:
        for label, target in (("", problem), (" + preconditioning", twin)):
            name = method.name + label
            L = float(target.eigenvalues[-1])
            traj = run(target, functools.partial(method.make, L=L, lr=method.lr[which]), x0,
                       steps)
            values = np.array([float(backend.to_numpy(problem.value(backend.asarray(x))))
                               for x in traj.iterates])
            out[name] = (traj.iterates, np.maximum(values - problem.min_value, 0.0))
            progress(f"  {name:<28s} f(x_T) - f* = {out[name][1][-1]:.3e}")
    return out


def reproduce(out_dir: str, seed: int = 0, condition_number_2d: float = 50.0,
              steps_2d: int = 100, dim: int = 50, condition_number: float = 1e4,
              steps: int = 500, progress=print, preset: str = "small", workers=None,
              scheduler=None) -> dict:
    """Compute the runs, draw the figure and write the curves; returns the paths written.
    Every preset is the same few seconds of computation (``workers``/``scheduler``: unused)."""
    from .common import check_preset
    check_preset(preset)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    small = Quadratic.ill_conditioned_2d(condition_number_2d, minimizer=(1.0, 1.0))
    x0_2d = np.array([-1.5, 2.0]) + 0.1 * rng.standard_normal(2)
    progress(f"2-d quadratic, condition number {small.condition_number:g}, {steps_2d} steps:")
    paths_2d = _runs(small, x0_2d, steps_2d, progress, 0)
    big = Quadratic.random(dim, condition_number, diagonal=True, seed=seed)
    progress(f"{dim}-d quadratic, condition number {big.condition_number:g}, {steps} steps:")
    curves = _runs(big, np.zeros(dim), steps, progress, 1)

    fig = plt.figure(figsize=(16, 11), constrained_layout=True)
    grid = fig.add_gridspec(3, 4, height_ratios=[1, 1, 1.1])
    twin = small.preconditioned()
    for k, name in enumerate(paths_2d):
        ax = fig.add_subplot(grid[k // 4, k % 4])
        xs = paths_2d[name][0]
        window = _window(xs)
        _contours(ax, twin if "precond" in name else small, window)
        ax.plot(xs[:, 0], xs[:, 1], ".-", color="C3", lw=1, ms=3)
        ax.plot(*xs[0], "o", color="k", ms=5)
        ax.plot(1.0, 1.0, "*", color="gold", ms=12, mec="k")
        ax.set_title(name, fontsize=11)
        ax.set_xlim(*window[0])
        ax.set_ylim(*window[1])
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    ax = fig.add_subplot(grid[2, :])
    for k, (name, (_, gap)) in enumerate(curves.items()):
        ax.semilogy(np.maximum(gap, 1e-16), color=f"C{k // 2}", lw=2 if k % 2 == 0 else 1.2,
                    ls="--" if "precond" in name else "-", label=name)
    ax.set_ylim(1e-14, None)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("f(x_t) - f*")
    ax.set_title(f"{dim}-d diagonal quadratic, condition number {condition_number:g} "
                 f"(dashed: on the preconditioned twin)")
    ax.legend(ncol=4, fontsize=9)
    fig.suptitle("Scale-free methods have an implicit preconditioner (2-d paths: condition "
                 f"number {condition_number_2d:g})\n"
                 r"GD takes $\eta = 1.8/L$: on the round twin ($L = 1$) each step overshoots the "
                 r"minimizer, $x_{t+1} - x^\star = -0.8\,(x_t - x^\star)$, so its path jumps to "
                 "and fro along one line", fontsize=12)

    figure = os.path.join(out_dir, "scale_free.png")
    with atomic_write(figure) as f:
        fig.savefig(f, dpi=110, format="png")
    plt.close(fig)
    curves_csv = os.path.join(out_dir, "scale_free_curves.csv")
    with atomic_write(curves_csv, text=True) as f:
        _write_curves(f, curves)
    paths_json = os.path.join(out_dir, "scale_free_paths.json")
    with atomic_write(paths_json, text=True) as f:
        json.dump({"condition_number": condition_number_2d, "minimizer": [1.0, 1.0],
                   "paths": {k: v[0].tolist() for k, v in paths_2d.items()}}, f)
    return {"figure": figure, "curves": curves_csv, "paths": paths_json}


BASE_WINDOW = ((-2.0, 2.5), (-0.5, 2.5))


def _window(xs, margin: float = 0.08):
    """The base window, widened to hold every iterate of the path (with a margin)."""
    (x0, x1), (y0, y1) = BASE_WINDOW
    lo, hi = xs.min(axis=0), xs.max(axis=0)
    x0, x1 = min(x0, lo[0]), max(x1, hi[0])
    y0, y1 = min(y0, lo[1]), max(y1, hi[1])
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    return (x0 - dx if lo[0] <= x0 else x0, x1 + dx if hi[0] >= x1 else x1), \
        (y0 - dy if lo[1] <= y0 else y0, y1 + dy if hi[1] >= y1 else y1)


def _contours(ax, problem: Quadratic, window):
    """Level sets of log10(f - f* + 1e-3), all drawn solid (dashes mean "preconditioned twin"
    in the curve panel)."""
    gx, gy = np.meshgrid(np.linspace(*window[0], 240), np.linspace(*window[1], 180))
    h, b = problem._host["H"], problem._host["b"]
    z = 0.5 * (h[0] * gx ** 2 + h[1] * gy ** 2) + b[0] * gx + b[1] * gy + problem.c \
        - problem.min_value
    ax.contour(gx, gy, np.log10(z + 1e-3), levels=12, colors="0.7", linewidths=0.7,
               linestyles="solid")
    ax.set_aspect("equal")


def _write_curves(f, curves) -> None:
    w = csv.writer(f)
    w.writerow(["method", "iteration", "f_minus_fstar"])
    for name, (_, gap) in curves.items():
        w.writerows((name, t, repr(float(v))) for t, v in enumerate(gap))
