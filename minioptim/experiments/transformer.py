r"""Generalized SignSGD, Adam and the SGD variants on a Transformer, and the local smoothness of
its layers (the talk's claims C10 and C8 on the third model of Crawshaw, Liu, Orabona, Zhang,
Zhuang, NeurIPS 2022: a Transformer translating Multi30k German -> English).

The talk: the per-layer smoothness evidence for relaxed smoothness, and the case for
coordinate-wise and clipped methods, is strongest on Transformers, whose layers differ widely;
in the paper generalized SignSGD matches Adam there and beats SGD.

What runs: ``minioptim train --model transformer`` on translation pairs (the encoder-decoder of
``minioptim.models``), label smoothing 0.1, a linear warmup then an inverse-square-root decay
(the paper's schedule), each optimizer's lr tuned on a small grid (seed 0, best final validation
perplexity) and then run with every seed, as ``sign-sgd`` does (``sign_sgd.compare``). Then one
more run per seed with Adam at its chosen lr and the smoothness probe on: L_t of the whole model
and of each embedding, encoder layer, decoder layer, final norm and the output layer.

Figure: training loss and validation perplexity against epochs (mean +- std over seeds), and
each layer's L_t along training. Summary: ``final[optimizer] = {mean, std, lr, ...}`` of the
final validation perplexity, ``per_layer[layer] = {min, median, max}`` of L_t, and
``per_layer_spread`` = the largest median over the smallest.

Presets (times measured on this project's 2-core CPU):
    smoke  a 1+1-layer Transformer (d_model 16) on synthetic-translation, 3 steps per run: ~10 s
    small  a 2+2-layer Transformer (d_model 64, 4 heads) on synthetic-translation (8,000 pairs),
           3 epochs, an lr grid of 3, 2 seeds: 24 runs + 2 probed runs, 11 min with 2 Dask
           workers (measured with the machine at load ~2.5 on 2 cores)
    paper  6+6 layers, d_model 512, 8 heads, feed-forward 2048, dropout 0.1 on Multi30k
           (download), batch 128, warmup 128,000 steps (the paper's), label smoothing 0.1; the
           paper's learning rates for the Transformer are not in our settings file, so the
           grid is tuned as in small (days on a GPU per run).
"""
from __future__ import annotations

import math

import numpy as np

from .common import (check_preset, log_scale, mean_std, outputs, save_figure, write_long_csv,
                     write_summary)
from .runs import point, run_all, table
from .sign_sgd import FORMS, GRID, LABELS, OPTIMIZERS, compare
from .smoothness import per_layer, usable

NAME = "transformer"
MODEL = "transformer"
# starting points of the lr grids (lr x GRID) and their gammas; lr is the peak after warmup
START = {MODEL: {"generalizedsignsgd": (1e-3, {}), "adam": (1e-3, {}), "sgd": (0.1, {}),
                 "sgdclipgrad": (0.5, {"gamma": 1.0}),
                 "sgdclipmomentum": (1.0, {"gamma": 0.1}), "sgdnormalized": (0.3, {})}}
COMMON = dict(model="transformer", label_smoothing=0.1, schedule="inverse-sqrt",
              eval_split="valid")
PRESETS = {
    "smoke": dict(models={MODEL: dict(COMMON, dataset="synthetic-translation", embedding=16,
                                      hidden=32, heads=2, layers=1, batch_size=16, epochs=1,
                                      train_batches=3, eval_batches=2, warmup=1)},
                  start=START, grid=(1.0,), seeds=(0,), every=1, probe_batches=4,
                  in_process=True),
    "small": dict(models={MODEL: dict(COMMON, dataset="synthetic-translation", embedding=64,
                                      hidden=128, heads=4, layers=2, dropout=0.1, batch_size=64,
                                      epochs=3, warmup=60)},
                  start=START, grid=GRID, seeds=(0, 1), every=5, probe_batches=None,
                  in_process=False),
    "paper": dict(models={MODEL: dict(COMMON, dataset="multi30k", embedding=512, hidden=2048,
                                      heads=8, layers=6, dropout=0.1, batch_size=128,
                                      epochs=30, warmup=128_000)},
                  start=START, grid=GRID, seeds=(0,), every=50, probe_batches=None,
                  in_process=False),
}


def _settings(base: dict, model: str, optimizer: str, lr: float, extra: dict, seed: int):
    settings = {**base, "optimizer": optimizer, "lr": lr, "seed": seed,
                **FORMS.get(optimizer, {}), **extra}
    if optimizer == "generalizedsignsgd":
        settings["bias_correction"] = False          # the paper: off for the Transformer
    return settings


def _metric(model: str, base: dict) -> tuple[str, bool]:
    return f"{base.get('eval_split', 'test')}_perplexity", False


