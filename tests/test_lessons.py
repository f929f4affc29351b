"""The lessons in ``lessons/``: stored without outputs, executed headless, their widgets driven.

How a lesson is run and probed: ``tests/lesson_kernel.py``. This file checks every lesson (stored
clean, runs top to bottom, has a probe) and the probes of lessons 01, 02 and 04; each later lesson
has its own ``tests/test_lesson_NN_name.py``.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

from lesson_kernel import LESSONS, PROBES, assert_redraws_once_each, lesson_probe, run_once  # noqa: E402

NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))


# -- the stored files ----------------------------------------------------------------------------

def test_the_lessons_folder_has_numbered_notebooks_and_a_readme():
    assert NOTEBOOKS, "lessons/ has no notebook"
    assert (LESSONS / "README.md").is_file()
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), \
            f"{path.name}: lessons are named NN_short_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_lesson_has_a_probe_and_its_own_checks(path):
    # a lesson's widget and exercises are driven by its probe; its assertions live in a test file
    assert (PROBES / f"{path.stem}.py").is_file(), f"write tests/lesson_probes/{path.stem}.py"
    tests = Path(__file__).parent
    named = [t for t in tests.glob("test_*.py") if f'"{path.name}"' in t.read_text()]
    assert named, f"no test file reads {path.name}'s probe (lesson_probe(..., {path.name!r}))"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lessons_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} keep outputs or execution counts; clear "
                       f"them before committing (jupyter nbconvert --clear-output --inplace)")
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state; clear it"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


# -- executed ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lessons_execute_headless(path, backend_name, request):
    run_once(backend_name)
    _, error, _ = request.getfixturevalue("execute_lesson")(path)
    if error:
        pytest.fail(error, pytrace=False)


def test_scale_freeness_widget_callback_and_widgets(backend_name, request):
    probe = lesson_probe(request, backend_name, "01_scale_freeness.ipynb")
    # redraw(k, name) returns the host array of iterates it drew, one row per step
    assert probe["host_arrays"]
    assert len(probe["shapes"]) == 1 and probe["shapes"][0][1] == 2 and probe["shapes"][0][0] > 10
    # scale-free methods draw the same path for every k; GD's changes with the curvature
    spread = probe["spread"]
    for name in ("Adam", "AdaGrad", "Lion"):
        assert spread[name] <= 1e-10, f"{name}'s path moved by {spread[name]:.2e} across k"
    assert spread["GD"] > 1e-2
    # moving a widget redraws once, with the widgets' current values, into the picture
    events = probe["events"]
    assert [e["last"] for e in events] == [[3, "GD"], [3, "Adam"], [-1, "Adam"], [-1, "Lion"]]
    assert all(e["png"] for e in events), events
    assert_redraws_once_each(events, probe, min_width=700)


def test_weight_decay_widget_and_exercise_checks(backend_name, request):
    probe = lesson_probe(request, backend_name, "02_weight_decay_proximal.ipynb")
    assert probe["host_arrays"]
    for key, path in probe["paths"].items():
        eta_lambda, path = float(key), np.array(path)
        assert path.shape == (13, 2)
        t = np.arange(13)
        # SGD + L2 multiplies by 1 - eta lambda, the proximal step divides by 1 + eta lambda
        np.testing.assert_allclose(path[:, 0], (1 - eta_lambda) ** t, rtol=1e-12)
        np.testing.assert_allclose(path[:, 1], (1 + eta_lambda) ** -t, rtol=1e-12)
    assert [e["last"] for e in probe["events"]] == [1.2, 0.3]
    assert_redraws_once_each(probe["events"], probe)
    # the exercise checks: silent on a blank answer, right on a right one, say why when wrong
    checks = probe["checks"]
    assert checks["prox_right"] == checks["thresholds_right"] == "right"
    assert checks["prox_blank"] == checks["thresholds_blank"] == "not answered"
    assert checks["prox_wrong"].startswith("wrong: prox_l2 differs from the proximal step")
    assert checks["thresholds_wrong"].startswith("wrong: flip_above = 0.5")


def test_relaxed_smoothness_widget_and_exercise_checks(backend_name, request):
    probe = lesson_probe(request, backend_name, "04_relaxed_smoothness.ipynb")
    assert probe["host_arrays"] and probe["shape"] == [3001]
    # below eta_c GD crawls along the plateau, where |F'| = epsilon = 1
    np.testing.assert_allclose(probe["low_first"], 1.0, rtol=1e-12)
    # above it, GD reaches the steep part (|F'| = M = 1e4) and is thrown out: its run ends
    assert probe["high_ended"] and probe["high_max"] >= 1e4
    moved = probe["moved"]
    assert moved["last"] == -2.0
    assert_redraws_once_each([moved], probe)
    checks = probe["checks"]
    assert checks["exp_right"] == checks["plateau_right"] == "right"
    assert checks["exp_blank"] == checks["plateau_blank"] == "not answered"
    assert checks["exp_loose"].startswith("wrong: a = 0.5: (L0, L1) = (0.75, 0.5) holds but is loose")
    assert checks["exp_wrong"].startswith("wrong: a = 0.5: (L0, L1) = (0.25, 0.5) does not hold")
    assert checks["plateau_wrong"].startswith("wrong: 500 is not close to GD's run")


def test_a_failing_cell_is_reported_with_its_index(tmp_path, backend_name, request):
    run_once(backend_name)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# broken"),
                                         nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, path)
    _, error, _ = request.getfixturevalue("execute_lesson")(path)
    assert error and "99_broken.ipynb: code cell [2] failed" in error
    assert "ZeroDivisionError" in error
