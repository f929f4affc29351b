r"""Generalized SignSGD against Adam, SGD with momentum, normalized SGD and SGD with clipped
gradient or momentum, on a ResNet and on an LSTM language model (the talk's claim C10; Crawshaw,
Liu, Orabona, Zhang, Zhuang, NeurIPS 2022, Figures 2-3).

The talk: under (L0, L1)-smoothness, generalized SignSGD (m_t = b1 m + (1-b1) g; v_t = b2 v +
(1-b2) m_t^2; x <- x - eta m_t / sqrt(v_t)) is scale-free and provably beats GD; in the paper it
matches Adam and the clipping methods, and beats SGD, on ResNet-20 / CIFAR-10 and on an AWD-LSTM
on Penn Treebank.

The optimizers as the paper's code runs them: SGD with PyTorch's undampened momentum and
Nesterov; SGDClipMomentum likewise (undampened, Nesterov); L2 weight decay (g <- g + lambda w)
for every method; generalized SignSGD without bias correction on images, with it on text.
``paper``: the paper's hyperparameters. ``smoke``/``small``: each optimizer's lr is tuned on a
small grid around a starting value (seed 0, best final test metric), then run with every seed.

Figure: training loss and the test metric (accuracy; perplexity for text) against epochs, mean
+- std over seeds, one row per model. Summary: ``final[model][optimizer] = {mean, std, lr,
...}`` of the final test metric (and the final training loss).

Presets (times measured on this project's 2-core CPU):
    smoke  ResNet-8 on digits and a small LSTM on pydoc, 3 steps per run: ~15 s, in this process
    small  ResNet-20 on digits (5 epochs) and a 2-layer LSTM (64/128) on pydoc (3 epochs), an
           lr grid of 3 per optimizer, 3 seeds: 60 runs, 20 min with 2 Dask workers
           (measured with the machine busy: load ~3.5 on 2 cores)
    paper  ResNet-20 (BN) on CIFAR-10, batch 128, 164 epochs; 3-layer AWD-LSTM (400/1150, tied)
           on PTB, batch 40, bptt 70, 750 epochs (days on a GPU per run; a Dask cluster). Not
           implemented from the paper's PTB recipe: averaging the iterates after a plateau.
"""
from __future__ import annotations

import math

from .common import (check_preset, log_scale, mean_std, outputs, save_figure, write_long_csv,
                     write_summary)
from .runs import final, history, point, run_all, runs_folder

NAME = "sign-sgd"
OPTIMIZERS = ("generalizedsignsgd", "adam", "sgd", "sgdnormalized", "sgdclipgrad",
              "sgdclipmomentum")
LABELS = {"generalizedsignsgd": "generalized SignSGD", "adam": "Adam",
          "sgd": "SGD (momentum, Nesterov)", "sgdnormalized": "normalized SGD",
          "sgdclipgrad": "SGD, clipped gradient", "sgdclipmomentum": "SGD, clipped momentum"}
# the forms every run uses (the paper's code): PyTorch's momentum, Nesterov where it has it
FORMS = {"sgd": dict(momentum=0.9, dampening=0.0, nesterov=True),
         "sgdnormalized": dict(momentum=0.9),
         "sgdclipmomentum": dict(momentum=0.9, dampening=0.0, nesterov=True),
         "generalizedsignsgd": dict(betas=(0.9, 0.999), eps=1e-8)}
