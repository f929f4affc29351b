"""The nbgrader course in ``assignments/``: the real pipeline, headless, in a temporary copy.

The course folder (``nbgrader_config.py`` and ``source/``) is copied to a temporary directory,
where ``python -m nbgrader`` (this interpreter's) runs ``generate_assignment``, then
``autograde`` on five hand-made submissions, then ``generate_feedback``. Each notebook is
executed in a fresh ``python3`` kernel of this interpreter's ipykernel, with Jupyter's, IPython's
and matplotlib's folders in the temporary directory: nothing is written to the repository or to
the user's home. Scores are read back from the gradebook.

The submissions, all built from the *released* notebook as a student would hand them in:

- ``perfect``: the solution cells filled with the reference solutions -> full marks;
- ``untouched``: the released notebook as it is -> 0;
- ``decoupled_prox``: the reference, but the proximal step written as AdamW's
  ``(1 - lr lam) w - lr u`` (right to first order, so it passes every visible test) -> loses
  exactly the two hidden tests of the proximal step's own properties;
- ``deleted_tests``: the reference with every test cell deleted -> nbgrader puts the cells back
  (``OverwriteCells.add_missing_cells``) and grades them: full marks;
- ``edited_tests``: the stubs left as they are, every test cell replaced by ``pass`` -> the locked
  cells are restored from the gradebook and fail: 0.

The pipeline runs in its own kernels on the host, so these tests run once per session (on the
numpy parametrization of ``conftest.backend_name``, or on the one backend MINIOPTIM_BACKEND
selects), not once per backend.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "assignments"
ASSIGNMENT = "adam"
COURSE_ID = "minioptim"
SOURCE_NB = COURSE / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
COMMAND_TIMEOUT = 600  # seconds, per nbgrader command

FULL_MARKS = 10.0
VISIBLE_POINTS = {"test_adam_direction": 1.0, "test_adam_step_first_step": 1.0,
                  "test_no_decay_modes_agree": 1.0, "test_decay_one_step": 1.0}
HIDDEN_POINTS = {"hidden_scale_free_adamw": 1.0, "hidden_scale_free_adamprox": 1.0,
                 "hidden_l2_not_scale_free": 1.0, "hidden_prox_minimizer_no_flip": 1.0,
                 "hidden_agree_minioptim_adam_adamw": 1.0,
                 "hidden_agree_minioptim_adamprox": 1.0}
SOLUTION_IDS = ("adam_direction", "adam_step")
# what a proximal step written as AdamW's update fails: the two tests of its own properties
PROX_ONLY = {"hidden_prox_minimizer_no_flip", "hidden_agree_minioptim_adamprox"}
PROX_LINE = "return (w - lr * u) / (1 + lr * lam)"
DECOUPLED_AS_PROX = "return (1 - lr * lam) * w - lr * u"

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)
STUDENTS = ("perfect", "untouched", "decoupled_prox", "deleted_tests", "edited_tests")


def _nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_grade(cell) -> bool:
    return bool(_nbgrader_meta(cell).get("grade"))


def _is_solution(cell) -> bool:
    return bool(_nbgrader_meta(cell).get("solution"))


def _strip_markers(source: str) -> str:
    """A solution cell as a student would write it: the instructor's code, without the markers."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*")}


# -- the submissions -----------------------------------------------------------------------------

def _submissions(release, source) -> dict:
    solutions = {_nbgrader_meta(c)["grade_id"]: _strip_markers(c.source)
                 for c in source.cells if _is_solution(c)}

    def filled(fix=lambda grade_id, text: text):
        nb = nbformat.from_dict(release)                       # a deep copy
        for cell in nb.cells:
            if _is_solution(cell):
                grade_id = _nbgrader_meta(cell)["grade_id"]
                cell.source = fix(grade_id, solutions[grade_id])
        return nb

    def decoupled_prox(grade_id, text):
        if grade_id == "adam_step":
            assert text.count(PROX_LINE) == 1, f"the reference adam_step has no line {PROX_LINE!r}"
            text = text.replace(PROX_LINE, DECOUPLED_AS_PROX)
        return text

    deleted = filled()
    deleted.cells = [c for c in deleted.cells if not _is_grade(c)]
    edited = nbformat.from_dict(release)
    for cell in edited.cells:
        if _is_grade(cell):
            cell.source = "pass  # all good"
    return {"perfect": filled(), "untouched": nbformat.from_dict(release),
            "decoupled_prox": filled(decoupled_prox), "deleted_tests": deleted,
            "edited_tests": edited}


