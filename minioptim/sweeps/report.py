"""A sweep's results: ``results.csv`` (one row per run, rewritten atomically as runs finish),
``summary.md`` (the best setting per optimizer, mean +- std over seeds) and ``summary.png`` (a
heatmap of the final metric over two numeric grid axes, as the AdamW paper draws lr against
weight decay; else the best mean per optimizer with its spread)."""
from __future__ import annotations

import io
import math
import statistics

from autodiff.files import atomic_write

from ..training.records import write_csv


def columns(rows: list[dict], axes: list[str]) -> list[str]:
    first = ["run", *axes, "status", "epochs_done", "epochs"]
    rest = []
    for r in rows:
        for k in r:
            if k not in first and k not in rest:
                rest.append(k)
    return first + sorted(rest, key=lambda k: (k == "seconds", k))


def write_results(path: str, rows: list[dict], axes: list[str]) -> None:
    write_csv(path, columns(rows, axes), rows)


def metric_of(rows: list[dict]) -> tuple[str, bool]:
    """("final_test_accuracy", True) or ("final_test_perplexity", False) etc."""
    for r in rows:
        for k in r:
            if k.startswith("final_") and k.endswith(("_accuracy", "_perplexity")):
                return k, k.endswith("_accuracy")
    return "", True


def _group(rows, keys):
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return groups


def _mean_std(values):
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def best_settings(rows: list[dict], axes: list[str]) -> list[dict]:
    """Per optimizer (or for the whole grid without an optimizer axis): the setting of the
    other axes (seeds pooled) with the best mean final metric."""
    metric, higher = metric_of(rows)
    done = [r for r in rows if r.get("status") == "done"]
    if not metric or not done:
        return []
    setting_axes = [a for a in axes if a != "seed"]
    by_opt = _group(done, ["optimizer"] if "optimizer" in axes else [])
    out = []
    for (opt, *_), group in sorted(by_opt.items(), key=lambda kv: str(kv[0])):
        candidates = []
        for values, runs in _group(group, setting_axes).items():
            mean, std = _mean_std([r[metric] for r in runs])
            if not math.isnan(mean):
                candidates.append((mean, std, len(runs), dict(zip(setting_axes, values))))
        if candidates:
            mean, std, n, setting = (max if higher else min)(candidates, key=lambda c: c[0])
            out.append({"optimizer": opt, "setting": setting, "mean": mean, "std": std,
                        "seeds": n})
    return out


def write_summary(path_md: str, path_png: str, rows: list[dict], axes: list[str],
                  title: str) -> None:
    metric, higher = metric_of(rows)
    best = best_settings(rows, axes)
    lines = [f"# {title}", "",
             f"{len(rows)} runs; {sum(r.get('status') == 'done' for r in rows)} done. Metric: "
             f"`{metric or '-'}` at the last epoch ({'higher' if higher else 'lower'} is "
             f"better), mean +- standard deviation over seeds.", ""]
    if best:
        lines += ["## Best setting per optimizer", "",
                  "| optimizer | setting | mean | std | seeds |", "|---|---|---|---|---|"]
        for b in best:
            setting = ", ".join(f"{k}={v}" for k, v in b["setting"].items() if k != "optimizer")
            lines.append(f"| {b['optimizer'] or '-'} | {setting or '-'} | {b['mean']:.4f} | "
                         f"{b['std']:.4f} | {b['seeds']} |")
        lines.append("")
    lines += ["## All runs", "", f"| run | status | {metric or 'metric'} |", "|---|---|---|"]
    for r in rows:
        value = r.get(metric)
        shown = f"{value:.4f}" if isinstance(value, (int, float)) else "-"
        lines.append(f"| {r['run']} | {r.get('status', '')} | {shown} |")
    lines += ["", f"![summary]({path_png.rsplit('/', 1)[-1]})", ""]
    with atomic_write(path_md, text=True, fsync=False) as f:
        f.write("\n".join(lines))
    _plot(path_png, rows, axes, metric, higher, best, title)


def numeric_axes(rows: list[dict], axes: list[str]) -> list[str]:
    """The grid axes (seed aside) whose values are numbers and that take at least two values."""
    out = []
    for a in axes:
        values = {r.get(a) for r in rows}
        if a != "seed" and len(values) > 1 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out.append(a)
    return out


def _plot(path: str, rows, axes, metric, higher, best, title) -> None:
    from matplotlib.figure import Figure

    done = [r for r in rows if r.get("status") == "done" and metric in r]
    two = numeric_axes(done, axes)[:2]
    optimizers = sorted({str(r.get("optimizer", "")) for r in done})
    if len(two) == 2 and done:
        fig = Figure(figsize=(4.2 * len(optimizers) + 0.8, 3.8))
        fig.subplots_adjust(left=0.1, right=0.95, bottom=0.16, top=0.82, wspace=0.45)
        axs = fig.subplots(1, len(optimizers), squeeze=False)[0]
        ys, xs = sorted({r[two[0]] for r in done}), sorted({r[two[1]] for r in done})
        grids = {opt: [[_mean_std([r[metric] for r in done if r[two[0]] == y and r[two[1]] == x
                                   and str(r.get("optimizer", "")) == opt])[0] for x in xs]
                        for y in ys] for opt in optimizers}
        finite = [v for g in grids.values() for row in g for v in row if not math.isnan(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        for ax, opt in zip(axs, optimizers):                  # one colour scale for all
            grid = grids[opt]
            im = ax.imshow(grid, origin="lower", cmap="viridis" if higher else "viridis_r",
                           aspect="auto", vmin=lo, vmax=hi)
            ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs], rotation=45)
            ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
            ax.set(xlabel=two[1], ylabel=two[0], title=f"{opt}: {metric}" if opt else metric)
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    if not math.isnan(v):
                        light = (v - lo) / (hi - lo or 1) > 0.6 if higher else \
                            (v - lo) / (hi - lo or 1) < 0.4
                        ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                                color="black" if light else "white")
            fig.colorbar(im, ax=ax, shrink=0.85)
    else:
        fig = Figure(figsize=(max(4.5, 1.2 * len(best) + 2), 3.6))
        fig.subplots_adjust(left=0.15, right=0.97, bottom=0.2, top=0.82)
        ax = fig.subplots()
        names = [str(b["optimizer"] or "all") for b in best]
        ax.bar(names, [b["mean"] for b in best], yerr=[b["std"] for b in best], capsize=4,
               color="C0")
        ax.set(ylabel=metric, title="best setting per optimizer (mean +- std over seeds)")
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    with atomic_write(path, fsync=False) as f:
        f.write(buffer.getvalue())
