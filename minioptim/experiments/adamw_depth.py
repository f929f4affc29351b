r"""AdamW against Adam + L2 on ResNets without batch norm, as the network gets deeper (the talk's
claims C5/C6; Zhuang, Liu, Cutkosky, Orabona, TMLR 2022, Figures 1-2).

The talk: Adam with an L2 term (g <- g + lambda w) is not scale-free, AdamW (w <- w - eta (lambda
w + m/(sqrt(v)+eps))) is, and scale-freeness matters most where the gradient's coordinates have
very different scales, as in deep networks without batch norm; the paper trains ResNets of depth
20/44/56/110/218 without BN on CIFAR-10 and finds the gap in test error between Adam + L2 and
AdamW growing with depth (AdamProx, the exact proximal step, behaves like AdamW).

What runs: for each depth and each method (Adam + L2, AdamW, AdamProx) a grid of (eta_0,
lambda) at a constant learning rate, every run of a depth from the same initialization (the
seed); lambda is the paper's: AdamW and AdamProx shrink the weights by lambda eta_t / eta_0 per
step (``weight_decay_per_step``), Adam + L2 adds lambda w to the gradient. lambda = 0 is one run
shared by the three methods (they are all Adam then). The best (eta_0, lambda) of each method
and depth (lowest final test error, seed 0) is then run with the other seeds.

Figure: the final test error over the grid for each method and depth (one colour scale), and the
best test error against depth for each method (mean +- std over seeds). Summary:
``best_test_error[method][depth] = {mean, std, lr, weight_decay, seeds}``.

Presets (times measured on this project's 2-core CPU, 2 Dask workers):
    smoke  digits, depths 8 and 14, a 2 x 2 grid, 3 steps: ~15 s, in this process
    small  digits, depths 8, 20, 32, a 3 x 3 grid, 8 epochs, 3 seeds at the best settings: 81
           runs, 49 min with 2 Dask workers (measured with the machine busy: load ~4 on 2 cores)
    paper  CIFAR-10, depths 20/44/56/110/218, the paper's 5 x 8 grid, batch 128, 300 epochs,
           test batch 100 (weeks of CPU time: ~4,000 GPU-hours by the paper's scale; use a Dask
           cluster with GPUs, ``--scheduler``)
"""
from __future__ import annotations

from .common import check_preset, mean_std, outputs, save_figure, write_long_csv, write_summary
from .runs import final, history, point, run_all

NAME = "adamw-depth"
METHODS = {
    "Adam+L2": dict(optimizer="adam", weight_decay_mode="l2"),
    "AdamW": dict(optimizer="adamw", weight_decay_per_step=True),
    "AdamProx": dict(optimizer="adamprox", weight_decay_per_step=True),
}
PRESETS = {
    "smoke": dict(dataset="digits", depths=(8, 14), lrs=(1e-3, 3e-3), lambdas=(0.0, 5e-3),
                  seeds=(0,), train=dict(epochs=1, batch_size=64, train_batches=3,
                                         eval_batches=2), in_process=True),
    "small": dict(dataset="digits", depths=(8, 20, 32), lrs=(5e-4, 1e-3, 2e-3),
                  lambdas=(0.0, 5e-4, 5e-3), seeds=(0, 1, 2),
                  train=dict(epochs=8, batch_size=64), in_process=False),
    "paper": dict(dataset="cifar10", depths=(20, 44, 56, 110, 218),
                  lrs=(5e-5, 1e-4, 5e-4, 1e-3, 5e-3),
                  lambdas=(0.0, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2), seeds=(0,),
                  train=dict(epochs=300, batch_size=128, eval_batch_size=100),
                  in_process=False),
}


def _settings(cfg, depth, method, lr, lam, seed, overrides):
    base = {"model": f"resnet{depth}", "dataset": cfg["dataset"], "batch_norm": False,
            "lr": lr, "seed": seed, "schedule": "constant", **cfg["train"], **overrides}
    if lam == 0:                                        # all three are Adam without decay
        return {"method": "Adam", "depth": depth, "lr": lr, "lambda": 0.0, "seed": seed}, \
            {**base, "optimizer": "adam", "weight_decay": 0.0}
    return {"method": method, "depth": depth, "lr": lr, "lambda": lam, "seed": seed}, \
        {**base, **METHODS[method], "weight_decay": lam}