# -- the pipeline, run once per session ----------------------------------------------------------

@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from ipykernel.kernelspec import write_kernel_spec

    before = _tree(COURSE)
    tmp = tmp_path_factory.mktemp("nbgrader")
    root = tmp / "course"
    root.mkdir()
    shutil.copy2(COURSE / "nbgrader_config.py", root)
    shutil.copytree(COURSE / "source", root / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))

    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if k != "MINIOPTIM_BACKEND"}  # the default backend
    env.update({
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        # import minioptim from this checkout even when it is not installed
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    })
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                "MPLCONFIGDIR"):
        Path(env[key]).mkdir(parents=True)
    # "python3" = this interpreter's ipykernel, whatever kernels the user has installed
    write_kernel_spec(Path(env["JUPYTER_DATA_DIR"]) / "kernels" / "python3")

    timings = {}

    def nbgrader(*args):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              check=False)
        timings[args[0]] = time.perf_counter() - start
        if done.returncode != 0:
            pytest.fail(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n"
                        f"{done.stdout[-4000:]}\n{done.stderr[-8000:]}")
        return done.stdout + done.stderr

    logs = {"generate_assignment": nbgrader("generate_assignment", ASSIGNMENT, "--force")}
    source = nbformat.read(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release_path = root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release = nbformat.read(release_path, as_version=4)

    for student, nb in _submissions(release, source).items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")

    logs["autograde"] = nbgrader("autograde", ASSIGNMENT, "--force")
    logs["generate_feedback"] = nbgrader("generate_feedback", ASSIGNMENT, "--force")

    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        for student in STUDENTS:
            submission = gb.find_submission(ASSIGNMENT, student)
            notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            scores[student] = {
                "score": float(submission.score), "max_score": float(submission.max_score),
                "cells": {g.name: float(g.score) for g in notebook.grades},
                "failed": {g.name for g in notebook.grades if g.score < g.max_score}}
    autograded = {s: nbformat.read(root / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                                   as_version=4) for s in STUDENTS}
    return {"root": root, "source": source, "release": release, "release_text":
            release_path.read_text(), "scores": scores, "autograded": autograded,
            "logs": logs, "timings": timings, "before": before}


@pytest.fixture
def course(backend_name, request):
    first = os.environ.get("MINIOPTIM_BACKEND") or "numpy"
    if backend_name != first:
        pytest.skip(f"the nbgrader pipeline runs on the host in its own kernels; it is exercised "
                    f"once, on the {first} run")
    return request.getfixturevalue("pipeline")


# -- the source notebook -------------------------------------------------------------------------

def test_source_notebook_cells_and_points(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("reads a file; checked once, on the first backend's run")
    nb = nbformat.read(SOURCE_NB, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), \
        "store the source notebook without outputs (Kernel > Restart & Clear Output)"
    grades = {_nbgrader_meta(c)["grade_id"]: c for c in nb.cells if _is_grade(c)}
    assert {k: float(_nbgrader_meta(c)["points"]) for k, c in grades.items()} == \
        {**VISIBLE_POINTS, **HIDDEN_POINTS}
    assert sum(VISIBLE_POINTS.values()) + sum(HIDDEN_POINTS.values()) == FULL_MARKS
    for grade_id, cell in grades.items():
        assert _nbgrader_meta(cell)["locked"] and not _is_solution(cell), grade_id
        hidden = "### BEGIN HIDDEN TESTS" in cell.source
        assert hidden == (grade_id in HIDDEN_POINTS), \
            f"{grade_id}: hidden tests belong exactly in the hidden_* cells"
    solutions = [c for c in nb.cells if _is_solution(c)]
    assert tuple(_nbgrader_meta(c)["grade_id"] for c in solutions) == SOLUTION_IDS
    assert all(c.source.count("### BEGIN SOLUTION") == 1 for c in solutions)


# -- generate_assignment -------------------------------------------------------------------------

def test_release_has_no_solution_and_no_hidden_test(course):
    source, release, text = course["source"], course["release"], course["release_text"]
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    # every line inside a solution or hidden-test region that appears nowhere else in the source
    outside, inside = set(), set()
    for cell in source.cells:
        inside |= {line.strip() for m in REGION.finditer(cell.source)
                   for line in m.group(2).splitlines()}
        outside |= {line.strip() for line in REGION.sub("", cell.source).splitlines()}
    secret = {line for line in inside - outside if line and not line.startswith("#")}
    assert len(secret) > 50, "the regions should hold the solutions and the hidden tests"
    released = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
    assert not secret & released, f"released secrets: {sorted(secret & released)[:5]}"
    for cell in release.cells:
        if _is_solution(cell):
            assert "raise NotImplementedError()" in cell.source
    assert [c.id for c in release.cells] == [c.id for c in source.cells]
    points = {_nbgrader_meta(c)["grade_id"]: float(_nbgrader_meta(c)["points"])
              for c in release.cells if _is_grade(c)}
    assert points == {**VISIBLE_POINTS, **HIDDEN_POINTS}
    assert all(c.metadata.get("editable") is False and c.metadata.get("deletable") is False
               for c in release.cells if _is_grade(c))


# -- autograde -----------------------------------------------------------------------------------

def test_reference_solution_scores_full_marks(course):
    score = course["scores"]["perfect"]
    assert score["max_score"] == FULL_MARKS
    assert score["failed"] == set(), course["logs"]["autograde"][-4000:]
    assert score["score"] == FULL_MARKS


def test_untouched_release_scores_zero(course):
    score = course["scores"]["untouched"]
    assert score["score"] == 0.0
    assert score["cells"] == {k: 0.0 for k in {**VISIBLE_POINTS, **HIDDEN_POINTS}}


def test_proximal_step_written_as_adamw_loses_exactly_its_hidden_points(course):
    score = course["scores"]["decoupled_prox"]
    assert score["failed"] == PROX_ONLY
    assert score["score"] == FULL_MARKS - sum(HIDDEN_POINTS[k] for k in PROX_ONLY) == 8.0
    # it passes every visible test: a student could not have seen the mistake without the claims
    assert all(score["cells"][k] == v for k, v in VISIBLE_POINTS.items())


def test_deleted_test_cells_are_restored_and_graded(course):
    assert course["scores"]["deleted_tests"]["score"] == FULL_MARKS
    assert course["scores"]["deleted_tests"]["cells"] == {**VISIBLE_POINTS, **HIDDEN_POINTS}
    graded = course["autograded"]["deleted_tests"]
    restored = [c for c in graded.cells if _is_grade(c)]
    assert [_nbgrader_meta(c)["grade_id"] for c in restored] == \
        [*VISIBLE_POINTS, *HIDDEN_POINTS]
    for cell in restored:
        assert "was missing from the submission" in cell.source
        assert not any(o.output_type == "error" for o in cell.outputs)
    hidden = [c for c in restored if _nbgrader_meta(c)["grade_id"] in HIDDEN_POINTS]
    assert all("### BEGIN HIDDEN TESTS" in c.source for c in hidden), \
        "the restored cells must carry the hidden tests"


def test_edited_test_cells_are_restored_and_graded(course):
    score = course["scores"]["edited_tests"]
    assert score["score"] == 0.0
    graded = course["autograded"]["edited_tests"]
    assert all("pass  # all good" not in c.source for c in graded.cells if _is_grade(c))


def test_feedback_is_generated_for_every_student(course):
    for student in STUDENTS:
        page = course["root"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert page.is_file(), student
        score = course["scores"][student]["score"]
        headline = f"{ASSIGNMENT} (Score: {score:.1f} / {FULL_MARKS:.1f})"
        assert headline in re.sub(r"\s+", " ", page.read_text()), f"{student}: no {headline!r}"


def test_the_repository_is_untouched(course):
    assert _tree(COURSE) == course["before"], "the pipeline wrote into the repository's course"
    assert course["root"] != COURSE and COURSE not in course["root"].parents
