"""``minioptim reproduce NAME``: one figure of the talk, with its data, into a folder."""
from __future__ import annotations

import argparse
import os
import time

from .options import SEED, add_cluster, add_common, check_cluster, output_folder, select_backend


def register(sub) -> None:
    from ..experiments import EXPERIMENTS

    listing = "\n".join(f"  {e.name:15s} claim {e.claim}: {e.summary}\n{'':18s}({e.times})"
                        for e in EXPERIMENTS.values())
    p = sub.add_parser(
        "reproduce", help="reproduce a figure of the talk (see 'minioptim reproduce --help')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reproduce a figure of the talk: writes NAME.png, its data (NAME.csv, one "
                    "row per run and epoch or step) and NAME_summary.json (the numbers the "
                    "figure states), and prints where. 'all' runs every figure.\n\npresets:\n"
                    "  smoke  offline data, seconds (what the tests run)\n"
                    "  small  offline data, a CPU, 3 seeds: minutes to an hour (times below)\n"
                    "  paper  the papers' settings on CIFAR-10 / Penn Treebank / Multi30k "
                    "(downloaded; "
                    "hours to weeks: use a Dask cluster with GPUs, --scheduler)\n\n"
                    "figures:\n" + listing)
    p.add_argument("figure", choices=[*EXPERIMENTS, "all"], metavar="FIGURE",
                   help="one of: " + ", ".join(EXPERIMENTS) + ", or all")
    p.add_argument("--preset", choices=("smoke", "small", "paper"), default="small",
                   help="the scale of the runs (default small)")
    p.add_argument("--out", default="minioptim-out",
                   help="folder for the outputs (default ./minioptim-out)")
    p.add_argument("--seed", type=SEED, default=0, help="first random seed, >= 0 (default 0)")
    add_cluster(p, "Dask worker processes for the training runs (default: one per core; the "
                   "smoke preset runs in this process unless given)")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="data folder for CIFAR-10 / PTB / Multi30k (default $MINIOPTIM_DATA, else "
                        "~/.cache/minioptim)")
    add_common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..experiments import EXPERIMENTS

    check_cluster(args)
    out = output_folder(args.out)
    select_backend(args)
    if args.data_root is not None:
        os.environ["MINIOPTIM_DATA"] = os.path.abspath(args.data_root)
    names = list(EXPERIMENTS) if args.figure == "all" else [args.figure]
    for name in names:
        experiment = EXPERIMENTS[name].load()
        start = time.perf_counter()
        print(f"reproducing '{name}' (preset {args.preset}, seed {args.seed}) into {out}")
        written = experiment.reproduce(out, seed=args.seed, progress=print, preset=args.preset,
                                       workers=args.workers, scheduler=args.scheduler)
        print(f"done in {time.perf_counter() - start:.1f} s; wrote:")
        for label, path in written.items():
            print(f"  {label:8s} {os.path.abspath(path)}")
    return 0
