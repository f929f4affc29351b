"""Lesson 03 (AdamW against Adam + L2 without batch norm): its widget, its claims, its exercises.

The lesson runs once per session in its own kernel (``tests/lesson_kernel.py``); the probe
``tests/lesson_probes/03_adamw_without_batch_norm.py`` reports what these tests check.
"""
from __future__ import annotations

import numpy as np
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

from lesson_kernel import assert_redraws_once_each, lesson_probe  # noqa: E402


def _probe(backend_name, request):
    return lesson_probe(request, backend_name, "03_adamw_without_batch_norm.ipynb")


def test_the_widget_returns_the_effective_decay_it_draws(backend_name, request):
    probe = _probe(backend_name, request)
    assert probe["host_arrays"]
    drawn, lr = {k: np.array(v) for k, v in probe["drawn"].items()}, probe["lr"]
    names = probe["layer_names"]
    # one value per layer: the convolutions (6n + 1) and the linear layer
    assert len(names["8"]) == 8 and len(names["20"]) == 20
    assert names["20"][0] == "conv1.weight" and names["20"][-1] == "linear.weight"
    assert drawn["adamw_20"].shape == drawn["l2_20"].shape == (20,)
    assert drawn["l2_8"].shape == (8,)
    # AdamW removes eta * lambda of every weight, in every layer
    np.testing.assert_allclose(drawn["adamw_20"], lr * 1e-2, rtol=1e-12)
    # Adam + L2's is eta * lambda / (sqrt(v_hat) + eps), recomputed by the probe from a fresh run
    np.testing.assert_allclose(drawn["l2_8"], probe["recomputed_l2_8"], rtol=1e-9)
    # ... and it differs from layer to layer, by more than an order of magnitude at depth 20
    assert drawn["l2_20"].max() / drawn["l2_20"].min() > 10
    assert drawn["l2_20"].max() / drawn["l2_20"].min() > drawn["l2_8"].max() / drawn["l2_8"].min()


def test_each_control_redraws_once_and_changes_the_picture(backend_name, request):
    probe = _probe(backend_name, request)
    assert [e["last"] for e in probe["events"]] == [
        [14, "Adam + L2", 1e-2], [14, "AdamW", 1e-2], [14, "AdamW", 1e-1], [8, "AdamW", 1e-1],
        [8, "Adam + L2", 1e-1]]
    assert_redraws_once_each(probe["events"], probe, min_width=700)


def test_the_lesson_claims_hold_in_what_it_measured(backend_name, request):
    probe = _probe(backend_name, request)
    spread = probe["spread"]
    # section 2: without BN the layers' sqrt(v_hat) spreads more with depth, and more than with BN
    v = {key: s["sqrt_v_hat"] for key, s in spread.items()}
    assert v["8_nobn"] < v["14_nobn"] < v["20_nobn"]
    for depth in (8, 14, 20):
        assert v[f"{depth}_nobn"] > v[f"{depth}_bn"]
        assert spread[f"{depth}_nobn"]["grad_norm"] > spread[f"{depth}_bn"]["grad_norm"]
    # section 3: AdamW shrinks every layer by (1 - eta lambda)^steps, Adam + L2 unevenly, the most
    # where the gradients are smallest
    adamw, l2 = np.array(probe["shrink"]["AdamW"]), np.array(probe["shrink"]["Adam + L2"])
    np.testing.assert_allclose(adamw, (1 - probe["lr"] * probe["lam_w"]) ** probe["steps"],
                               rtol=5e-3)
    assert np.log(l2).min() / np.log(l2).max() > 5
    scale = np.array(probe["layer_scale_20"])
    assert np.corrcoef(np.log(scale), np.log(-np.log(l2)))[0, 1] < -0.5
    # exercise 2's prediction works: the layer with the smallest sqrt(v_hat) (no decay) is the
    # one Adam + L2 decays most
    names = probe["layer_names"]["20"]
    assert names[int(np.argmin(scale))] == names[int(np.argmax(probe["drawn"]["l2_20"]))]


def test_the_figure_cell_runs_without_the_figure(backend_name, request):
    figure = _probe(backend_name, request)["figure"]
    assert figure["committed"], "docs/figures/adamw_depth.png is missing from the checkout"
    assert figure["missing_returns"] is False
    assert "minioptim reproduce adamw-depth --preset small" in figure["missing_says"]


def test_the_exercise_checks(backend_name, request):
    checks = _probe(backend_name, request)["checks"]
    assert checks["decay_right"] == checks["layer_right"] == "right"
    assert checks["decay_blank"] == checks["layer_blank"] == "not answered"
    for wrong in ("decay_adamw", "decay_eps_inside"):
        assert checks[wrong].startswith("wrong: step 1: your decay does not reproduce Adam + L2's "
                                        "step"), checks[wrong]
    assert "the lambda*w term goes through the same division" in checks["decay_adamw"]
    assert checks["layer_wrong"].startswith("wrong: Adam + L2 decays linear.weight by ")
    assert "times less than the most decayed layer" in checks["layer_wrong"]
    assert checks["layer_unknown"] == ("wrong: 'layer9.conv' is not a layer of ResNet-20; "
                                       "print(LAYER_NAMES[20]) to see them")
