"""What the trainer costs on top of a bare hand-written loop, and what prefetching gives back.

    python benchmarks/trainer_overhead.py [--steps 20] [--rounds 3]

The loops compared, each for a number of steps and one evaluation batch:

    bare           the loop a student writes: for x, y in loader: zero_grad, loss, backward,
                   step, loss.item(); the loader makes each batch when asked
    bare+prefetch  the same loop with DataLoader(prefetch=True): the next batch is made on a
                   thread while this one trains
    trainer        minioptim.training.Trainer with its output folder: progress bar, gradient
                   norm, schedule, steps.csv, and at the epoch's end metrics.csv, curves.png and
                   checkpoint.npz

On a shared machine the time of a ResNet-20 step varies by 10-20% from one run to the next,
more than the bookkeeping costs, so the bookkeeping is measured where it is not drowned: on a
model of ResNet-20's parameter count (269,722) that computes almost nothing (one linear layer
of the flattened image), with epochs of two lengths. Trainer minus bare+prefetch is then
a + b * steps: ``b`` the bookkeeping of a step, ``a`` that of an epoch's end. Set against a bare
ResNet-20 step (CIFAR-shaped data, batch 128, crops and flips, SGD with momentum), this gives
the trainer's cost on a CIFAR-10 epoch (391 steps). Target: at most 5%. The side-by-side
ResNet-20 times (trainer and bare loops, alternating rounds) are printed too, for information.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from train_step import report_machine  # noqa: E402


def cifar_shaped(n: int = 2048, seed: int = 0):
    import numpy as np

    from minioptim.data import ImageDataset, ImageSplit

    rng = np.random.default_rng(seed)

    def split(k):
        return ImageSplit(rng.integers(0, 256, (k, 3, 32, 32), dtype=np.uint8),
                          rng.integers(0, 10, k))
    return ImageDataset("cifar-shaped", split(n), split(256), tuple("0123456789"))


def _model(kind: str):
    from autodiff import nn
    from minioptim.models import resnet

    if kind == "resnet20":
        return resnet(20)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 87))    # 267,351 parameters


def bare(ds, steps: int, prefetch: bool, kind: str = "resnet20") -> float:
    import autodiff as ad
    import minioptim as mo
    from autodiff.nn import functional as F

    ad.manual_seed(0)
    model = _model(kind)
    opt = mo.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train, test = ds.loaders(batch_size=128, seed=0, prefetch=prefetch)
    start = time.perf_counter()
    for i, (x, y) in enumerate(train):
        if i == steps:
            break
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    model.eval()
    with ad.no_grad():
        x, y = next(iter(test))
        F.cross_entropy(model(x), y).item()
    return time.perf_counter() - start


def trainer(ds, steps: int, folder: str, kind: str = "resnet20") -> float:
    import autodiff as ad
    import minioptim as mo
    from minioptim.training import TrainConfig, Trainer

    ad.manual_seed(0)
    model = _model(kind)
    config = TrainConfig(model=kind, dataset=ds.name, optimizer="sgd", lr=0.05,
                         momentum=0.9, epochs=1, batch_size=128, train_batches=steps,
                         eval_batches=1, log_steps=True)
    run = Trainer(config, tempfile.mkdtemp(dir=folder), data=ds, model=model,
                  optimizer=mo.SGD(model.parameters(), lr=0.05, momentum=0.9),
                  progress=True, printer=lambda *a: None)
    start = time.perf_counter()
    run.fit()
    return time.perf_counter() - start


def bookkeeping(ds, folder: str, rounds: int, short: int = 10, long: int = 60):
    """(a, b) in seconds: the trainer's cost at an epoch's end and per step, from the tiny
    model at two epoch lengths; medians over ``rounds`` alternating rounds."""
    extra = {short: [], long: []}
    for _ in range(rounds):
        for n in (short, long):
            base = bare(ds, n, prefetch=True, kind="tiny")
            extra[n].append(trainer(ds, n, folder, kind="tiny") - base)
    e_short, e_long = statistics.median(extra[short]), statistics.median(extra[long])
    b = (e_long - e_short) / (long - short)
    return e_short - b * short, b


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="ResNet-20 steps per timed loop")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    report_machine(os.cpu_count() or 1)
    ds = cifar_shaped()
    times = {"bare": [], "bare+prefetch": [], "trainer": []}
    with tempfile.TemporaryDirectory() as folder:
        trainer(ds, 2, folder)                          # warm-up: imports, first allocations
        a, b = bookkeeping(ds, folder, args.rounds)
        print(f"bookkeeping: {b * 1e3:.2f} ms per step, {a * 1e3:.0f} ms at an epoch's end "
              f"(tiny model of ResNet-20's size)", flush=True)
        for r in range(args.rounds):
            times["bare"].append(bare(ds, args.steps, prefetch=False))
            times["bare+prefetch"].append(bare(ds, args.steps, prefetch=True))
            times["trainer"].append(trainer(ds, args.steps, folder))
            line = ", ".join(f"{k} {v[-1] / args.steps * 1e3:.0f} ms/step"
                             for k, v in times.items())
            print(f"round {r + 1}: {line}", flush=True)
    step = statistics.median(times["bare+prefetch"]) / args.steps
    epoch = 391                                        # CIFAR-10: 50,000 / 128
    print(f"ResNet-20 step (bare+prefetch, median): {step * 1e3:.0f} ms; the trainer's "
          f"bookkeeping on a CIFAR-10 epoch: {(a + b * epoch) / (step * epoch):.2%} "
          f"(target <= 5%); on a {args.steps}-step epoch: "
          f"{(a + b * args.steps) / (step * args.steps):.2%}")
    ratio = [t / p for t, p in zip(times["trainer"], times["bare+prefetch"])]
    gain = [p / b_ for p, b_ in zip(times["bare+prefetch"], times["bare"])]
    print(f"side by side (noisy), median of {args.rounds} rounds: trainer / bare+prefetch "
          f"{statistics.median(ratio):.3f}; bare+prefetch / bare {statistics.median(gain):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
