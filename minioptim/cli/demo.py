"""``minioptim demo``: check the engine against finite differences, then train a small network."""
from __future__ import annotations

from .options import SEED, add_common, integer, number, select_backend


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="check the autodiff engine and train a small network on two spirals",
        description="Gradient-checks a 2-layer network against finite differences, then trains "
                    "it by plain gradient descent on a two-spirals set drawn from the seed "
                    "(400 points, 2 classes, one turn each); prints the loss and the accuracy.")
    p.add_argument("--steps", type=integer(0, 10 ** 7), default=1000,
                   help="gradient steps, >= 0 (default 1000)")
    p.add_argument("--lr", type=number(above=0), default=2.0, help="step size, > 0 (default 2.0)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed, >= 0 (default 0)")
    p.add_argument("--print-every", type=integer(1), default=100,
                   help="report interval in steps, >= 1 (default 100)")
    add_common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    select_backend(args)
    from ..demo import run_demo

    run_demo(steps=args.steps, seed=args.seed, lr=args.lr, print_every=args.print_every)
    return 0