# the paper's hyperparameters: (lr, extra) per optimizer and model
PAPER = {
    "resnet": {"generalizedsignsgd": (2e-4, {}), "adam": (9e-4, {}), "sgd": (0.07, {}),
               "sgdclipgrad": (0.5, {"gamma": 1.0}),
               "sgdclipmomentum": (10.0, {"gamma": 0.1}), "sgdnormalized": (0.1, {})},
    "lstm": {"generalizedsignsgd": (1e-3, {"weight_decay": 1.2e-6}),
             "adam": (2e-3, {"weight_decay": 5e-6}), "sgd": (1.0, {"weight_decay": 1e-5}),
             "sgdclipgrad": (50.0, {"gamma": 10.0}),
             "sgdclipmomentum": (20.0, {"gamma": 2.5}), "sgdnormalized": (2.0, {})},
}
# starting points of the small presets' lr grids (lr x GRID) and their gammas
SMALL = {
    "resnet": {"generalizedsignsgd": (1e-3, {}), "adam": (1e-3, {}), "sgd": (0.05, {}),
               "sgdclipgrad": (0.5, {"gamma": 1.0}),
               "sgdclipmomentum": (1.0, {"gamma": 0.1}), "sgdnormalized": (0.1, {})},
    "lstm": {"generalizedsignsgd": (3e-3, {}), "adam": (3e-3, {}), "sgd": (0.5, {}),
             "sgdclipgrad": (5.0, {"gamma": 0.5}),
             "sgdclipmomentum": (2.0, {"gamma": 0.25}), "sgdnormalized": (1.0, {})},
}
GRID = (1 / 3, 1.0, 3.0)
PRESETS = {
    "smoke": dict(models={
        "resnet": dict(model="resnet8", dataset="digits", epochs=1, batch_size=64,
                       train_batches=3, eval_batches=2, weight_decay=1e-4),
        "lstm": dict(model="lstm", dataset="pydoc", epochs=1, batch_size=10, embedding=16,
                     hidden=16, layers=1, bptt=10, train_batches=3, eval_batches=2)},
        start=SMALL, grid=(1.0,), seeds=(0,), in_process=True),
    "small": dict(models={
        "resnet": dict(model="resnet20", dataset="digits", epochs=5, batch_size=64,
                       weight_decay=1e-4),
        "lstm": dict(model="lstm", dataset="pydoc", epochs=3, batch_size=20, embedding=64,
                     hidden=128, layers=2, dropout=0.2, bptt=35, eval_split="valid")},
        start=SMALL, grid=GRID, seeds=(0, 1, 2), in_process=False),
    "paper": dict(models={
        "resnet": dict(model="resnet20", dataset="cifar10", epochs=164, batch_size=128,
                       weight_decay=1e-4),
        "lstm": dict(model="awd-lstm", dataset="ptb", epochs=750, batch_size=40, bptt=70,
                     variable_bptt=True, scale_lr_with_length=True, embedding=400,
                     hidden=1150, layers=3, tie_weights=True, dropout=0.4,
                     dropout_hidden=0.25, dropout_input=0.4, dropout_embedding=0.1,
                     weight_drop=0.5, ar=2.0, tar=1.0, eval_split="valid")},
        start=PAPER, grid=(1.0,), seeds=(0,), in_process=False),
}


def _settings(base: dict, model: str, optimizer: str, lr: float, extra: dict, seed: int):
    settings = {**base, "optimizer": optimizer, "lr": lr, "seed": seed, "schedule": "constant",
                **FORMS.get(optimizer, {}), **extra}
    if optimizer == "generalizedsignsgd":
        settings["bias_correction"] = model == "lstm"
    return settings


def _metric(model: str, base: dict) -> tuple[str, bool]:
    """The final metric of a run and whether higher is better: accuracy for images, perplexity
    on the evaluation split for text."""
    if model == "resnet":
        return "test_accuracy", True
    return f"{base.get('eval_split', 'test')}_perplexity", False


def reproduce(out_dir: str, seed: int = 0, progress=print, preset: str = "small",
              workers=None, scheduler=None, models=None, **overrides) -> dict:
    """Tune (small presets) or take the paper's lr, run every seed, draw, write. ``models``
    picks some of "resnet", "lstm"; ``overrides`` are training settings for every run."""
    cfg = PRESETS[check_preset(preset)]
    seeds = tuple(seed + s for s in overrides.pop("seeds", cfg["seeds"]))
    names = tuple(models or cfg["models"])
    paths = outputs(out_dir, NAME)
    rows, summary = compare(NAME, cfg, names, seeds, out_dir, OPTIMIZERS, _settings, _metric,
                            workers, scheduler, progress, overrides)
    write_long_csv(paths["data"], ["model", "optimizer", "lr", "seed", "epoch", "train_loss",
                                   "metric", "value"], rows)
    how = ("the paper's hyperparameters" if preset == "paper" else
           f"each optimizer at the best lr of a grid of {len(cfg['grid'])} (seed {seeds[0]})")
    caption = (f"Preset {preset}: {how}, mean +- std over seeds {seeds}. The paper (CIFAR-10, "
               f"PTB) finds generalized SignSGD on par with Adam and the clipping methods and "
               f"ahead of SGD.")
    write_summary(paths["summary"], {"preset": preset, "seeds": list(seeds), "final": summary,
                                     "caption": caption})
    _draw(paths["figure"], rows, names, caption)
    progress(f"wrote {paths['figure']}, {paths['data']}, {paths['summary']}")
    return paths


