r"""Local smoothness along training, against the gradient norm and layer by layer (the talk's
claims C7/C8; Zhang, He, Sra, Jadbabaie, ICLR 2020, Figures 1-2).

The talk: the local smoothness of a network's loss is far from constant; it grows with the
gradient norm, roughly as L <= L0 + L1 ||grad F|| ((L0, L1)-smoothness), and it differs a lot
between layers, which is why a per-layer (coordinate-wise) view and clipping/normalization help.

What runs: the LSTM language model trained with clipped SGD (Zhang et al.'s setting: SGD with
the global gradient norm clipped) and ResNet-20 trained with SGD and momentum; at every probed
step the midpoint estimator L_t = ||grad F(x_mid) - grad F(x_t)|| / ||x_mid - x_t||, x_mid =
(x_t + x_{t+1}) / 2, on the step's own batch, for the whole model and for each top-level layer
(``minioptim train --probe-smoothness``; the probe leaves the run bit-identical). Zhang et al.
evaluate the gradients on ~10% of the training data; the step's batch is noisier and cheaper.

Figure: per model, log L_t against log ||grad F(x_t)|| with the tightest line L0 + L1 ||g||
above the points (``fit_l0_l1``) and the correlation of the logs; and each layer's L_t over
training. Summary: ``corr_log_smoothness_log_gradnorm = {"resnet": r, "lstm": r}``,
``fit = {model: {L0, L1}}``, ``per_layer = {"model.layer": {min, median, max}}``.

Presets (times measured on this project's 2-core CPU):
    smoke  ResNet-8 on digits and a small LSTM on pydoc, 8 probed steps each: ~10 s
    small  ResNet-20 on digits (4 epochs) and a 2-layer LSTM (64/128) on pydoc (3 epochs),
           every step probed, 3 seeds: 3 min with 2 Dask workers (measured with the
           machine busy: load ~4 on 2 cores)
    paper  Zhang et al.'s LSTM (2 layers, embedding 200, hidden 512, batch 256, bptt 70,
           dropout 0, SGD lr 30 with the gradient norm clipped at 0.25) on PTB, and ResNet-20 on
           CIFAR-10 (SGD 0.1, momentum 0.9, weight decay 1e-4), 5 epochs each, every step
           probed (about twice the time of training: hours on a CPU, minutes on a GPU)
"""
from __future__ import annotations

import math

import numpy as np

from ..analysis import fit_l0_l1
from .common import (check_preset, log_scale, outputs, save_figure, write_long_csv,
                     write_summary)
from .runs import point, run_all, table

NAME = "smoothness"
PRESETS = {
    "smoke": dict(models={
        "resnet": dict(model="resnet8", dataset="digits", optimizer="sgd", lr=0.05, momentum=0.9,
                       dampening=0.0, epochs=1, batch_size=64, train_batches=8, eval_batches=1),
        "lstm": dict(model="lstm", dataset="pydoc", optimizer="sgd", lr=5.0, clip_grad_norm=0.25,
                     epochs=1, batch_size=10, embedding=16, hidden=32, layers=2, bptt=10,
                     train_batches=8, eval_batches=1)},
        seeds=(0,), every=1, in_process=True),
    "small": dict(models={
        "resnet": dict(model="resnet20", dataset="digits", optimizer="sgd", lr=0.05,
                       momentum=0.9, dampening=0.0, epochs=4, batch_size=64),
        "lstm": dict(model="lstm", dataset="pydoc", optimizer="sgd", lr=10.0,
                     clip_grad_norm=0.25, epochs=3, batch_size=20, embedding=64, hidden=128,
                     layers=2, bptt=35)},
        seeds=(0, 1, 2), every=1, in_process=False),
    "paper": dict(models={
        "resnet": dict(model="resnet20", dataset="cifar10", optimizer="sgd", lr=0.1,
                       momentum=0.9, dampening=0.0, weight_decay=1e-4, epochs=5,
                       batch_size=128),
        "lstm": dict(model="lstm", dataset="ptb", optimizer="sgd", lr=30.0,
                     clip_grad_norm=0.25, epochs=5, batch_size=256, embedding=200, hidden=512,
                     layers=2, bptt=70, dropout=0.0)},
        seeds=(0,), every=1, in_process=False),
}