def reproduce(out_dir: str, seed: int = 0, progress=print, preset: str = "small",
              workers=None, scheduler=None, **overrides) -> dict:
    """Tune and run every optimizer, then the probed Adam runs; draw, write. ``overrides``
    are training settings for every run."""
    cfg = PRESETS[check_preset(preset)]
    seeds = tuple(seed + s for s in overrides.pop("seeds", cfg["seeds"]))
    paths = outputs(out_dir, NAME)
    rows, summary = compare(NAME, cfg, (MODEL,), seeds, out_dir, OPTIMIZERS, _settings, _metric,
                            workers, scheduler, progress, overrides)
    final = summary[MODEL]
    adam = final["adam"]
    base = {**cfg["models"][MODEL], **overrides}
    probe_settings = dict(_settings(base, MODEL, "adam", adam["lr"], {}, 0),
                          probe_smoothness=cfg["every"])
    if cfg["probe_batches"]:
        probe_settings["train_batches"] = cfg["probe_batches"]
    probed = [point({"probe": "adam", "seed": s}, dict(probe_settings, seed=s)) for s in seeds]
    progress(f"{NAME}: Adam (lr {adam['lr']:g}) with the smoothness probe every "
             f"{cfg['every']} step(s), seeds {seeds}")
    in_process = workers == 0 or (cfg["in_process"] and workers is None and scheduler is None)
    folder = run_all(NAME, out_dir, probed, workers, scheduler, in_process, progress)
    probe_rows = [{"seed": p.values["seed"], **r} for p in probed
                  for r in table(folder, p, "smoothness.csv")]
    layers = per_layer(probe_rows)
    medians = [v["median"] for v in layers.values()]
    spread = max(medians) / min(medians) if medians and min(medians) > 0 else math.nan
    write_long_csv(paths["data"], ["kind", "optimizer", "lr", "seed", "epoch", "train_loss",
                                   "metric", "value", "step", "group", "grad_norm",
                                   "smoothness"],
                   [{"kind": "training", **r} for r in rows] +
                   [{"kind": "smoothness", "optimizer": "adam", "lr": adam["lr"], **r}
                    for r in probe_rows])
    how = ("each optimizer at the best lr of a grid of "
           f"{len(cfg['grid'])} (seed {seeds[0]})")
    caption = (f"Preset {preset} ({base['dataset']}): {how}, label smoothing 0.1, warmup "
               f"{base['warmup']} steps then 1/sqrt(t); mean +- std over seeds {seeds}. "
               f"Right: L_t of each layer's parameters along an Adam run. The paper (Multi30k) "
               f"finds generalized SignSGD on par with Adam and ahead of SGD; the talk's "
               f"per-layer evidence: layers whose smoothness differs by orders of magnitude.")
    write_summary(paths["summary"], {
        "preset": preset, "seeds": list(seeds), "final": final, "per_layer": layers,
        "per_layer_spread": spread, "probe": {"optimizer": "adam", "lr": adam["lr"],
                                              "every": cfg["every"]},
        "settings": base, "caption": caption})
    _draw(paths["figure"], rows, probe_rows, caption)
    progress(f"wrote {paths['figure']}, {paths['data']}, {paths['summary']}")
    return paths


def _draw(path, rows, probe_rows, caption) -> None:
    import textwrap

    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(16, 5.2))
    fig.subplots_adjust(left=0.05, right=0.84, top=0.86, bottom=0.2, wspace=0.3)
    axes = fig.subplots(1, 3)
    metric = rows[0]["metric"] if rows else ""
    for k, opt in enumerate(OPTIMIZERS):
        runs = [r for r in rows if r["optimizer"] == opt]
        epochs = sorted({r["epoch"] for r in runs})
        for ax, key in zip(axes[:2], ("train_loss", "value")):
            stats = [mean_std([r[key] for r in runs if r["epoch"] == e]) for e in epochs]
            mean = np.array([m for m, _ in stats])
            std = np.array([s for _, s in stats])
            ax.plot(epochs, mean, "o-", ms=3, color=f"C{k}", label=LABELS[opt])
            ax.fill_between(epochs, mean - std, mean + std, color=f"C{k}", alpha=0.15)
    axes[0].set(xlabel="epoch", ylabel="training loss (label smoothing 0.1)",
                title="training loss")
    axes[1].set(xlabel="epoch", ylabel=metric.replace("_", " "),
                title=metric.replace("_", " "))
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        low, high = ax.get_ylim()
        if low > 0 and high / low > 20:
            log_scale(ax, "y")
    ax = axes[2]
    first = min((r["seed"] for r in probe_rows), default=0)
    groups = sorted({r["group"] for r in probe_rows} - {"all"})
    for k, group in enumerate(groups):
        pts = sorted((r["step"], r["smoothness"]) for r in probe_rows
                     if r["group"] == group and r["seed"] == first and usable(r))
        if pts:
            ax.plot(*zip(*pts), lw=0.9, color=f"C{k % 10}",
                    ls="-" if k < 10 else "--", label=group)
    log_scale(ax, "y")
    ax.set(xlabel="step", ylabel="L_t of the layer's parameters",
           title="smoothness by layer (Adam, first seed)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    axes[1].legend(loc="upper right", fontsize=7)
    fig.suptitle("A Transformer: generalized SignSGD and five competitors, and its layers' "
                 "smoothness", fontsize=12)
    fig.text(0.5, 0.01, "\n".join(textwrap.wrap(caption, 190)), ha="center", va="bottom",
             fontsize=7.5)
    save_figure(fig, path)
