"""The lessons in ``lessons/``: stored without outputs, executed headless, their widgets driven.

Every notebook runs top to bottom in a fresh ``python3`` kernel (this interpreter's ipykernel),
with Jupyter's and IPython's folders in a temporary directory and matplotlib on Agg. A lesson may
have a *probe*: code run in the same kernel after its last cell, which calls the lesson's widget
callbacks, moves its widgets and prints one JSON line that the tests read.

The lessons run on the default array backend of their own kernel, so these tests run once per
session (on the numpy parametrization of ``conftest.backend_name``, or on the one backend that
MINIOPTIM_BACKEND selects), not once per backend.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))
CELL_TIMEOUT = 60          # seconds, per cell
MARKER = "LESSON-PROBE "   # a probe prints MARKER + one JSON object

# -- probes: code run in the lesson's kernel after its last cell ---------------------------------

# defined in the lesson's kernel before its probe: the probes' shared helpers
PROBE_HELPERS = r"""
def _png_pixels():
    # the picture's PNG size (its IHDR header): [width, height]
    return [int.from_bytes(picture.value[16:20], "big"), int.from_bytes(picture.value[20:24], "big")]


def _move(widget, value):
    # set a widget from Python: how many redraws it caused, the last one's arguments, new picture?
    count, png = len(redraws), picture.value
    widget.value = value
    return {"new_redraws": len(redraws) - count, "last": redraws[-1],
            "picture_changed": picture.value != png}


def _verdict(check, *answer):
    # an exercise check's answer: "right", "not answered" or "wrong: <its message>"
    try:
        return "right" if check(*answer) else "not answered"
    except AssertionError as exc:
        return "wrong: " + str(exc)
"""

SCALE_FREENESS_PROBE = r"""
import json as _json
import numpy as _np

_ks = [-2, -1, 0, 1, 2, 3]
_spread, _shapes, _host = {}, set(), True
for _name in ["GD", "Adam", "AdaGrad", "Lion"]:
    _paths = [redraw(_k, _name) for _k in _ks]            # the widget callback, called directly
    _host = _host and all(type(_p) is _np.ndarray for _p in _paths)
    _shapes |= {tuple(_p.shape) for _p in _paths}
    _spread[_name] = max(float(_np.abs(_p - _paths[0]).max()) for _p in _paths)

# now through the widgets: each change of value must redraw once, with the widgets' values
_events = []
for _widget, _value in [(k_slider, 3), (optimizer_picker, "Adam"), (k_slider, -1),
                        (optimizer_picker, "Lion")]:
    _count, _png = len(redraws), picture.value
    _widget.value = _value
    _events.append({"new_redraws": len(redraws) - _count, "last": list(redraws[-1]),
                    "picture_changed": picture.value != _png,
                    "png": picture.value[:8] == b"\x89PNG\r\n\x1a\n"})
# the picture is drawn at the size it is shown: PNG pixels (its IHDR header) = layout size
_png_size = _png_pixels()
print("LESSON-PROBE " + _json.dumps({"spread": _spread, "shapes": sorted(_shapes),
                                     "host_arrays": _host, "events": _events,
                                     "png_size": _png_size,
                                     "shown_size": [picture.layout.width, picture.layout.height]}))
"""

WEIGHT_DECAY_PROBE = r"""
import json as _json
import numpy as _np

_paths = {str(_v): redraw(_v) for _v in (0.5, 1.5, 2.5)}        # the widget callback, directly
_host = all(type(_p) is _np.ndarray for _p in _paths.values())
_events = []
for _value in (1.2, 0.3):                                          # through the slider
    _events.append(_move(eta_lambda_slider, _value))
_png_size = _png_pixels()


_checks = {
    "prox_right": _verdict(check_prox_l2, lambda v, eta, lam: v / (1 + eta * lam)),
    "prox_wrong": _verdict(check_prox_l2, lambda v, eta, lam: v * (1 - eta * lam)),
    "prox_blank": _verdict(check_prox_l2, prox_l2),
    "thresholds_right": _verdict(check_thresholds, 1.0, 2.0),
    "thresholds_wrong": _verdict(check_thresholds, 0.5, 2.0),
    "thresholds_blank": _verdict(check_thresholds, None, None),
}
print("LESSON-PROBE " + _json.dumps({
    "paths": {_k: _p.tolist() for _k, _p in _paths.items()}, "host_arrays": _host,
    "events": _events, "png_size": _png_size,
    "shown_size": [picture.layout.width, picture.layout.height], "checks": _checks}))
