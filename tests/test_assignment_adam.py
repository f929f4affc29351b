"""The nbgrader course in ``assignments/``: the real pipeline, headless, in a temporary copy.

``tests/nbgrader_course.py`` copies the course into a temporary folder and runs nbgrader there as
a fresh machine would (no activated environment: ``PATH`` holds only the system folders). The
whole round trip of the README runs through a temporary exchange folder given only by
``$MINIOPTIM_EXCHANGE``:

1. the instructor runs ``generate_assignment`` and ``release_assignment``;
2. two students, ``alice`` (right) and ``bob`` (the proximal step written as AdamW's), run
   ``fetch_assignment adam --course minioptim``, fill in the notebook and ``submit`` it;
3. the instructor runs ``collect``; five more hand-made submissions are put in ``submitted/``
   (the way to grade notebooks returned by e-mail or a learning platform);
4. the instructor runs ``autograde``, ``generate_feedback``, ``release_feedback`` and ``export``;
5. each student runs ``fetch_feedback`` and finds the feedback page with the score.

The hand-made submissions, built from the *released* notebook as a student would hand them in:

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

import csv
import os
import re

import nbformat
import pytest
from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from nbgrader_course import COURSE, COURSE_ID, CourseRun  # noqa: E402

ASSIGNMENT = "adam"
SOURCE_NB = COURSE / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

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
HANDED_IN = ("perfect", "untouched", "decoupled_prox", "deleted_tests", "edited_tests")
THROUGH_EXCHANGE = {"alice": "perfect", "bob": "decoupled_prox"}   # student -> what they write
STUDENTS = HANDED_IN + tuple(THROUGH_EXCHANGE)


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


def _tree(path) -> dict:
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
    before = _tree(COURSE)
    run = CourseRun(tmp_path_factory.mktemp("nbgrader"))
    logs = {"generate_assignment": run.instructor("generate_assignment", ASSIGNMENT, "--force"),
            "release_assignment": run.instructor("release_assignment", ASSIGNMENT, "--force")}
    root = run.root
    source = nbformat.read(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release_path = root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release = nbformat.read(release_path, as_version=4)
    submissions = _submissions(release, source)

    fetched = {}
    for student, writes in THROUGH_EXCHANGE.items():
        run.student(student, "fetch_assignment", ASSIGNMENT, "--course", COURSE_ID)
        path = run.student_dir(student) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        fetched[student] = nbformat.read(path, as_version=4)
        nbformat.write(submissions[writes], path)
        logs[f"submit {student}"] = run.student(student, "submit", ASSIGNMENT, "--course",
                                                COURSE_ID)
    logs["collect"] = run.instructor("collect", ASSIGNMENT)

    for student in HANDED_IN:
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(submissions[student], folder / f"{ASSIGNMENT}.ipynb")

    logs["autograde"] = run.instructor("autograde", ASSIGNMENT, "--force")
    logs["generate_feedback"] = run.instructor("generate_feedback", ASSIGNMENT, "--force")
    # feedback goes back through the exchange for the submissions that came through it (the
    # hand-made ones have no exchange record: their feedback pages are handed back by hand)
    for student in THROUGH_EXCHANGE:
        logs[f"release_feedback {student}"] = run.instructor("release_feedback", ASSIGNMENT,
                                                             "--student", student)
    logs["export"] = run.instructor("export")
    feedback = {}
    for student in THROUGH_EXCHANGE:
        run.student(student, "fetch_feedback", ASSIGNMENT, "--course", COURSE_ID)
        feedback[student] = sorted((run.student_dir(student) / ASSIGNMENT / "feedback")
                                   .glob(f"*/{ASSIGNMENT}.html"))

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
    with open(root / "grades.csv", newline="") as f:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    return {"root": root, "source": source, "release": release, "release_text":
            release_path.read_text(), "scores": scores, "autograded": autograded,
            "logs": logs, "timings": run.timings, "before": before, "fetched": fetched,
            "feedback": feedback, "grades": grades, "exchange": run.exchange}


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


def test_the_package_ships_nbgraders_release(course):
    """What ``minioptim lessons`` gives a student (made without nbgrader when the package is
    built, minioptim/coursefiles.py) is, byte for byte, the notebook nbgrader releases."""
    from minioptim.coursefiles import from_repository
    shipped = from_repository(COURSE.parent)[f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"]
    assert shipped.decode("utf-8") == course["release_text"]


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


# -- the round trip through the exchange ---------------------------------------------------------

def test_students_fetch_what_was_released(course):
    released = [c.source for c in course["release"].cells]
    for student, nb in course["fetched"].items():
        assert [c.source for c in nb.cells] == released, student
    assert (course["exchange"] / COURSE_ID / "outbound" / ASSIGNMENT).is_dir()


def test_submissions_through_the_exchange_are_graded_and_exported(course):
    assert course["scores"]["alice"]["score"] == FULL_MARKS
    assert course["scores"]["bob"]["failed"] == PROX_ONLY
    assert course["grades"]["alice"] == FULL_MARKS
    assert course["grades"]["bob"] == FULL_MARKS - len(PROX_ONLY) == 8.0
    assert set(course["grades"]) == set(STUDENTS)


def test_students_fetch_their_feedback(course):
    for student in ("alice", "bob"):
        pages = course["feedback"][student]
        assert len(pages) == 1, f"{student} fetched {pages}"
        score = course["scores"][student]["score"]
        assert f"{ASSIGNMENT} (Score: {score:.1f} / {FULL_MARKS:.1f})" in \
            re.sub(r"\s+", " ", pages[0].read_text())


def test_untouched_hidden_test_cells_raise_no_checksum_warning(course):
    # only the submission whose test cells were edited is reported, once per test cell
    warnings = re.findall(r"Attribute 'checksum' for cell (\S+) has changed",
                          course["logs"]["autograde"])
    assert sorted(warnings) == sorted([*VISIBLE_POINTS, *HIDDEN_POINTS])


def test_the_course_extra_installs_the_students_config():
    import tomllib
    project = tomllib.loads((COURSE.parent / "pyproject.toml").read_text())
    data_files = project["tool"]["setuptools"]["data-files"]
    assert "jupyter-config/nbgrader_config.py" in data_files["etc/jupyter"]
