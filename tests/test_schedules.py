"""Learning-rate schedules: values computed by hand from the formulas, monotonicity, and the
scheduler driving a real optimizer."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from minioptim.optimizers import SGD
from minioptim.schedules import (LRScheduler, Schedule, constant, cosine_decay, inverse_sqrt,
                                 linear_decay, linear_warmup, sequence, warmup_cosine)

approx = lambda v: pytest.approx(v, rel=1e-12, abs=1e-18)  # noqa: E731


# -- values at chosen steps --------------------------------------------------------------------
def test_warmup_cosine_at_hand_computed_steps():
    s = warmup_cosine(peak=1e-3, warmup_steps=100, total_steps=1100, floor_ratio=0.1)
    assert s(0) == 0.0
    assert s(50) == approx(5e-4)
    assert s(100) == approx(1e-3)
    assert s(600) == approx(0.55e-3)      # half-way of the cosine: floor + (peak - floor) / 2
    # a quarter of the way: floor + (peak - floor) (1 + cos(pi/4)) / 2
    assert s(350) == approx(1e-4 + 9e-4 * (1 + math.sqrt(0.5)) / 2)
    assert s(1100) == approx(1e-4)
    assert s(5000) == approx(1e-4)
    assert all(type(s(t)) is float for t in (0, 50, 600, 2000))


def test_linear_warmup_starts_at_start_and_stays_at_peak():
    s = linear_warmup(2.0, 4, start=1.0)
    assert [s(t) for t in range(7)] == [approx(v) for v in (1.0, 1.25, 1.5, 1.75, 2.0, 2.0, 2.0)]
    assert linear_warmup(1.0, 10)(0) == 0.0


def test_cosine_decay_floor_absolute_or_ratio():
    s = cosine_decay(1.0, 10, floor=0.2)
    assert s(0) == 1.0 and s(5) == approx(0.6) and s(10) == 0.2 and s(99) == 0.2
    r = cosine_decay(2.0, 10, floor_ratio=0.1)
    assert r(5) == approx(0.2 + 1.8 / 2) and r(10) == approx(0.2)
    assert cosine_decay(1.0, 4)(4) == 0.0                       # default floor 0
    assert cosine_decay(1.0, 3)(1) == approx(0.75)              # (1 + cos(pi/3)) / 2


def test_linear_decay_midpoint_and_floor():
    s = linear_decay(1.0, 10, floor=0.2)
    assert s(0) == 1.0 and s(5) == approx(0.6) and s(10) == 0.2 and s(11) == 0.2
    assert linear_decay(1e-3, 100, floor_ratio=0.1)(50) == approx(0.55e-3)
    assert linear_decay(1.0, 4)(3) == approx(0.25)


def test_inverse_sqrt_is_flat_then_one_over_sqrt_t():
    s = inverse_sqrt(1e-2, 100)
    assert s(0) == s(50) == s(100) == approx(1e-2)
    assert s(400) == approx(5e-3)                               # 4 x warmup: half the peak
    assert s(10_000) == approx(1e-3)


def test_constant_and_sequence_restart_the_step_counter():
    assert constant(0.3)(0) == constant(0.3)(10**6) == 0.3
    seen = []

    def probe(t):
        seen.append(t)
        return 1.0
    s = sequence([(constant(5.0), 3), (linear_warmup(1.0, 2, start=0.5), 4), (probe, None)])
    assert [s(t) for t in range(7)] == [5.0, 5.0, 5.0, 0.5, 0.75, 1.0, 1.0]
    assert s(7) == 1.0 and s(9) == 1.0 and seen == [0, 2]       # the last one starts at 0 too
    assert isinstance(s, Schedule) and "linear_warmup" in repr(s)


# -- properties -------------------------------------------------------------------------------
peaks = st.floats(1e-6, 10.0)
steps = st.integers(1, 100_000)
ratios = st.floats(0.0, 1.0)
ts = st.lists(st.integers(0, 200_000), min_size=2, max_size=20)


@given(peaks, st.floats(0.0, 1.0), steps, ts)
def test_warmup_is_non_decreasing_within_start_and_peak(peak, frac, n, times):
    s, start = linear_warmup(peak, n, start=peak * frac), peak * frac
    values = [s(t) for t in sorted(times + [0, n - 1, n])]
    assert values == sorted(values)
    assert all(start <= v <= peak for v in values)


@given(st.sampled_from([cosine_decay, linear_decay]), peaks, steps, ratios, ts)
def test_decays_are_non_increasing_within_floor_and_peak(decay, peak, n, ratio, times):
    s, floor = decay(peak, n, floor_ratio=ratio), peak * ratio
    values = [s(t) for t in sorted(times + [0, n - 1, n])]
    assert values == sorted(values, reverse=True)
    assert all(floor <= v <= peak for v in values)
    assert values[0] == peak


@given(peaks, st.integers(1, 1000), st.integers(1, 1000), ratios, ts)
def test_warmup_cosine_rises_then_falls(peak, w, rest, ratio, times):
    s = warmup_cosine(peak, w, w + rest, floor_ratio=ratio)
    up = [s(t) for t in range(0, w + 1, max(1, w // 7))] + [s(w)]
    down = [s(t) for t in sorted(set(times) | {w, w + rest}) if t >= w]
    assert up == sorted(up) and down == sorted(down, reverse=True)
    assert s(w) == peak and s(w + rest) == approx(peak * ratio)
    assert all(0 <= s(t) <= peak for t in times)


@given(peaks, st.integers(1, 10_000), ts)
def test_inverse_sqrt_is_non_increasing_and_at_most_the_peak(peak, w, times):
    values = [inverse_sqrt(peak, w)(t) for t in sorted(times)]
    assert values == sorted(values, reverse=True) and all(0 < v <= peak for v in values)


# -- the scheduler on a real optimizer --------------------------------------------------------
def _sgd_on_f_equals_x():
    x = ad.Tensor([1.0], requires_grad=True)
    return x, SGD([x], lr=123.0)


def _run(x, opt, sched, k):
    lrs = []
    for _ in range(k):
        lrs.append(opt.param_groups[0]["lr"])
        x.grad = ad.backend.xp.ones(1, dtype="float32")       # d/dx f(x) = 1 for f(x) = x
        opt.step()
        sched.step()
    return lrs


def _host(x):
    return float(ad.backend.to_numpy(x.data)[0])


def test_scheduler_moves_x_by_the_sum_of_the_scheduled_lrs():
    x, opt = _sgd_on_f_equals_x()
    s = warmup_cosine(0.1, 3, 8, floor_ratio=0.1)
    sched = LRScheduler(opt, s)
    assert opt.param_groups[0]["lr"] == 0.0 and sched.last_lr == [0.0]   # t = 0 at construction
    lrs = _run(x, opt, sched, 10)
    assert lrs == [s(t) for t in range(10)]
    expected = np.float32(1.0)
    for lr in lrs:                          # the float32 steps x <- x - lr, replayed on the host
        expected = np.float32(expected - np.float32(lr))
    assert _host(x) == float(expected)
    assert _host(x) == pytest.approx(1.0 - sum(lrs), rel=1e-6)
    assert sched.t == 10 and sched.last_lr == [approx(0.01)]


def test_one_schedule_per_group():
    a, b = ad.Tensor([1.0], requires_grad=True), ad.Tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=1.0)
    sched = LRScheduler(opt, [constant(0.25), linear_decay(1.0, 2)])
    assert [g["lr"] for g in opt.param_groups] == [0.25, 1.0]
    sched.step()
    assert sched.last_lr == [0.25, 0.5] == [g["lr"] for g in opt.param_groups]
    shared = LRScheduler(opt, constant(0.125))
    assert [g["lr"] for g in opt.param_groups] == [0.125, 0.125] and shared.last_lr == [0.125] * 2


def test_state_dict_round_trip_resumes_exactly():
    s = warmup_cosine(0.1, 4, 12, floor_ratio=0.1)
    x, opt = _sgd_on_f_equals_x()
    sched = LRScheduler(opt, s)
    straight = _run(x, opt, sched, 15)

    y, opt_y = _sgd_on_f_equals_x()
    sched_y = LRScheduler(opt_y, s)
    first = _run(y, opt_y, sched_y, 6)
    saved_opt, saved_sched = opt_y.state_dict(), sched_y.state_dict()
    assert saved_sched == {"step": 6}

    z, opt_z = _sgd_on_f_equals_x()
    z.data[...] = y.data
    opt_z.load_state_dict(saved_opt)
    sched_z = LRScheduler(opt_z, s)
    sched_z.load_state_dict(saved_sched)
    assert opt_z.param_groups[0]["lr"] == s(6)
    rest = _run(z, opt_z, sched_z, 9)
    assert first + rest == straight and _host(z) == _host(x)


# -- errors name the parameter ----------------------------------------------------------------
@pytest.mark.parametrize("make, exc, phrase", [
    (lambda: constant(-1.0), ValueError, "lr must be a finite number >= 0"),
    (lambda: linear_warmup(1.0, 0), ValueError, "warmup_steps must be >= 1"),
    (lambda: linear_warmup(1.0, -5), ValueError, "warmup_steps must be >= 1"),
    (lambda: linear_warmup(1.0, 10.0), TypeError, "warmup_steps must be an integer"),
    (lambda: linear_warmup(1.0, 10, start=2.0), ValueError, "start must be <= peak"),
    (lambda: linear_warmup(float("nan"), 10), ValueError, "peak must be a finite number"),
    (lambda: inverse_sqrt(1.0, 0), ValueError, "warmup_steps must be >= 1"),
    (lambda: cosine_decay(1.0, 0), ValueError, "decay_steps must be >= 1"),
    (lambda: cosine_decay(1.0, 10, floor=2.0), ValueError, "floor must be <= peak"),
    (lambda: cosine_decay(1.0, 10, floor=-0.1), ValueError, "floor must be a finite number"),
    (lambda: cosine_decay(1.0, 10, floor_ratio=1.5), ValueError, r"floor_ratio must be in \[0, 1"),
    (lambda: linear_decay(1.0, 10, floor_ratio=-0.1), ValueError, r"floor_ratio must be in \[0, 1"),
    (lambda: linear_decay(1.0, 10, 0.1, floor_ratio=0.1), ValueError, "not both"),
    (lambda: warmup_cosine(1.0, 0, 10), ValueError, "warmup_steps must be >= 1"),
    (lambda: warmup_cosine(1.0, 10, 10), ValueError, "total_steps must be > warmup_steps"),
    (lambda: warmup_cosine(1.0, 10, 100, floor_ratio=2), ValueError, "floor_ratio must be in"),
    (lambda: sequence([]), ValueError, "at least one"),
    (lambda: sequence([(constant(1.0), 5)]), ValueError, "last entry must be None"),
    (lambda: sequence([(constant(1.0), None), (constant(1.0), None)]), TypeError,
     "steps of sequence entry 0 must be an integer"),
    (lambda: sequence([(constant(1.0), 0), (constant(1.0), None)]), ValueError,
     "steps of sequence entry 0 must be >= 1"),
    (lambda: sequence([constant(1.0)]), TypeError, "entry 0 must be a"),
    (lambda: constant(1.0)(-1), ValueError, "step must be >= 0"),
    (lambda: constant(1.0)(1.5), TypeError, "step must be an integer"),
])
def test_bad_input_is_refused_with_the_parameter_named(make, exc, phrase):
    with pytest.raises(exc, match=phrase):
        make()


def test_scheduler_errors():
    x, opt = _sgd_on_f_equals_x()
    with pytest.raises(ValueError, match="schedule list has 2 schedules, the optimizer has 1"):
        LRScheduler(opt, [constant(1.0), constant(2.0)])
    with pytest.raises(TypeError, match="schedule 0 is a float"):
        LRScheduler(opt, 0.1)
    with pytest.raises(TypeError, match="needs an optimizer with param_groups"):
        LRScheduler([x], constant(1.0))
    with pytest.raises(ValueError, match="schedule 0 gave lr=-1.0 at step 0"):
        LRScheduler(opt, lambda t: -1.0)
    sched = LRScheduler(opt, constant(0.1))
    with pytest.raises(ValueError, match="step must be >= 0"):
        sched.load_state_dict({"step": -3})
    per_group = LRScheduler(opt, [constant(0.1)])
    opt.add_param_group({"params": [ad.Tensor([2.0], requires_grad=True)]})
    with pytest.raises(ValueError, match="1 schedules, the optimizer has 2 parameter groups"):
        per_group.step()