def _points(cfg, seeds, overrides, only=None):
    out = []
    for depth in cfg["depths"]:
        for method in METHODS:
            for lr in cfg["lrs"]:
                for lam in cfg["lambdas"]:
                    if only is not None and (lr, lam) != only.get((method, depth)):
                        continue
                    for seed in seeds:
                        values, settings = _settings(cfg, depth, method, lr, lam, seed, overrides)
                        out.append((method, depth, lr, lam, seed, point(values, settings)))
    return out


def reproduce(out_dir: str, seed: int = 0, progress=print, preset: str = "small",
              workers=None, scheduler=None, **overrides) -> dict:
    """Run the grid (and the best settings with every seed), draw, write; returns the paths.
    ``overrides`` are training settings applied to every run (a quick check of a preset's code
    path: ``epochs=1, train_batches=2``); ``depths=``, ``lrs=``, ``lambdas=``, ``seeds=``
    replace the preset's."""
    cfg = dict(PRESETS[check_preset(preset)])
    for key in ("depths", "lrs", "lambdas", "seeds"):
        if key in overrides:
            cfg[key] = tuple(overrides.pop(key))
    seeds = tuple(seed + s for s in cfg["seeds"])
    paths = outputs(out_dir, NAME)
    in_process = workers == 0 or (cfg["in_process"] and workers is None and scheduler is None)
    progress(f"{NAME} ({preset}): depths {cfg['depths']}, {len(cfg['lrs'])} x "
             f"{len(cfg['lambdas'])} grid of (eta_0, lambda), methods {', '.join(METHODS)}")
    grid = _points(cfg, seeds[:1], overrides)
    folder = run_all(NAME, out_dir, [p for *_, p in grid], workers, scheduler, in_process,
                     progress)
    error = {(m, d, lr, lam): 1 - final(history(folder, p), "test_accuracy")
             for m, d, lr, lam, _, p in grid}
    best = {}
    for method in METHODS:
        for depth in cfg["depths"]:
            cells = {(lr, lam): e for (m, d, lr, lam), e in error.items()
                     if m == method and d == depth and e == e}
            if cells:
                best[(method, depth)] = min(cells, key=cells.get)
    repeats = _points(cfg, seeds, overrides, only=best)
    if len(seeds) > 1:
        progress(f"the best (eta_0, lambda) of each method and depth, seeds {seeds}")
        run_all(NAME, out_dir, [p for *_, p in repeats], workers, scheduler, in_process,
                progress)
    rows, summary = [], {}
    for m, d, lr, lam, s, p in grid + [r for r in repeats if r[4] != seeds[0]]:
        stage = "grid" if s == seeds[0] else "seeds"
        for h in history(folder, p):
            rows.append({"method": m, "depth": d, "lr": lr, "weight_decay": lam, "seed": s,
                         "stage": stage, "epoch": h["epoch"], "train_loss": h["train_loss"],
                         "test_loss": h["test_loss"], "test_error": 1 - h["test_accuracy"]})
    for (method, depth), (lr, lam) in best.items():
        errors = [1 - final(history(folder, p), "test_accuracy")
                  for m, d, _, _, _, p in repeats if m == method and d == depth]
        mean, std = mean_std(errors)
        summary.setdefault(method, {})[str(depth)] = {
            "mean": mean, "std": std, "lr": lr, "weight_decay": lam, "seeds": len(errors)}
    write_long_csv(paths["data"], ["method", "depth", "lr", "weight_decay", "seed", "stage",
                                   "epoch", "train_loss", "test_loss", "test_error"], rows)
    gap = {str(d): summary["Adam+L2"][str(d)]["mean"] - summary["AdamW"][str(d)]["mean"]
           for d in cfg["depths"] if str(d) in summary.get("Adam+L2", {})
           and str(d) in summary.get("AdamW", {})}
    caption = (f"Final test error of ResNets without batch norm on {cfg['dataset']}, constant "
               f"learning rate, {cfg['train']['epochs']} epochs; best (eta_0, lambda) per method "
               f"and depth from the grid at seed {seeds[0]}, mean +- std over seeds {seeds}. "
               f"lambda as in the paper's code (AdamW, AdamProx: weights shrink by lambda "
               f"eta_t/eta_0 per step). The paper (CIFAR-10, 300 epochs) finds Adam + L2 "
               f"falling behind AdamW as depth grows.")
    write_summary(paths["summary"], {
        "preset": preset, "dataset": cfg["dataset"], "depths": list(cfg["depths"]),
        "grid": {"lr": list(cfg["lrs"]), "weight_decay": list(cfg["lambdas"])},
        "seeds": list(seeds), "best_test_error": summary, "gap_adam_l2_minus_adamw": gap,
        "caption": caption})
    _draw(paths["figure"], cfg, error, summary, caption, seeds)
    progress(f"wrote {paths['figure']}, {paths['data']}, {paths['summary']}")
    return paths


