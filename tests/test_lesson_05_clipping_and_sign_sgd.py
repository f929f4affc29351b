"""Lesson 05 (clipping, normalization and generalized SignSGD): its widget's callback against the
update equations written out here by hand, its widgets, its claims and its exercise checks.

The probe (``tests/lesson_probes/05_clipping_and_sign_sgd.py``) calls ``redraw(beta1, beta2,
gamma)`` for three settings; the iterates it returns (generalized SignSGD and clipped momentum on
``GDLowerBound()``) are recomputed here in plain Python floats from the talk's equations.
"""
from __future__ import annotations

import math

import numpy as np
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

from lesson_kernel import assert_redraws_once_each, lesson_probe  # noqa: E402

from minioptim.problems import GDLowerBound  # noqa: E402

LESSON = "05_clipping_and_sign_sgd.ipynb"


def generalized_sign_sgd(eta, beta1, beta2, steps):
    """x_0 .. x_steps: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) m^2; x -= eta m / sqrt(v)."""
    F = GDLowerBound()
    x, m, v, xs = F.x0, 0.0, 0.0, [F.x0]
    for _ in range(steps):
        g = F.grad(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * m * m
        x = x - eta * m / math.sqrt(v) if v > 0 else x
        xs.append(x)
    return np.array(xs)


def clipped_momentum(eta, beta, gamma, steps):
    """x_0 .. x_steps: m = b m + (1 - b) g; x -= min(eta, gamma / |m|) m."""
    F = GDLowerBound()
    x, m, xs = F.x0, 0.0, [F.x0]
    for _ in range(steps):
        m = beta * m + (1 - beta) * F.grad(x)
        x = x - (min(eta, gamma / abs(m)) if m else eta) * m
        xs.append(x)
    return np.array(xs)


def test_redraw_returns_the_iterates_of_the_equations(backend_name, request):
    probe = lesson_probe(request, backend_name, LESSON)
    assert probe["host_arrays"]
    steps, eta = probe["widget_steps"], probe["widget_eta"]
    assert probe["shapes"] == [[2, steps + 1]] * 3
    for (beta1, beta2, gamma), rows in zip(probe["settings"], probe["iterates"]):
        rows = np.array(rows)
        n = rows.shape[1] - 1
        np.testing.assert_allclose(rows[0], generalized_sign_sgd(eta, beta1, beta2, n),
                                   rtol=1e-9, atol=1e-12, err_msg=f"generalized SignSGD {beta1, beta2}")
        np.testing.assert_allclose(rows[1], clipped_momentum(eta, beta1, gamma, n),
                                   rtol=1e-9, atol=1e-12, err_msg=f"clipped momentum {beta1, gamma}")


def test_the_limits_show_in_the_widget(backend_name, request):
    probe = lesson_probe(request, backend_name, LESSON)
    settings = [tuple(s) for s in probe["settings"]]
    eta = probe["widget_eta"]
    # beta2 = 0: SignSGD with momentum, every step exactly eta long
    sign = np.array(probe["iterates"][settings.index((0.5, 0.0, 0.3))][0])
    np.testing.assert_allclose(np.abs(np.diff(sign)), eta, rtol=1e-12)
    # clipped momentum never steps farther than gamma; on the plateau (|F'| = 1) it crawls at min(eta |m|, gamma)
    for (_, _, gamma), rows in zip(settings, probe["iterates"]):
        assert np.abs(np.diff(rows[1])).max() <= gamma * (1 + 1e-12)
    # beta2 = 0.99: the first step of generalized SignSGD is eta / sqrt(1 - beta2) = 10 eta
    first = probe["iterates"][settings.index((0.0, 0.99, 4.0))][0][1]
    assert math.isclose(first, 10 * eta, rel_tol=1e-9)


def test_moving_each_slider_redraws_once_with_its_value(backend_name, request):
    probe = lesson_probe(request, backend_name, LESSON)
    lasts = [m["last"] for m in probe["moves"]]
    # beta1 then beta2 then gamma move away from (0.9, 0.9, 1.0); each redraw sees all current values
    assert lasts == [[0.8, 0.9, 1.0], [0.8, 0.5, 1.0], [0.8, 0.5, 2.0]]
    assert_redraws_once_each(probe["moves"], probe, min_width=700)


def test_the_lessons_claims(backend_name, request):
    probe = lesson_probe(request, backend_name, LESSON)
    # on the lower bound's function every member needs >100x fewer iterations than GD's best step
    best = {name: min(c for c in counts if c is not None) for name, counts in probe["table"].items()}
    assert len(best) == 5 and max(best.values()) * 100 < probe["gd_best"]
    assert probe["gd_best"] == 25_696            # eta = 2e-3, as in lesson 4 and the experiment
    # the cap: clipped SGD takes the same number of steps for every eta >= gamma / epsilon = 1
    clip = dict(zip(probe["etas_1d"], probe["table"]["clipped SGD (gamma = 1)"]))
    assert clip[1.0] == clip[3.0]
    # in 1-d, normalized SGD and SignSGD with the same momentum are the same method
    assert probe["table"]["normalized SGD"] == probe["table"]["SignSGD (beta2 = 0)"]
    # the network: every member trains; SGD with eta = 10 does not, clipped SGD with it does
    assert len(probe["net_final"]) == 6 and max(probe["net_final"].values()) < 0.1
    assert not probe["big_sgd_final"] < 0.5 and probe["big_clip_final"] < 0.1


def test_exercise_checks(backend_name, request):
    checks = lesson_probe(request, backend_name, LESSON)["checks"]
    assert checks["step_right"] == checks["cap_right"] == "right"
    assert checks["step_blank"] == checks["cap_blank"] == "not answered"
    # clipping each coordinate, or never clipping, is right only until a step is clipped
    for key in ("step_per_coordinate", "step_unclipped"):
        assert checks[key].startswith("wrong: your step differs from the library's where it is clipped"), checks[key]
    assert checks["step_sign"].startswith("wrong: your step differs from the library's where nothing is clipped")
    # the sign step's eta is exceeded once beta2 > 0; eta / (1 - beta2) holds but is never reached
    assert "longer than your cap" in checks["cap_sign"]
    assert "holds but the steps reach only" in checks["cap_loose"]
    for verdict in checks.values():       # the messages do not give the answer away
        assert "sqrt(1 - beta2)" not in verdict