"""

SMOOTHNESS_PROBE = r"""
import json as _json
import numpy as _np

_low, _high = redraw(-3.0), redraw(-1.0)            # eta = 1e-3 (below eta_c) and 0.1 (above)
_moved = _move(log_eta_slider, -2.0)
_png_size = _png_pixels()


print("LESSON-PROBE " + _json.dumps({
    "host_arrays": type(_low) is _np.ndarray and type(_high) is _np.ndarray,
    "shape": list(_low.shape), "low_first": _np.nan_to_num(_low[:100]).tolist(),
    "high_ended": bool(_np.isnan(_high).any()), "high_max": float(_np.nanmax(_high)),
    "moved": _moved,
    "png_size": _png_size, "shown_size": [picture.layout.width, picture.layout.height],
    "checks": {"exp_right": _verdict(check_exp_constants, lambda a: (2 * a * a, a)),
               "exp_loose": _verdict(check_exp_constants, lambda a: (3 * a * a, a)),
               "exp_wrong": _verdict(check_exp_constants, lambda a: (a * a, a)),
               "exp_blank": _verdict(check_exp_constants, exp_constants),
               "plateau_right": _verdict(check_plateau, 50_000),
               "plateau_wrong": _verdict(check_plateau, 500),
               "plateau_blank": _verdict(check_plateau, None)}}))
"""

PROBES = {"01_scale_freeness.ipynb": SCALE_FREENESS_PROBE,
          "02_weight_decay_proximal.ipynb": WEIGHT_DECAY_PROBE,
          "04_relaxed_smoothness.ipynb": SMOOTHNESS_PROBE}


def _run_once(backend_name):
    first = os.environ.get("MINIOPTIM_BACKEND") or "numpy"
    if backend_name != first:
        pytest.skip("the lesson runs in its own kernel; executed once, on the numpy run")


@pytest.fixture(scope="module")
def execute_lesson(tmp_path_factory):
    """``execute_lesson(path) -> (notebook, error, probe)``; each lesson is executed at most once
    per test session. ``error`` names the failing cell, ``probe`` is the probe's JSON (or None)."""
    from ipykernel.kernelspec import write_kernel_spec
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    home = tmp_path_factory.mktemp("jupyter")
    env = {"JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
           "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython"}
    # "python3" = this interpreter's ipykernel, whatever kernels the user has installed
    write_kernel_spec(env["JUPYTER_DATA_DIR"] / "kernels" / "python3")
    python_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    done = {}

    def execute(path: Path):
        if path in done:
            return done[path]
        nb = nbformat.read(path, as_version=4)
        probe = PROBES.get(path.name)
        if probe is not None:
            nb.cells.append(nbformat.v4.new_code_cell(PROBE_HELPERS + probe))
        client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                startup_timeout=60, resources={"metadata": {"path": str(LESSONS)}})
        error = None
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, str(value))
            mp.setenv("MPLBACKEND", "Agg")
            mp.setenv("PYTHONPATH", python_path)   # import minioptim even when not installed
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    where = "the test's probe" if probe is not None and index == len(nb.cells) - 1 \
                        else f"code cell [{index}]"
                    try:
                        client.execute_cell(cell, index)
                    except (CellExecutionError, CellTimeoutError) as exc:
                        error = f"{path.name}: {where} failed:\n{exc}"
                        break
        found = None
        if probe is not None and error is None:
            text = "".join(o.get("text", "") for o in nb.cells[-1].outputs
                           if o.output_type == "stream")
            lines = [line for line in text.splitlines() if line.startswith(MARKER)]
            if not lines:
                error = f"{path.name}: the probe printed no result; its output was:\n{text}"
            else:
                found = json.loads(lines[-1][len(MARKER):])
        done[path] = (nb, error, found)
        return done[path]

    return execute


# -- the stored files ----------------------------------------------------------------------------

