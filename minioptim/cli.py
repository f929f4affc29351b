"""The ``minioptim`` command (also ``python -m minioptim``)."""
from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(steps=args.steps, seed=args.seed, lr=args.lr, print_every=args.print_every)
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