def _draw(path, cfg, error, summary, caption, seeds) -> None:
    import math

    from matplotlib.figure import Figure

    depths, lrs, lams = cfg["depths"], cfg["lrs"], cfg["lambdas"]
    fig = Figure(figsize=(3.2 * len(depths) + 1.5, 3.0 * len(METHODS) + 4.2))
    grid = fig.add_gridspec(len(METHODS) + 1, len(depths) + 1,
                            width_ratios=[1] * len(depths) + [0.06],
                            height_ratios=[1] * len(METHODS) + [1.3], hspace=0.55, wspace=0.35,
                            left=0.09, right=0.93, top=0.92, bottom=0.13)
    values = [100 * v for v in error.values() if v == v]
    lo, hi = (min(values), max(values)) if values else (0, 100)
    image = None
    for i, method in enumerate(METHODS):
        for j, depth in enumerate(depths):
            ax = fig.add_subplot(grid[i, j])
            cells = [[100 * error.get((method, depth, lr, lam), math.nan) for lam in lams]
                     for lr in lrs]
            image = ax.imshow(cells, origin="lower", cmap="viridis_r", vmin=lo, vmax=hi,
                              aspect="auto")
            for a, row in enumerate(cells):
                for b, v in enumerate(row):
                    if v == v:
                        ax.text(b, a, f"{v:.0f}", ha="center", va="center", fontsize=7,
                                color="white" if v > (lo + hi) / 2 else "black")
            ax.set_xticks(range(len(lams)), [f"{x:g}" for x in lams], rotation=60, fontsize=7)
            ax.set_yticks(range(len(lrs)), [f"{x:g}" for x in lrs], fontsize=7)
            ax.set_title(f"{method}, depth {depth}", fontsize=9)
            if j == 0:
                ax.set_ylabel("eta_0")
            if i == len(METHODS) - 1:
                ax.set_xlabel("lambda")
    if image is not None:
        fig.colorbar(image, cax=fig.add_subplot(grid[:len(METHODS), -1]),
                     label="final test error (%)")
    ax = fig.add_subplot(grid[-1, :-1])
    for k, method in enumerate(METHODS):
        pts = [(d, summary[method][str(d)]) for d in depths if str(d) in summary.get(method, {})]
        if not pts:
            continue
        xs = [d for d, _ in pts]
        mean = [100 * s["mean"] for _, s in pts]
        std = [100 * s["std"] for _, s in pts]
        ax.plot(xs, mean, "o-", color=f"C{k}", label=method)
        ax.fill_between(xs, [m - s for m, s in zip(mean, std)],
                        [m + s for m, s in zip(mean, std)], color=f"C{k}", alpha=0.2)
    ax.set(xlabel="depth", ylabel="best final test error (%)",
           title="best setting per method and depth (mean +- std over seeds)")
    ax.set_xticks(list(depths))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.suptitle(f"Adam + L2 vs AdamW vs AdamProx on ResNets without batch norm "
                 f"({cfg['dataset']})\nfinal test error over the (eta_0, lambda) grid, seed "
                 f"{seeds[0]}", fontsize=11)
    fig.text(0.5, 0.01, _wrap(caption, 150), ha="center", va="bottom", fontsize=7.5)
    save_figure(fig, path)


def _wrap(text: str, width: int) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width))
