"""Runs a lesson of ``lessons/`` headless, as the tests do, with its probe.

Every notebook runs top to bottom in a fresh ``python3`` kernel (this interpreter's ipykernel),
with Jupyter's and IPython's folders in a temporary directory and matplotlib on Agg. A lesson may
have a *probe*, ``tests/lesson_probes/<notebook stem>.py``: code run in the same kernel after the
lesson's last cell, which calls the lesson's widget callbacks, moves its widgets, tries its
exercise checks and prints one line, ``LESSON-PROBE {json}``, that the tests read. The helpers of
``PROBE_HELPERS`` are defined before it.

The session fixture ``execute_lesson`` (``tests/conftest.py``) executes each lesson at most once
per test session; a lesson's own tests call ``lesson_probe(request, backend_name, name)``.

The lessons run on the default array backend of their own kernel, so these tests run once per
session (on the numpy parametrization of ``conftest.backend_name``, or on the one backend that
MINIOPTIM_BACKEND selects), not once per backend.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "lessons"
PROBES = Path(__file__).resolve().parent / "lesson_probes"
CELL_TIMEOUT = 180         # seconds, per cell (a training cell on a loaded 2-core machine)
MARKER = "LESSON-PROBE "   # a probe prints MARKER + one JSON object

# defined in the lesson's kernel before its probe: the probes' shared helpers
PROBE_HELPERS = r"""
def _png_pixels(image=None):
    # a picture's PNG size (its IHDR header): [width, height]; the lesson's `picture` by default
    data = (picture if image is None else image).value
    return [int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")]


def _move(widget, value, image=None):
    # set a widget from Python: how many redraws it caused, the last one's arguments, new picture?
    image = picture if image is None else image
    count, png = len(redraws), image.value
    widget.value = value
    return {"new_redraws": len(redraws) - count, "last": redraws[-1],
            "picture_changed": image.value != png}


def _verdict(check, *answer):
    # an exercise check's answer: "right", "not answered" or "wrong: <its message>"
    try:
        return "right" if check(*answer) else "not answered"
    except AssertionError as exc:
        return "wrong: " + str(exc)
"""


def run_once(backend_name):
    first = os.environ.get("MINIOPTIM_BACKEND") or "numpy"
    if backend_name != first:
        pytest.skip("the lesson runs in its own kernel; executed once, on the numpy run")


def probe_source(path: Path) -> str | None:
    probe = PROBES / f"{path.stem}.py"
    return probe.read_text() if probe.is_file() else None


class LessonRunner:
    """``runner(path) -> (notebook, error, probe)``; ``error`` names the failing cell, ``probe`` is
    the probe's JSON (or None). Each path is executed once."""

    def __init__(self, home: Path):
        from ipykernel.kernelspec import write_kernel_spec

        self.env = {"JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
                    "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython",
                    "MPLBACKEND": "Agg",
                    # import minioptim even when it is not installed
                    "PYTHONPATH": os.pathsep.join(
                        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
        # "python3" = this interpreter's ipykernel, whatever kernels the user has installed
        write_kernel_spec(self.env["JUPYTER_DATA_DIR"] / "kernels" / "python3")
        self.done: dict[Path, tuple] = {}

    def __call__(self, path: Path):
        if path not in self.done:
            self.done[path] = self._execute(path)
        return self.done[path]

    def _execute(self, path: Path):
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError

        nb = nbformat.read(path, as_version=4)
        probe = probe_source(path)
        if probe is not None:
            nb.cells.append(nbformat.v4.new_code_cell(PROBE_HELPERS + probe))
        client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                startup_timeout=60, resources={"metadata": {"path": str(LESSONS)}})
        error = None
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self.env.items():
                mp.setenv(key, str(value))
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
        return nb, error, found


def lesson_probe(request, backend_name, name: str) -> dict:
    """The probe's JSON of ``lessons/<name>`` (skipped on the second backend; fails with the
    failing cell)."""
    run_once(backend_name)
    _, error, probe = request.getfixturevalue("execute_lesson")(LESSONS / name)
    if error:
        pytest.fail(error, pytrace=False)
    assert probe is not None, f"{name} has no probe in tests/lesson_probes/"
    return probe


def assert_redraws_once_each(events, probe, min_width=0):
    """Each widget move (``_move``'s record) redrew once, into a changed picture, and the picture
    is drawn at the size it is shown (PNG pixels = layout size: no stretching, no blur)."""
    for event in events:
        assert event["new_redraws"] == 1 and event["picture_changed"], event
    width, height = probe["png_size"]
    assert probe["shown_size"] == [f"{width}px", f"{height}px"], \
        f"the PNG ({width}x{height}) must be drawn at the size shown {probe['shown_size']}"
    assert width >= min_width, f"the picture is {width} px wide; at least {min_width}"
