"""The ``minioptim`` command (also ``python -m minioptim``)."""
from __future__ import annotations

import argparse
import os
import sys
import time


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(steps=args.steps, seed=args.seed, lr=args.lr, print_every=args.print_every)
    return 0


def _reproduce(args) -> int:
    from .experiments import REPRODUCIBLE

    run, _ = REPRODUCIBLE[args.figure]
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        print(f"minioptim reproduce: --out {args.out} is a file; give a folder", file=sys.stderr)
        return 2
    start = time.perf_counter()
    print(f"reproducing '{args.figure}' (seed {args.seed}) into {os.path.abspath(args.out)}")
    written = run(args.out, seed=args.seed, progress=print)
    print(f"done in {time.perf_counter() - start:.1f} s; wrote:")
    for label, path in written.items():
        print(f"  {label:8s} {os.path.abspath(path)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minioptim",
        description="minioptim: optimization for deep learning, from the equations of the talk "
                    "'Understanding Adam and AdamW through Proximal Updates, Scale-Freeness, "
                    "and Relaxed Smoothness' to running code.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="check the autodiff engine and train a small network on two spirals",
        description="Gradient-checks a 2-layer network against finite differences, then trains "
                    "it by plain gradient descent on a two-spirals set drawn from the seed "
                    "(400 points, 2 classes, one turn each); prints the loss and the accuracy.")
    demo.add_argument("--steps", type=int, default=1000, help="gradient steps (default 1000)")
    demo.add_argument("--lr", type=float, default=2.0, help="step size (default 2.0)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--print-every", type=int, default=100, help="report interval in steps")
    demo.set_defaults(func=_demo)

    from .experiments import REPRODUCIBLE

    listing = "\n".join(f"  {name:12s} {desc}" for name, (_, desc) in REPRODUCIBLE.items())
    rep = sub.add_parser(
        "reproduce", help="reproduce a figure of the talk (see 'minioptim reproduce --help')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reproduce a figure of the talk: writes the figure (PNG) and its data (CSV/"
                    "JSON) and prints where.\n\nfigures:\n" + listing)
    rep.add_argument("figure", choices=sorted(REPRODUCIBLE), metavar="FIGURE",
                     help="one of: " + ", ".join(sorted(REPRODUCIBLE)))
    rep.add_argument("--out", default="minioptim-out",
                     help="folder for the outputs (default ./minioptim-out)")
    rep.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rep.set_defaults(func=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