def compare(name: str, cfg: dict, names, seeds, out_dir: str, optimizers, settings, metric_of,
            workers=None, scheduler=None, progress=print, overrides=None):
    """Each optimizer on each model of ``cfg``: its lr tuned on ``cfg["grid"]`` times the
    start of ``cfg["start"]`` (seed ``seeds[0]``, best final metric), then run with every seed.
    ``settings(base, model, optimizer, lr, extra, seed)`` makes a run's settings and
    ``metric_of(model, base)`` names its metric. Returns (rows: one per run and epoch,
    summary[model][optimizer] = {mean, std, lr, ...} of the final metric over seeds)."""
    overrides = overrides or {}
    in_process = workers == 0 or (cfg["in_process"] and workers is None and scheduler is None)
    chosen, tuned = {}, {}
    for model in names:
        base = {**cfg["models"][model], **overrides}
        candidates = []
        for opt in optimizers:
            lr0, extra = cfg["start"][model][opt]
            for factor in cfg["grid"]:
                lr = float(f"{lr0 * factor:.3g}")              # 0.0167, not 0.016666...
                candidates.append((opt, lr, extra, point(
                    {"model": model, "optimizer": opt, "lr": lr, "seed": seeds[0]},
                    settings(base, model, opt, lr, extra, seeds[0]))))
        progress(f"{name}, {model}: {len(candidates)} runs at seed {seeds[0]}")
        folder = run_all(name, out_dir, [c[-1] for c in candidates], workers, scheduler,
                         in_process, progress)
        metric, higher = metric_of(model, base)
        for opt in optimizers:
            mine = [c for c in candidates if c[0] == opt]
            score = {c[1]: final(history(folder, c[-1]), metric) for c in mine}
            ok = {lr: v for lr, v in score.items() if v == v and math.isfinite(v)}
            pick = (max if higher else min)(ok, key=ok.get) if ok else mine[0][1]
            extra = next(c[2] for c in mine if c[1] == pick)
            tuned[(model, opt)] = {"lr_grid": sorted(score), "scores": score}
            chosen[(model, opt)] = [point(
                {"model": model, "optimizer": opt, "lr": pick, "seed": s},
                settings(base, model, opt, pick, extra, s)) for s in seeds]
        if len(seeds) > 1:
            progress(f"{model}: each optimizer's best lr with seeds {seeds}")
            run_all(name, out_dir, [p for opt in optimizers for p in chosen[(model, opt)]],
                    workers, scheduler, in_process, progress)
    folder = runs_folder(name, out_dir)
    rows, summary = [], {}
    for (model, opt), runs in chosen.items():
        metric = metric_of(model, cfg["models"][model])[0]
        finals, losses = [], []
        for p in runs:
            h = history(folder, p)
            for r in h:
                rows.append({"model": model, "optimizer": opt, "lr": p.values["lr"],
                             "seed": p.values["seed"], "epoch": r["epoch"],
                             "train_loss": r["train_loss"], "metric": metric,
                             "value": r.get(metric, math.nan)})
            finals.append(final(h, metric))
            losses.append(final(h, "train_loss"))
        mean, std = mean_std(finals)
        loss_mean, loss_std = mean_std(losses)
        summary.setdefault(model, {})[opt] = {
            "metric": metric, "mean": mean, "std": std, "train_loss_mean": loss_mean,
            "train_loss_std": loss_std, "lr": runs[0].values["lr"],
            "settings": {k: v for k, v in runs[0].settings.items()
                         if k in ("gamma", "momentum", "dampening", "nesterov", "betas",
                                  "weight_decay", "bias_correction", "schedule", "warmup",
                                  "label_smoothing")},
            "seeds": len(runs), "lr_grid": tuned[(model, opt)]["lr_grid"]}
    return rows, summary


def _draw(path, rows, models, caption) -> None:
    import textwrap

    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(12, 4.0 * len(models) + 0.8))
    fig.subplots_adjust(left=0.08, right=0.78, top=0.9, bottom=0.1 + 0.02 / len(models),
                        hspace=0.45, wspace=0.28)
    axes = fig.subplots(len(models), 2, squeeze=False)
    for i, model in enumerate(models):
        mine = [r for r in rows if r["model"] == model]
        metric = mine[0]["metric"] if mine else ""
        for k, opt in enumerate(OPTIMIZERS):
            runs = [r for r in mine if r["optimizer"] == opt]
            epochs = sorted({r["epoch"] for r in runs})
            for j, key in enumerate(("train_loss", "value")):
                stats = [mean_std([r[key] for r in runs if r["epoch"] == e]) for e in epochs]
                mean = np.array([m for m, _ in stats])
                std = np.array([s for _, s in stats])
                ax = axes[i][j]
                ax.plot(epochs, mean, "o-", ms=3, color=f"C{k}", label=LABELS[opt])
                ax.fill_between(epochs, mean - std, mean + std, color=f"C{k}", alpha=0.15)
        axes[i][0].set(xlabel="epoch", ylabel="training loss", title=f"{model}: training loss")
        axes[i][1].set(xlabel="epoch", ylabel=metric.replace("_", " "),
                       title=f"{model}: {metric.replace('_', ' ')}")
        for ax in axes[i]:
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))      # epochs are whole
            low, high = ax.get_ylim()
            if low > 0 and high / low > 20:               # perplexities from thousands down
                log_scale(ax, "y")
        axes[i][1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.suptitle("Generalized SignSGD and five competitors (mean +- std over seeds)",
                 fontsize=12)
    fig.text(0.5, 0.005, "\n".join(textwrap.wrap(caption, 160)), ha="center", va="bottom",
             fontsize=7.5)
    save_figure(fig, path)
