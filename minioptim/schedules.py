r"""Learning-rate schedules: the recipes of the talk's table of LLM training runs.

A schedule is a callable ``schedule(t) -> float``: t = 0, 1, 2, ... is the number of optimizer
steps taken so far, the value is the lr eta_t of the next step (t = 0: the first step).

    recipe (talk's table)                 here
    warmup, cosine to 10% (GPT-3, LLaMA)  warmup_cosine(peak, warmup_steps, total_steps, 0.1)
    linear decay to 10% (Galactica)       sequence([(linear_warmup(peak, w), w),
                                                    (linear_decay(peak, n, floor_ratio=0.1), None)])
    inverse square root (T5, PaLM)        inverse_sqrt(peak, warmup_steps)
    none (the talk's ResNet/LSTM runs)    constant(lr)

``LRScheduler(opt, schedule)`` writes the values into ``opt.param_groups[i]["lr"]``; call
``sched.step()`` after each ``opt.step()``, as in PyTorch. Schedules give *absolute* lrs, as in
optax: the optimizer's own lr is overwritten (PyTorch's LambdaLR multiplies it instead).
"""
from __future__ import annotations

import bisect
import math
import numbers
import operator


class Schedule:
    """A schedule: ``schedule(t)`` checks t (an integer >= 0) and returns a Python float."""

    def __init__(self, fn, description: str):
        self._fn, self._description = fn, description

    def __call__(self, t) -> float:
        return float(self._fn(_index(t, "step")))

    def __repr__(self) -> str:
        return self._description


def constant(lr) -> Schedule:
    """eta_t = lr: no schedule (the talk's ResNet/LSTM runs). optax: ``optax.constant_schedule``."""
    lr = _lr(lr, "lr")
    return Schedule(lambda t: lr, f"constant({lr})")


def linear_warmup(peak, warmup_steps, start=0.0) -> Schedule:
    """eta_t = start + (peak - start) * t / warmup_steps for t < warmup_steps, then peak.

    Step 0 gives ``start`` (0 by default: the first update is taken with lr 0, as in optax);
    step ``warmup_steps`` is the first at the peak. optax: ``optax.linear_schedule(start, peak,
    warmup_steps)``, identical. PyTorch: ``LinearLR(opt, start/peak, 1.0, warmup_steps)`` with
    the optimizer's lr = peak, but LinearLR needs start > 0; use LambdaLR for start = 0.
    """
    peak, n, start = _lr(peak, "peak"), _count(warmup_steps, "warmup_steps"), _lr(start, "start")
    if start > peak:
        raise ValueError(f"linear_warmup: start must be <= peak, got start={start} > peak={peak}")
    # min(): rounding in start + (peak - start) * x may land one ulp above peak.
    return Schedule(lambda t: min(peak, start + (peak - start) * (t / n)) if t < n else peak,
                    f"linear_warmup(peak={peak}, warmup_steps={n}, start={start})")


def cosine_decay(peak, decay_steps, floor=None, *, floor_ratio=None) -> Schedule:
    """eta_t = floor + (peak - floor) * (1 + cos(pi * t / decay_steps)) / 2, then floor.

    The floor is absolute (``floor``, default 0) or a fraction of the peak (``floor_ratio=0.1``:
    "cosine decay to 10%", GPT-3, BLOOM, LLaMA); give at most one. optax:
    ``optax.cosine_decay_schedule(peak, decay_steps, alpha=floor_ratio)``, identical. PyTorch:
    ``CosineAnnealingLR(opt, T_max=decay_steps, eta_min=floor)`` with lr = peak agrees up to
    T_max, but then climbs back up the cosine; here the lr stays at the floor.
    """
    peak, n = _lr(peak, "peak"), _count(decay_steps, "decay_steps")
    lo = _floor(peak, floor, floor_ratio)

    def fn(t):
        if t >= n:
            return lo
        return min(peak, lo + (peak - lo) * (1 + math.cos(math.pi * t / n)) / 2)
    return Schedule(fn, f"cosine_decay(peak={peak}, decay_steps={n}, floor={lo})")


