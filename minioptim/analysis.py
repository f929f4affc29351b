r"""The talk's claims as instruments: a scale-freeness check, a local-smoothness probe with an
(L0, L1) fit, and a recorder of what an optimizer does to the weights.

- ``scale_free_check``: run an optimizer on a gradient oracle g(x) and on D g(x) (every coordinate
  multiplied by a positive constant); a scale-free algorithm produces the same iterates.
- ``SmoothnessProbe``: along training, L_t = ||grad F(x_mid) - grad F(x_t)|| / ||x_mid - x_t|| with
  x_mid = (x_t + x_{t+1}) / 2, for all parameters and per layer, next to ||grad F(x_t)||, on the
  same batch; ``fit_l0_l1`` finds the tightest line L <= L0 + L1 ||grad F|| over the pairs.
- ``StepRecorder``: the effective per-coordinate step |x_{t+1} - x_t| / |g_t|, the ratio
  ||x_{t+1} - x_t|| / ||x_t||, and the gradient norm before and after clipping.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import autodiff as ad
from autodiff import backend

from .clipping import global_norm
from .optimizers.base import Point


def scale_free_check(make_optimizer, grad, x0, scale, steps: int = 50,
                     relative: bool = True) -> float:
    """The largest deviation between the iterates on ``grad`` and on ``scale * grad``.

    Args:
        make_optimizer: ``params -> Optimizer`` (e.g. ``lambda p: mo.Adam(p, lr=0.1, eps=0)``).
        grad: the oracle, device array x -> device array g(x).
        x0: the starting point (host or device array). scale: positive numbers, one per
            coordinate (or one for all).
        relative: divide each deviation by 1 + |x_t| (so the answer is comparable across scales).

    A scale-free algorithm returns ~1e-15 in float64 (with eps = 0); SGD returns about how far the
    scaled run drifted.
    """
    x0 = backend.to_numpy(backend.asarray(x0)).astype(np.float64)
    d = np.broadcast_to(np.asarray(backend.to_numpy(backend.asarray(scale)), dtype=np.float64),
                        x0.shape)
    if not (d > 0).all():
        raise ValueError("scale_free_check: every scale must be > 0")
    d_dev = backend.asarray(d)
    plain, scaled = Point(x0), Point(x0)
    opt_a, opt_b = make_optimizer([plain]), make_optimizer([scaled])
    worst = 0.0
    for _ in range(steps):
        plain.grad = grad(plain.data)
        scaled.grad = d_dev * grad(scaled.data)
        opt_a.step()
        opt_b.step()
        a, b = backend.to_numpy(plain.data), backend.to_numpy(scaled.data)
        dev = np.abs(a - b) / (1 + np.abs(a)) if relative else np.abs(a - b)
        worst = max(worst, float(dev.max()) if dev.size else 0.0)
    return worst


# -- local smoothness ---------------------------------------------------------------------------

@dataclass
class SmoothnessRecord:
    step: int
    loss: float | None
    grad_norm: dict = field(default_factory=dict)   # name -> ||grad F(x_t)|| ("all" included)
    smoothness: dict = field(default_factory=dict)  # name -> L_t


class SmoothnessProbe:
    r"""Measures L_t = ||grad F(x_mid) - grad F(x_t)|| / ||x_mid - x_t|| along training.

    Use it in place of ``optimizer.step()``:

        probe = SmoothnessProbe(optimizer, closure, groups={"conv1": [...], "fc": [...]})
        for batch in data:
            loss = probe.step(batch)     # closure(batch): zero grads, loss, backward, return loss

    Each call evaluates the gradient at x_t (through ``closure``), takes the optimizer's step to
    x_{t+1}, moves the weights to x_mid = (x_t + x_{t+1}) / 2, evaluates the gradient there on the
    same batch, and puts the weights back at x_{t+1}: so training is unchanged, at the price of a
    second forward/backward per probed step (``every`` probes one step in that many).

    ``groups`` defaults to one group per optimizer parameter group ("group 0", ...); "all" is
    always measured. ``closure`` may also be a function of no argument. For a problem without
    autodiff, pass ``grad_fn=problem.grad`` (x -> grad F(x)) for an optimizer of one parameter
    whose ``.data`` holds x.

    Pass ``model=`` for a model with buffers (batch norm): the second forward runs in training
    mode and would update the running statistics a second time; with the model given they are
    put back, and the random generator is rewound so dropout draws the same masks, so a probed
    run is bit-identical to an unprobed one. (The trainer's ``Smoothness`` callback does this
    by itself.)
    """

    def __init__(self, optimizer, closure=None, groups: dict | None = None, every: int = 1,
                 grad_fn=None, model=None):
        if (closure is None) == (grad_fn is None):
            raise ValueError("SmoothnessProbe needs exactly one of closure (autodiff models) "
                             "or grad_fn (problems: x -> grad F(x))")
        self.optimizer, self.closure, self.grad_fn, self.every = optimizer, closure, grad_fn, every
        self.model = model
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        if grad_fn is not None and len(self.params) != 1:
            raise ValueError("SmoothnessProbe with grad_fn needs an optimizer of one parameter "
                             "(x); for several, pass a closure that sets their .grad")
        if groups is None:
            groups = {f"group {i}": g["params"] for i, g in enumerate(optimizer.param_groups)}
        known = {id(p) for p in self.params}
        for name, ps in groups.items():
            if any(id(p) not in known for p in ps):
                raise ValueError(f"SmoothnessProbe: group '{name}' has a parameter that the "
                                 f"optimizer does not update")
        self.groups = {"all": self.params, **groups}
        self.records: list[SmoothnessRecord] = []
        self.t = 0

    def _gradients(self, batch):
        if self.grad_fn is not None:
            self.params[0].grad = self.grad_fn(self.params[0].data)
            return None
        loss = self.closure(batch) if batch is not None else self.closure()
        return None if loss is None else float(getattr(loss, "item", lambda: loss)())

    def _grads_by_group(self):
        return {name: [p.grad if p.grad is not None else p.data * 0 for p in ps]
                for name, ps in self.groups.items()}

    def step(self, batch=None):
        rng = ad.get_rng_state()                   # the second pass draws the same masks
        loss = self._gradients(batch)
        self.before_step(loss)
        self.optimizer.step()
        self.after_step(lambda: self._again(batch, rng))
        return loss

    def _again(self, batch, rng) -> None:
        """The gradient of the same batch at the current weights, leaving no trace: the
        random generator (dropout) and the model's buffers (batch-norm statistics, which a
        forward in training mode updates) are put back as they were."""
        after = ad.get_rng_state()
        buffers = {k: v.copy() for k, v in self.model.named_buffers()} if self.model else {}
        ad.set_rng_state(rng)
        try:
            self._gradients(batch)
        finally:
            ad.set_rng_state(after)
            if buffers:
                self.model.load_state_dict(buffers, strict=False)

    # The two halves of ``step``, for a training loop that takes the step itself (the trainer's
    # callback): ``before_step`` once the gradient at x_t is in ``.grad``, ``after_step`` once
    # the optimizer has moved the weights to x_{t+1}, with a function that puts the gradient of
    # the same batch at the current weights into ``.grad``.
    def before_step(self, loss=None) -> None:
        self._probing = self.t % self.every == 0
        self._loss = loss
        if self._probing:
            self._x_t = [p.data.copy() for p in self.params]
            self._g_t = self._grads_by_group()

    def after_step(self, gradient_again) -> SmoothnessRecord | None:
        rec = None
        if self._probing:
            x_t, g_t = self._x_t, self._g_t
            x_next = [p.data.copy() for p in self.params]
            for p, a, b in zip(self.params, x_t, x_next):
                p.data[...] = (a + b) / 2                                  # x_mid
            gradient_again()
            g_mid = self._grads_by_group()
            half_step = {id(p): (b - a) / 2 for p, a, b in zip(self.params, x_t, x_next)}
            for p, b in zip(self.params, x_next):
                p.data[...] = b                                            # back to x_{t+1}
            rec = SmoothnessRecord(self.t, self._loss)
            for name, ps in self.groups.items():
                dx = global_norm(half_step[id(p)] for p in ps)            # ||x_mid - x_t||
                dg = global_norm(a - b for a, b in zip(g_mid[name], g_t[name]))
                rec.grad_norm[name] = global_norm(g_t[name])
                rec.smoothness[name] = dg / dx if dx > 0 else math.nan
            self.records.append(rec)
            self._x_t = self._g_t = None
        self.t += 1
        return rec

    def pairs(self, group: str = "all") -> tuple[np.ndarray, np.ndarray]:
        """(||grad F(x_t)||, L_t) of every probed step, as host arrays, NaNs dropped."""
        g = np.array([r.grad_norm[group] for r in self.records])
        L = np.array([r.smoothness[group] for r in self.records])
        keep = np.isfinite(L)
        return g[keep], L[keep]

    def fit(self, group: str = "all") -> tuple[float, float]:
        return fit_l0_l1(*self.pairs(group))


def fit_l0_l1(grad_norms, smoothness) -> tuple[float, float]:
    """The tightest (L0, L1) >= 0 with L_i <= L0 + L1 ||g_i|| for every pair.

    "Tightest" minimizes the line's mean height over the data, sum_i (L0 + L1 ||g_i||), among
    lines above every point: a linear program whose optimum lies on an edge of the upper convex
    hull of the points (or is flat, L1 = 0, or through the origin, L0 = 0), so it is found by
    checking those candidates. Among equally tight lines the flat one is returned (a single
    point, for one, is bounded as tightly by (L, 0) as by (0, L/||g||)).
    """
    g = np.asarray(grad_norms, dtype=np.float64)
    L = np.asarray(smoothness, dtype=np.float64)
    if g.shape != L.shape or g.size == 0:
        raise ValueError("fit_l0_l1 needs two arrays of the same, non-zero length")
    hull = _upper_hull(sorted(zip(g.tolist(), L.tolist())))
    candidates = [(float(L.max()), 0.0)]
    positive = g > 0
    if positive.any():
        candidates.append((0.0, float((L[positive] / g[positive]).max())))
    for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
        if x2 > x1:
            slope = (y2 - y1) / (x2 - x1)
            candidates.append((y1 - slope * x1, slope))
    best, best_cost = None, math.inf
    for l0, l1 in candidates:
        feasible = l0 >= -1e-12 and l1 >= -1e-12 and bool(
            (L <= l0 + l1 * g + 1e-9 * (1 + np.abs(L))).all())
        cost = l0 + l1 * float(g.mean())
        if feasible and cost < best_cost:
            best, best_cost = (max(l0, 0.0), max(l1, 0.0)), cost
    return best


def _upper_hull(points):
    hull = []
    for p in points:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    return hull


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


# -- what a step does ----------------------------------------------------------------------------

@dataclass
class StepRecord:
    step: int
    grad_norm: float                   # ||g_t|| as the optimizer saw it (after any clipping)
    grad_norm_before_clip: float       # as computed by backward (= grad_norm without clipping)
    update_ratio: float                # ||x_{t+1} - x_t|| / ||x_t||
    effective_step: dict               # quantiles of |x_{t+1} - x_t| / |g_t| over coordinates
    per_coordinate: list | None = None  # the full |dx| / |g| arrays (keep_arrays=True)


class StepRecorder:
    """Wraps ``optimizer.step()`` and records what each step did.

        rec = StepRecorder(optimizer)
        norm = mo.clip_grad_norm(params, 1.0)        # optional
        rec.step(grad_norm_before_clip=norm)          # instead of optimizer.step()

    The effective per-coordinate step |x_{t+1,i} - x_{t,i}| / |g_{t,i}| is Adam's
    eta / (sqrt(v_i) + eps) (up to momentum), SGD's eta, ... measured, not assumed.
    """

    QUANTILES = (0.1, 0.5, 0.9)

    def __init__(self, optimizer, keep_arrays: bool = False):
        self.optimizer, self.keep_arrays = optimizer, keep_arrays
        self.records: list[StepRecord] = []

    def step(self, grad_norm_before_clip: float | None = None) -> StepRecord:
        self.before_step()
        self.optimizer.step()
        return self.after_step(grad_norm_before_clip)

    # The two halves of ``step`` for a loop that takes the step itself (the trainer's callback).
    def before_step(self) -> None:
        self._params = [p for g in self.optimizer.param_groups for p in g["params"]
                        if p.grad is not None]
        self._before = [p.data.copy() for p in self._params]
        self._grads = [backend.to_numpy(p.grad).astype(np.float64).ravel() for p in self._params]
        self._g_norm = global_norm(p.grad for p in self._params)

    def after_step(self, grad_norm_before_clip: float | None = None) -> StepRecord:
        params, before, grads, g_norm = self._params, self._before, self._grads, self._g_norm
        self._params = self._before = self._grads = None
        deltas = [(p.data - b) for p, b in zip(params, before)]
        w_norm = global_norm(before)
        moved = [backend.to_numpy(d).astype(np.float64).ravel() for d in deltas]
        g_all = np.concatenate(grads) if grads else np.zeros(0)
        d_all = np.concatenate(moved) if moved else np.zeros(0)
        nz = g_all != 0
        ratio = np.abs(d_all[nz]) / np.abs(g_all[nz])
        quant = {q: float(np.quantile(ratio, q)) if ratio.size else math.nan
                 for q in self.QUANTILES}
        rec = StepRecord(
            step=len(self.records), grad_norm=g_norm,
            grad_norm_before_clip=g_norm if grad_norm_before_clip is None
            else float(grad_norm_before_clip),
            update_ratio=global_norm(deltas) / w_norm if w_norm > 0 else math.inf,
            effective_step=quant,
            per_coordinate=[np.abs(d) / np.where(g == 0, np.nan, np.abs(g))
                            for d, g in zip(moved, grads)] if self.keep_arrays else None)
        self.records.append(rec)
        return rec