def test_the_lessons_folder_has_numbered_notebooks_and_a_readme():
    assert NOTEBOOKS, "lessons/ has no notebook"
    assert (LESSONS / "README.md").is_file()
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), \
            f"{path.name}: lessons are named NN_short_name.ipynb"


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
    _run_once(backend_name)
    _, error, _ = request.getfixturevalue("execute_lesson")(path)
    if error:
        pytest.fail(error, pytrace=False)


def test_scale_freeness_widget_callback_and_widgets(backend_name, request):
    _run_once(backend_name)
    path = LESSONS / "01_scale_freeness.ipynb"
    _, error, probe = request.getfixturevalue("execute_lesson")(path)
    if error:
        pytest.fail(error, pytrace=False)
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
    for e in events:
        assert e["new_redraws"] == 1 and e["picture_changed"] and e["png"], e
    width, height = probe["png_size"]
    assert probe["shown_size"] == [f"{width}px", f"{height}px"] and width >= 700


def test_weight_decay_widget_and_exercise_checks(backend_name, request):
    _run_once(backend_name)
    _, error, probe = request.getfixturevalue("execute_lesson")(
        LESSONS / "02_weight_decay_proximal.ipynb")
    if error:
        pytest.fail(error, pytrace=False)
    assert probe["host_arrays"]
    for key, path in probe["paths"].items():
        eta_lambda, path = float(key), np.array(path)
        assert path.shape == (13, 2)
        t = np.arange(13)
        # SGD + L2 multiplies by 1 - eta lambda, the proximal step divides by 1 + eta lambda
        np.testing.assert_allclose(path[:, 0], (1 - eta_lambda) ** t, rtol=1e-12)
        np.testing.assert_allclose(path[:, 1], (1 + eta_lambda) ** -t, rtol=1e-12)
    assert [e["last"] for e in probe["events"]] == [1.2, 0.3]
    for e in probe["events"]:
        assert e["new_redraws"] == 1 and e["picture_changed"], e
    width, height = probe["png_size"]
    assert probe["shown_size"] == [f"{width}px", f"{height}px"]
    # the exercise checks: silent on a blank answer, right on a right one, say why when wrong
    checks = probe["checks"]
    assert checks["prox_right"] == checks["thresholds_right"] == "right"
    assert checks["prox_blank"] == checks["thresholds_blank"] == "not answered"
    assert checks["prox_wrong"].startswith("wrong: prox_l2 differs from the proximal step")
    assert checks["thresholds_wrong"].startswith("wrong: flip_above = 0.5")


def test_relaxed_smoothness_widget_and_exercise_checks(backend_name, request):
    _run_once(backend_name)
    _, error, probe = request.getfixturevalue("execute_lesson")(
        LESSONS / "04_relaxed_smoothness.ipynb")
    if error:
        pytest.fail(error, pytrace=False)
    assert probe["host_arrays"] and probe["shape"] == [3001]
    # below eta_c GD crawls along the plateau, where |F'| = epsilon = 1
    np.testing.assert_allclose(probe["low_first"], 1.0, rtol=1e-12)
    # above it, GD reaches the steep part (|F'| = M = 1e4) and is thrown out: its run ends
    assert probe["high_ended"] and probe["high_max"] >= 1e4
    moved = probe["moved"]
    assert moved["new_redraws"] == 1 and moved["last"] == -2.0 and moved["picture_changed"]
    width, height = probe["png_size"]
    assert probe["shown_size"] == [f"{width}px", f"{height}px"]
    checks = probe["checks"]
    assert checks["exp_right"] == checks["plateau_right"] == "right"
    assert checks["exp_blank"] == checks["plateau_blank"] == "not answered"
    assert checks["exp_loose"].startswith("wrong: a = 0.5: (L0, L1) = (0.75, 0.5) holds but is loose")
    assert checks["exp_wrong"].startswith("wrong: a = 0.5: (L0, L1) = (0.25, 0.5) does not hold")
    assert checks["plateau_wrong"].startswith("wrong: 500 is not close to GD's run")


def test_a_failing_cell_is_reported_with_its_index(tmp_path, backend_name, request):
    _run_once(backend_name)
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