def reproduce(out_dir: str, seed: int = 0, progress=print, preset: str = "small",
              workers=None, scheduler=None, models=None, **overrides) -> dict:
    """Train with the probe on, draw, write; returns the paths. ``overrides`` are training
    settings for every run."""
    cfg = PRESETS[check_preset(preset)]
    seeds = tuple(seed + s for s in overrides.pop("seeds", cfg["seeds"]))
    names = tuple(models or cfg["models"])
    paths = outputs(out_dir, NAME)
    in_process = workers == 0 or (cfg["in_process"] and workers is None and scheduler is None)
    points = {(m, s): point({"model": m, "seed": s},
                            {**cfg["models"][m], "seed": s, "schedule": "constant",
                             "probe_smoothness": cfg["every"], **overrides})
              for m in names for s in seeds}
    progress(f"{NAME} ({preset}): {', '.join(names)}, seeds {seeds}, the probe every "
             f"{cfg['every']} step(s)")
    folder = run_all(NAME, out_dir, list(points.values()), workers, scheduler, in_process,
                     progress)
    rows, summary = [], {"corr_log_smoothness_log_gradnorm": {}, "fit": {}, "per_layer": {}}
    for (model, s), p in points.items():
        for r in table(folder, p, "smoothness.csv"):
            rows.append({"model": model, "seed": s, **r})
    for model in names:
        mine = [r for r in rows if r["model"] == model]
        whole = [r for r in mine if r["group"] == "all" and usable(r)]
        g = np.array([r["grad_norm"] for r in whole], dtype=float)
        L = np.array([r["smoothness"] for r in whole], dtype=float)
        if len(g) > 1:
            summary["corr_log_smoothness_log_gradnorm"][model] = float(
                np.corrcoef(np.log(g), np.log(L))[0, 1])
            l0, l1 = fit_l0_l1(g, L)
            summary["fit"][model] = {"L0": l0, "L1": l1}
        for group, stats in per_layer(mine).items():
            summary["per_layer"][f"{model}.{group}"] = stats
    write_long_csv(paths["data"], ["model", "seed", "step", "group", "loss", "grad_norm",
                                   "smoothness"], rows)
    caption = (f"Preset {preset}: local smoothness L_t = ||g(x_mid) - g(x_t)|| / ||x_mid - x_t|| "
               f"on each step's batch, seeds {seeds}; line: the tightest L0 + L1 ||g|| above all "
               f"points. Zhang et al. (PTB, CIFAR-10) find L_t growing with ||g|| (correlated "
               f"logs) and layers differing by orders of magnitude.")
    summary.update({"preset": preset, "seeds": list(seeds), "caption": caption,
                    "settings": {m: cfg["models"][m] for m in names}})
    write_summary(paths["summary"], summary)
    _draw(paths["figure"], rows, names, summary, caption)
    progress(f"wrote {paths['figure']}, {paths['data']}, {paths['summary']}")
    return paths


def per_layer(rows) -> dict:
    """group -> {min, median, max} of L_t over the rows of smoothness.csv (all but "all")."""
    out = {}
    for group in sorted({r["group"] for r in rows} - {"all"}):
        values = [r["smoothness"] for r in rows if r["group"] == group and usable(r)]
        if values:
            out[group] = {"min": float(np.min(values)), "median": float(np.median(values)),
                          "max": float(np.max(values))}
    return out


def usable(r) -> bool:
    return all(isinstance(r[k], (int, float)) and math.isfinite(r[k]) and r[k] > 0
               for k in ("grad_norm", "smoothness"))


def _draw(path, rows, models, summary, caption) -> None:
    import textwrap

    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.2 * len(models) + 0.8))
    fig.subplots_adjust(left=0.08, right=0.8, top=0.91, bottom=0.08 + 0.02 / len(models),
                        hspace=0.45, wspace=0.3)
    axes = fig.subplots(len(models), 2, squeeze=False)
    for i, model in enumerate(models):
        mine = [r for r in rows if r["model"] == model and usable(r)]
        whole = [r for r in mine if r["group"] == "all"]
        ax = axes[i][0]
        g = np.array([r["grad_norm"] for r in whole])
        L = np.array([r["smoothness"] for r in whole])
        ax.scatter(g, L, s=6, alpha=0.5, color="C0", label="probed steps")
        fit = summary["fit"].get(model)
        if fit and len(g):
            xs = np.geomspace(g.min(), g.max(), 100)
            ax.plot(xs, fit["L0"] + fit["L1"] * xs, color="C3",
                    label=f"L0 + L1 ||g||: L0 = {fit['L0']:.3g}, L1 = {fit['L1']:.3g}")
        r = summary["corr_log_smoothness_log_gradnorm"].get(model)
        log_scale(ax, "xy")
        ax.set(xlabel="gradient norm ||grad F(x_t)||", ylabel="local smoothness L_t",
               title=f"{model}: smoothness vs gradient norm"
               + (f" (corr. of logs {r:.2f})" if r is not None else ""))
        ax.legend(fontsize=7)
        ax = axes[i][1]
        groups = sorted({x["group"] for x in mine} - {"all"})
        for k, group in enumerate(groups):
            pts = sorted((x["step"], x["smoothness"]) for x in mine if x["group"] == group
                         and x["seed"] == min(y["seed"] for y in mine))
            if pts:
                ax.plot(*zip(*pts), lw=0.9, color=f"C{k % 10}", label=group)
        log_scale(ax, "y")
        ax.set(xlabel="step", ylabel="L_t of the layer's parameters",
               title=f"{model}: smoothness by layer (first seed)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
        for a in axes[i]:
            a.grid(alpha=0.3, which="both")
    fig.suptitle("Local smoothness along training (the talk's relaxed smoothness)", fontsize=12)
    fig.text(0.5, 0.005, "\n".join(textwrap.wrap(caption, 160)), ha="center", va="bottom",
             fontsize=7.5)
    save_figure(fig, path)
