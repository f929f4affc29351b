"""The engine's smoke test as a student would run it: gradcheck a network, then train it.

Two interleaved spirals (a classic that no linear model separates) are drawn from the seed;
a 2-16-2 tanh network is trained by full-batch gradient descent on the cross-entropy. The update
is written out by hand here (x <- x - eta * grad); minioptim's optimizers do this in general.
"""
from __future__ import annotations

import math

import numpy as np

import autodiff as ad

from .errors import NonFiniteLossError


def two_spirals(n_per_class: int = 200, noise: float = 0.05, turns: float = 1.0, seed: int = 0):
    """Points (2n, 2) float32 and labels (2n,) int64 of two spirals of `turns` turns each."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n_per_class)) * turns * 2 * math.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * math.pi)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n_per_class, 2))
    y = np.repeat([0, 1], n_per_class)
    return x.astype(np.float32), y.astype(np.int64)


def init_params(hidden: int = 16):
    def layer(n_in, n_out):
        bound = 1 / math.sqrt(n_in)
        w = (ad.rand(n_in, n_out) * 2 - 1) * bound
        b = (ad.rand(n_out) * 2 - 1) * bound
        return ad.Tensor(w, requires_grad=True), ad.Tensor(b, requires_grad=True)

    return (*layer(2, hidden), *layer(hidden, 2))


def forward(x, w1, b1, w2, b2):
    return (x @ w1 + b1).tanh() @ w2 + b2


def cross_entropy(logits, labels):
    n = logits.shape[0]
    return -logits.log_softmax(axis=1)[ad.arange(n), labels].mean()


def run_demo(steps: int = 1000, seed: int = 0, lr: float = 2.0, print_every: int = 100,
             out=print) -> dict:
    ad.manual_seed(seed)
    x_host, y_host = two_spirals(seed=seed)
    x, y = ad.Tensor(x_host), ad.Tensor(y_host)
    params = init_params()
    out(f"backend: {ad.get_backend()}; data: two spirals, {len(y_host)} points")

    small = x[:8], y[:8]
    ad.gradcheck(lambda w1, b1, w2, b2: cross_entropy(forward(small[0], w1, b1, w2, b2), small[1]),
                 *params)
    out("gradcheck: backward agrees with finite differences (float64) for all 4 parameters")

    history = []
    for step in range(steps + 1):
        loss = cross_entropy(forward(x, *params), y)
        history.append(loss.item())
        if not math.isfinite(history[-1]):
            raise NonFiniteLossError(step, history[-1], f"the step size {lr:g} is too large")
        if step % print_every == 0 or step == steps:
            out(f"step {step:4d}  loss {history[-1]:.4f}")
        if step == steps:
            break
        for p in params:
            p.zero_grad()
        loss.backward()
        with ad.no_grad():
            for p in params:
                p.data -= lr * p.grad
    with ad.no_grad():
        pred = forward(x, *params).numpy().argmax(axis=1)
    accuracy = float((pred == y_host).mean())
    out(f"train accuracy {accuracy:.3f} (loss {history[0]:.3f} -> {history[-1]:.3f})")
    return {"loss": history, "accuracy": accuracy}
