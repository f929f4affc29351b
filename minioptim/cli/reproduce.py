"""``minioptim reproduce NAME``: one figure of the talk, with its data, into a folder."""
from __future__ import annotations

import argparse
import os
import time

from .options import SEED, add_common, output_folder, select_backend


def register(sub) -> None:
    from ..experiments import EXPERIMENTS

    listing = "\n".join(f"  {e.name:12s} {e.summary}" for e in EXPERIMENTS.values())
    p = sub.add_parser(
        "reproduce", help="reproduce a figure of the talk (see 'minioptim reproduce --help')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reproduce a figure of the talk: writes the figure (PNG) and its data (CSV/"
                    "JSON) and prints where.\n\nfigures:\n" + listing)
    p.add_argument("figure", choices=list(EXPERIMENTS), metavar="FIGURE",
                   help="one of: " + ", ".join(EXPERIMENTS))
    p.add_argument("--out", default="minioptim-out",
                   help="folder for the outputs (default ./minioptim-out)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed, >= 0 (default 0)")
    add_common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..experiments import EXPERIMENTS

    out = output_folder(args.out)
    select_backend(args)
    experiment = EXPERIMENTS[args.figure].load()
    start = time.perf_counter()
    print(f"reproducing '{args.figure}' (seed {args.seed}) into {out}")
    written = experiment.reproduce(out, seed=args.seed, progress=print)
    print(f"done in {time.perf_counter() - start:.1f} s; wrote:")
    for label, path in written.items():
        print(f"  {label:8s} {os.path.abspath(path)}")
    return 0