def linear_decay(peak, decay_steps, floor=None, *, floor_ratio=None) -> Schedule:
    """eta_t = peak - (peak - floor) * t / decay_steps, then floor ("linear decay to 10%":
    Galactica, with ``floor_ratio=0.1``). Floor as in ``cosine_decay``. optax:
    ``optax.linear_schedule(peak, floor, decay_steps)``; PyTorch: ``LinearLR(opt, 1.0,
    floor_ratio, decay_steps)`` with lr = peak (PyTorch speaks in factors of the lr)."""
    peak, n = _lr(peak, "peak"), _count(decay_steps, "decay_steps")
    lo = _floor(peak, floor, floor_ratio)
    return Schedule(lambda t: max(lo, peak - (peak - lo) * (t / n)) if t < n else lo,
                    f"linear_decay(peak={peak}, decay_steps={n}, floor={lo})")


def inverse_sqrt(peak, warmup_steps) -> Schedule:
    """eta_t = peak * sqrt(warmup_steps / max(t, warmup_steps)): constant for the first
    warmup_steps, then proportional to 1/sqrt(t) (T5, PaLM; at 4 * warmup_steps it is peak/2).

    T5's "rsqrt" schedule 1/sqrt(max(t, 10^4)) is ``inverse_sqrt(0.01, 10_000)``. fairseq's
    inverse_sqrt warms up linearly instead of holding the peak: put a ``linear_warmup`` in front
    with ``sequence``. No optax built-in; PyTorch: ``LambdaLR(opt, lambda t: math.sqrt(w /
    max(t, w)))`` with lr = peak.
    """
    peak, n = _lr(peak, "peak"), _count(warmup_steps, "warmup_steps")
    return Schedule(lambda t: peak * math.sqrt(n / max(t, n)),
                    f"inverse_sqrt(peak={peak}, warmup_steps={n})")


def sequence(pieces) -> Schedule:
    """Run schedules one after another: ``sequence([(a, n_a), (b, n_b), (c, None)])`` follows a
    for n_a steps, then b for n_b steps, then c for ever. Each schedule counts its own steps
    from 0, so b sees t - n_a. Only the last entry has None.

    optax: ``optax.join_schedules([a, b, c], boundaries=[n_a, n_a + n_b])`` (absolute
    boundaries rather than durations), identical. PyTorch: ``SequentialLR`` with milestones.
    """
    pieces = list(pieces)
    if not pieces:
        raise ValueError("sequence needs at least one (schedule, steps) pair")
    starts, begin = [], 0
    for i, piece in enumerate(pieces):
        if not (isinstance(piece, tuple) and len(piece) == 2 and callable(piece[0])):
            raise TypeError(f"sequence: entry {i} must be a (schedule, steps) pair, got {piece!r}")
        starts.append(begin)
        if i == len(pieces) - 1:
            if piece[1] is not None:
                raise ValueError(f"sequence: the steps of the last entry must be None (it runs "
                                 f"to the end of training), got {piece[1]!r}")
        else:
            begin += _count(piece[1], f"steps of sequence entry {i}")

    def fn(t):
        i = bisect.bisect_right(starts, t) - 1     # at a boundary the next schedule starts, at 0
        return pieces[i][0](t - starts[i])
    return Schedule(fn, f"sequence({pieces!r})")


def warmup_cosine(peak, warmup_steps, total_steps, floor_ratio=0.1) -> Schedule:
    """Linear warmup from 0 to peak over warmup_steps, then cosine decay to floor_ratio * peak
    over the remaining total_steps - warmup_steps (GPT-3, BLOOM, LLaMA: floor_ratio = 0.1).
    Step 0 gives 0, step warmup_steps gives peak, step total_steps and after give the floor.
    optax: ``optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps,
    decay_steps=total_steps, end_value=floor_ratio * peak)``, identical."""
    w, total = _count(warmup_steps, "warmup_steps"), _count(total_steps, "total_steps")
    if total <= w:
        raise ValueError(f"warmup_cosine: total_steps must be > warmup_steps, got "
                         f"total_steps={total} <= warmup_steps={w}")
    return sequence([(linear_warmup(peak, w), w),
                     (cosine_decay(peak, total - w, floor_ratio=floor_ratio), None)])


