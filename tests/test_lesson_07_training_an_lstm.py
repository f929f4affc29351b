"""Lesson 07 (training an LSTM language model): its probe's numbers, widget and exercise checks.

The lesson runs once per session in its own kernel (``tests/lesson_kernel.py``); the probe
(``tests/lesson_probes/07_training_an_lstm.py``) calls ``redraw`` for every run, reads what the
trainer's callbacks recorded, moves the widgets and tries the exercise checks.
"""
from __future__ import annotations

import math

import numpy as np
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

from lesson_kernel import assert_redraws_once_each, lesson_probe  # noqa: E402

NAME = "07_training_an_lstm.ipynb"


def test_redraw_returns_what_the_callbacks_recorded(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    steps = probe["steps"]
    assert steps == 100 and len(probe["runs"]) == 3
    for name, run in probe["runs"].items():
        assert run["host_arrays"] and run["dtype"] == "float64", name
        full, part = np.array(run["full"]), np.array(run["part"])
        assert full.shape == (steps, 3) and part.shape == (10, 3), name
        # columns: ||g_t|| before clipping, L_t, loss, exactly as Smoothness recorded them
        np.testing.assert_array_equal(full[:, 0], run["callback_grad_norm"])
        np.testing.assert_array_equal(full[:, 1], run["callback_smoothness"])
        np.testing.assert_array_equal(full[:, 2], run["callback_loss"])
        np.testing.assert_array_equal(part, full[:10])
        # StepStatistics reads the norm from the trainer's own record: the same numbers
        np.testing.assert_allclose(full[:, 0], run["before_clip"], rtol=1e-6)
        assert np.all(np.isfinite(full)) and np.all(full[:, :2] > 0), name


def test_clipping_caps_the_norm_and_is_sgdclipgrad(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    for name, run in probe["runs"].items():
        before, after = np.array(run["before_clip"]), np.array(run["after_clip"])
        if run["clip_setting"] is None:
            np.testing.assert_allclose(after, before, rtol=1e-6)
        else:
            gamma = run["clip_setting"]
            np.testing.assert_allclose(after, np.minimum(before, gamma), rtol=1e-5)
            assert (before > gamma).any(), "the clipped run never clipped: nothing was shown"
    # SGDClipGrad with threshold lr * gamma follows the clipped run's losses
    clipped = probe["runs"][probe["clipped"]]
    ours = probe["sgdclipgrad_losses"]
    assert len(ours) == 20
    np.testing.assert_allclose(ours, clipped["callback_loss"][:20], rtol=1e-4)


def test_the_lessons_claims_hold_on_its_runs(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    V, runs = probe["V"], probe["runs"]
    log_v = math.log(V)
    # untrained: perplexity about V; all runs start from the same weights, at loss ~ log V
    assert abs(probe["ppl_init"] / V - 1) < 0.01
    first = {run["callback_loss"][0] for run in runs.values()}
    assert len(first) == 1 and abs(first.pop() - log_v) < 0.01
    # the model's size, from the formula: embedding + 4H(E + H) + 8H + decoder
    assert probe["n_params"] == V * 32 + 4 * 64 * (32 + 64) + 8 * 64 + 64 * V + V
    # the correlation the lesson states, recomputed from what redraw returned
    for name, run in runs.items():
        full = np.array(run["full"])
        r = np.corrcoef(np.log(full[:, 0]), np.log(full[:, 1]))[0, 1]
        assert abs(r - run["lesson_corr"]) < 1e-9, name
        assert r > 0, name
    unclipped = next(run for run in runs.values() if run["lr"] == 20.0 and run["clip_setting"] is None)
    small = next(run for run in runs.values() if run["lr"] == 2.0)
    clipped = runs[probe["clipped"]]
    assert small["lesson_corr"] > 0.5 and clipped["lesson_corr"] > 0.5
    assert max(unclipped["callback_loss"][1:]) > log_v + 1       # the unclipped large step blows up
    # ... and its large-gradient steps measure L_t ~ 2 / lr (the step's stability edge)
    full = np.array(unclipped["full"])
    level = full[full[:, 0] > 1, 1] * unclipped["lr"] / 2
    # (most of them: the corpus, Python's own manual, differs a little between Python releases)
    assert len(level) >= 3 and 0.9 < np.median(level) < 1.3
    assert np.mean((0.9 < level) & (level < 1.3)) >= 0.75
    # every run trains near that edge: L_t eta_t / 2 has a median near 1 (eta_t: the step taken)
    for name, run in runs.items():
        g, L = np.array(run["full"])[:, 0], np.array(run["full"])[:, 1]
        eta_t = run["lr"] * np.minimum(1.0, (run["clip_setting"] or np.inf) / g)
        assert 0.3 < np.median(eta_t * L / 2) < 1.5, name
    assert clipped["valid_perplexity"] < min(small["valid_perplexity"], unclipped["valid_perplexity"])
    # PTB at batch 20, bptt 35: 929,589 // 20 = 46,479 rows, ceil(46,478 / 35) windows
    assert probe["ptb_windows"] == 1328


def test_moving_the_widgets_redraws_once_with_their_values(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    clipped, steps = probe["clipped"], probe["steps"]
    events = probe["events"]
    assert [e["last"] for e in events] == [[clipped, steps], [clipped, 30], ["SGD, lr 2", 30],
                                           ["SGD, lr 2", 1]]
    assert_redraws_once_each(events, probe, min_width=700)


def test_the_exercise_checks(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    checks = probe["checks"]
    assert checks["ppl_right"] == checks["windows_right"] == "right"
    assert checks["ppl_blank"] == checks["windows_blank"] == "not answered"
    assert checks["ppl_wrong"].startswith("wrong: perplexity(validation losses) = ")
    assert f"the same {probe['valid_tokens']:,} tokens" in checks["ppl_wrong"]
    for key in ("windows_wrong", "windows_floor"):
        assert checks[key].startswith("wrong: n_windows(") and "but the library makes" in checks[key]
    # the check tries small awkward sizes first: ceil(n / (b L)) and n // (b L) fail on one of them
    assert "n_windows(1000, 10, 9) = 12, but the library makes 11 windows" in checks["windows_wrong"]
    assert "n_windows(21, 10, 1) = 2, but the library makes 1 windows" in checks["windows_floor"]
