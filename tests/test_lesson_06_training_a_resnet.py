"""Lesson 06, training a ResNet: its widget callback returns the trainer's history, the runs and
the cost arithmetic it states hold, and its exercise checks answer right, blank and wrong.

The lesson is executed once, with its probe (``tests/lesson_probes/06_training_a_resnet.py``);
see ``tests/lesson_kernel.py``.
"""
from __future__ import annotations

import math

import numpy as np
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

from lesson_kernel import assert_redraws_once_each, lesson_probe  # noqa: E402

NAME = "06_training_a_resnet.ipynb"
OPTIMIZERS = ("SGD momentum", "Adam", "AdamW", "gen. SignSGD")


def history(probe, label, metric):
    return np.array([row[metric] for row in probe["history"][label]], dtype=float)


def test_redraw_returns_the_history_it_draws(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    assert probe["host_arrays"]
    assert probe["run_names"] == [f"{o}, {bn}" for bn in ("BN", "no BN") for o in OPTIMIZERS]
    epochs = probe["epochs"]
    for label, curve in probe["full"].items():
        assert len(curve) == epochs
        np.testing.assert_array_equal(curve, history(probe, label, "train_loss"))
    first = probe["run_names"][0]
    assert sorted(probe["metrics"]) == ["test_accuracy", "test_loss", "train_loss"]
    for metric, curve in probe["metrics"].items():
        np.testing.assert_array_equal(curve, history(probe, first, metric))
    # two epochs drawn: the first two values of the history
    np.testing.assert_array_equal(probe["partial"], history(probe, "Adam, BN", "test_accuracy")[:2])


def test_the_history_is_the_trainers_record_of_its_steps(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    epochs, per_epoch = probe["epochs"], probe["train_batches"]
    for label in probe["run_names"]:
        rows, steps = probe["history"][label], np.array(probe["step_losses"][label])
        assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
        assert steps.shape == (epochs * per_epoch,)
        # every batch has 64 images, so an epoch's train_loss is the plain mean of its steps
        np.testing.assert_allclose(history(probe, label, "train_loss"),
                                   steps.reshape(epochs, per_epoch).mean(axis=1), rtol=1e-9)
        accuracy = history(probe, label, "test_accuracy")
        assert np.all((0 <= accuracy) & (accuracy <= 1))
        # 297 test images: an accuracy is a whole number of them
        np.testing.assert_allclose(accuracy * 297, np.round(accuracy * 297), atol=1e-6)


def test_the_runs_claims(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    for label in probe["run_names"]:
        loss = history(probe, label, "train_loss")
        assert loss[-1] < loss[0], label
        assert history(probe, label, "test_accuracy")[-1] > 0.1, label
    for bn in ("BN", "no BN"):
        # one seed: the same initial weights and first batch for every optimizer
        firsts = {probe["step_losses"][f"{o}, {bn}"][0] for o in OPTIMIZERS}
        assert len(firsts) == 1, firsts
    for o in OPTIMIZERS:
        assert history(probe, f"{o}, BN", "train_loss")[-1] < \
            history(probe, f"{o}, no BN", "train_loss")[-1], o
    # BN and no BN are different networks: their first losses differ
    assert probe["step_losses"]["Adam, BN"][0] != probe["step_losses"]["Adam, no BN"][0]


def test_moving_each_control_redraws_once_with_its_values(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    epochs = probe["epochs"]
    assert [e["last"] for e in probe["events"]] == [
        ["gen. SignSGD, BN", "train_loss", epochs], ["gen. SignSGD, BN", "test_accuracy", epochs],
        ["gen. SignSGD, BN", "test_accuracy", 2], ["SGD momentum, no BN", "test_accuracy", 2]]
    assert_redraws_once_each(probe["events"], probe, min_width=700)


def test_augmentation_crops_are_shifts_and_normalization_is_standard(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    p, original = probe["padding"], np.array(probe["original"], dtype=np.uint8)
    assert p == 1 and original.shape == (1, 1, 8, 8)
    crops = np.array(probe["crops"])
    assert crops.shape == (6, 1, 8, 8) and probe["crop_dtype"] == "uint8"
    padded = np.pad(original[0, 0].astype(int), p)
    shifts = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)]
    for crop in crops[:, 0]:
        assert any(np.array_equal(padded[dy:dy + 8, dx:dx + 8], crop) for dy, dx in shifts)
    # six draws of nine offsets (seeded): not all the same crop
    assert len({c.tobytes() for c in crops}) > 1
    mean, std = probe["normalized_stats"]
    assert abs(mean) < 1e-4 and abs(std - 1) < 1e-4


def _hand_count(depth, batch_norm):
    # 3x3 convolutions without bias, 2 numbers per BN channel, the linear layer 64 -> 10
    n = (depth - 2) // 6
    widths = [16] + [w for w in (16, 32, 64) for _ in range(n)]
    convs = 9 * 3 * 16 + sum(9 * a * b + 9 * b * b for a, b in zip(widths, widths[1:]))
    bns = 2 * (16 + sum(2 * b for b in widths[1:])) if batch_norm else 0
    return convs + bns + 64 * 10 + 10


def test_parameter_counts_and_the_scale_of_activations(backend_name, request):
    probe = lesson_probe(request, backend_name, NAME)
    counts = probe["param_counts"]
    for depth in (8, 20, 56):
        for bn in (True, False):
            assert counts[f"{depth}, bn={bn}"] == _hand_count(depth, bn)
    assert counts["8, bn=True"] == 75_290 and counts["20, bn=True"] == 269_722
    stds = probe["activation_std"]
    assert stds["56, bn=False"][-1] > 100 * stds["56, bn=True"][-1]
    assert all(stds[f"{d}, bn=True"][-1] < 5 for d in (8, 20, 56))


def test_the_cost_of_the_full_run_is_the_measured_step_times_the_steps(backend_name, request):
    cost = lesson_probe(request, backend_name, NAME)["cost"]
    assert cost["steps_per_epoch"] == math.ceil(50_000 / 128) == 391
    assert cost["eval_batches"] == math.ceil(10_000 / 128) == 79
    assert 0 < cost["eval_seconds"] and 0 < cost["step_seconds"] < 60
    epoch = 391 * cost["step_seconds"] + 79 * cost["eval_seconds"]
    assert math.isclose(cost["epoch_seconds"], epoch, rel_tol=1e-12)
    assert math.isclose(cost["run_hours_164"], 164 * epoch / 3600, rel_tol=1e-12)
    assert math.isclose(cost["run_hours_300"], 300 * epoch / 3600, rel_tol=1e-12)


def test_exercise_checks(backend_name, request):
    checks = lesson_probe(request, backend_name, NAME)["checks"]
    assert checks["conv_right"] == checks["steps_right"] == "right"
    assert checks["conv_blank"] == checks["conv_none"] == checks["steps_blank"] == "not answered"
    assert checks["conv_size_wrong"].startswith(
        "wrong: conv_output_size(h=8, k=3, stride=1, padding=1) = 7 is not the layer's output size")
    assert checks["conv_params_wrong"].startswith(
        "wrong: conv_parameters(c_in=1, c_out=16, k=3, bias=True) = 144 is not the layer's count")
    assert checks["steps_wrong"].startswith(
        "wrong: steps_per_epoch(50000, 128, drop_last=False) = 390 is not the number of batches")