class LRScheduler:
    """Sets ``group["lr"] = schedule(t)`` in every parameter group of ``optimizer`` (one
    schedule for all groups, or a list with one per group): for t = 0 at construction, and
    for t + 1 at each ``step()``. Use ``opt.step(); sched.step()``. ``last_lr`` is the list
    of lrs set last; ``state_dict()`` holds the step counter t, so that ``load_state_dict``
    on a scheduler built with the same schedules resumes the run exactly."""

    def __init__(self, optimizer, schedule):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"LRScheduler needs an optimizer with param_groups, got "
                            f"{type(optimizer).__name__}")
        self.per_group = isinstance(schedule, (list, tuple))
        schedules = list(schedule) if self.per_group else [schedule]
        for i, s in enumerate(schedules):
            if not callable(s):
                raise TypeError(f"schedule {i} is a {type(s).__name__}: a schedule is a callable "
                                f"step -> lr")
        self.optimizer, self.schedules, self.t = optimizer, schedules, 0
        self.last_lr: list[float] = []
        self._apply()

    def step(self) -> None:
        """Advance t by one and set the lr of the next optimizer step."""
        self.t += 1
        self._apply()

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        # checked at every step, not once: groups can be added to the optimizer later
        if self.per_group and len(self.schedules) != len(groups):
            raise ValueError(f"the schedule list has {len(self.schedules)} schedules, the "
                             f"optimizer has {len(groups)} parameter groups; give one per group")
        schedules = self.schedules if self.per_group else self.schedules * len(groups)
        lrs = [float(s(self.t)) for s in schedules]
        for i, lr in enumerate(lrs):           # a hand-written lambda can go wrong; say where
            if not (math.isfinite(lr) and lr >= 0):
                raise ValueError(f"schedule {i} gave lr={lr} at step {self.t}; an lr must be "
                                 f"finite and >= 0")
        for group, lr in zip(groups, lrs):     # all values checked before any is written
            group["lr"] = lr
        self.last_lr = lrs

    def state_dict(self) -> dict:
        return {"step": self.t}

    def load_state_dict(self, state_dict: dict) -> None:
        self.t = _index(state_dict["step"], "step")
        self._apply()

    def __repr__(self) -> str:
        return f"LRScheduler(t={self.t}, last_lr={self.last_lr}, schedules={self.schedules})"


def _integer(n, name: str, least: int) -> int:
    try:
        n = operator.index(n)                 # 100.0 is refused: a step count is an integer
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {n!r}") from None
    if n < least:
        raise ValueError(f"{name} must be >= {least}, got {n}")
    return n


def _index(t, name: str) -> int:
    return _integer(t, name, 0)


def _count(n, name: str) -> int:
    return _integer(n, name, 1)


def _lr(value, name: str) -> float:
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _floor(peak: float, floor, floor_ratio) -> float:
    if floor is not None and floor_ratio is not None:
        raise ValueError("give floor (an absolute lr) or floor_ratio (a fraction of peak), "
                         "not both")
    if floor_ratio is not None:
        if not (isinstance(floor_ratio, numbers.Real) and 0 <= floor_ratio <= 1):
            raise ValueError(f"floor_ratio must be in [0, 1], got {floor_ratio!r}")
        return peak * float(floor_ratio)
    floor = _lr(0.0 if floor is None else floor, "floor")
    if floor > peak:
        raise ValueError(f"floor must be <= peak, got floor={floor} > peak={peak}")
    return floor


__all__ = ["Schedule", "constant", "linear_warmup", "cosine_decay", "linear_decay",
           "inverse_sqrt", "sequence", "warmup_cosine", "LRScheduler"]
