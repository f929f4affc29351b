"""``minioptim sweep SPEC.json --out DIR``: a grid of training runs on Dask distributed."""
from __future__ import annotations

import os

from .options import (CliError, add_cluster, add_common, check_cluster, output_folder,
                      select_backend)


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="run a grid of training runs on Dask (a local cluster by default)",
        description="Run every point of a grid of 'minioptim train' settings as one Dask task. "
                    "SPEC.json: {\"train\": {fixed settings}, \"grid\": {setting: [values]}}, "
                    "names as train's options with underscores (weight_decay). Writes DIR/"
                    "runs/<id>/ (each run's folder, as minioptim train writes it), DIR/"
                    "results.csv (one row per run, rewritten as runs finish), DIR/summary.md "
                    "and DIR/summary.png. Calling it again skips finished runs and resumes "
                    "unfinished ones from their checkpoints.")
    p.add_argument("spec", metavar="SPEC.json", help="the sweep's settings and grid")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the sweep")
    add_cluster(p, "worker processes of the local cluster (default: one per core, at most "
                   "one per run)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common(p)
    p.set_defaults(run=run_command)


def run_command(args) -> int:
    check_cluster(args)
    if not os.path.isfile(args.spec):
        raise CliError(f"{args.spec}: no such file (the sweep's spec, JSON)")
    out = output_folder(args.out, "--out")
    select_backend(args)
    import autodiff as ad

    from ..sweeps import SweepSpec, run_sweep
    try:
        spec = SweepSpec.read(args.spec)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    spec.train.setdefault("backend", ad.get_backend())
    try:
        run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler,
                  progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"interrupted; finished runs are in {out}/results.csv. Run the same command again "
              f"to continue (finished runs are skipped, the others resume from their "
              f"checkpoints).")
        return 130
    print(f"wrote {out}/: results.csv, summary.md, summary.png, runs/")
    return 0
