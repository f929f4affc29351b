"""The nbgrader round trip of one assignment, and the tests every assignment must pass.

An assignment's test file describes it (``Assignment``: its points, its solution cells, one
plausible wrong solution and the tests that wrong solution must fail) and takes the tests:
``globals().update(pipeline_tests(SPEC))``.

The round trip runs in a temporary copy of the course (``tests/nbgrader_course.py``: a fresh
machine, ``PATH`` with the system folders alone, a temporary exchange given by
``$MINIOPTIM_EXCHANGE``):

1. the instructor runs ``generate_assignment`` (and ``release_assignment``);
2. (for a spec with ``exchange=True``: the machinery is the same for every assignment, so one
   assignment, ``adam``, takes this round trip) two students, ``alice`` (the reference) and
   ``bob`` (the plausible wrong solution), run ``fetch_assignment NAME --course minioptim``, fill
   in the notebook and ``submit`` it, and the instructor runs ``collect``;
3. five hand-made submissions are put in ``submitted/`` (the way to grade notebooks returned by
   e-mail or a learning platform);
4. the instructor runs ``autograde``; when the spec has answers graded by hand (``manual``:
   nbgrader's "manually graded answer" cells), the autograded scores leave them out and flag them,
   and the instructor then grades each flagged answer through nbgrader's ``Gradebook`` API, as
   formgrader does (here every flagged answer is the reference answer and gets its full points);
5. the instructor runs ``generate_feedback`` (``release_feedback``) and ``export``;
6. (through the exchange) each student runs ``fetch_feedback`` and finds the feedback page with
   the score.

The hand-made submissions, built from the *released* notebook as a student would hand them in:

- ``perfect``: the solution cells (answers graded by hand included) filled with the reference
  solutions -> full marks;
- ``untouched``: the released notebook as it is -> 0 (an answer left as released is scored 0 by
  autograding, not flagged);
- ``wrong``: the reference with the spec's plausible mistake -> loses exactly the points of the
  tests the spec names;
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
from dataclasses import dataclass, field

import nbformat
import pytest
from nbgrader_course import COURSE, COURSE_ID, CourseRun

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)
HANDED_IN = ("perfect", "untouched", "wrong", "deleted_tests", "edited_tests")
EXCHANGE_STUDENTS = {"alice": "perfect", "bob": "wrong"}   # student -> what they write
UNANSWERED = ("untouched", "edited_tests")    # hand in the released answers as they are


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong solution: in solution cell ``grade_id``, ``line`` (which the reference
    has exactly once) becomes ``instead``; it must fail exactly the tests ``fails``."""
    grade_id: str
    line: str
    instead: str
    fails: frozenset[str]
    passes_visible: bool = True      # a mistake the visible tests cannot see

    def apply(self, grade_id: str, text: str) -> str:
        if grade_id != self.grade_id:
            return text
        assert text.count(self.line) == 1, \
            f"the reference {grade_id} has not exactly one line {self.line!r}"
        return text.replace(self.line, self.instead)


@dataclass(frozen=True)
class Assignment:
    name: str
    visible: dict[str, float]          # grade_id -> points, the tests students see
    hidden: dict[str, float]           # grade_id -> points, the cells holding hidden tests
    solution_ids: tuple[str, ...]      # the solution cells, in order (answers graded by hand too)
    mistake: Mistake
    full_marks: float = 10.0
    min_secret_lines: int = 30         # lines of solutions and hidden tests seen nowhere else
    # grade_id -> points of the answers the instructor grades by hand (nbgrader's "manually
    # graded answer": a solution cell that is also a grade cell, usually Markdown)
    manual: dict[str, float] = field(default_factory=dict)
    # the round trip through the exchange (alice and bob fetch, submit and fetch their feedback):
    # the same nbgrader machinery for every assignment, so it runs for one (adam); the others
    # save its nine nbgrader commands and two autograded submissions
    exchange: bool = False

    @property
    def through_exchange(self) -> dict[str, str]:
        return EXCHANGE_STUDENTS if self.exchange else {}

    @property
    def students(self) -> tuple[str, ...]:
        return HANDED_IN + tuple(self.through_exchange)

    @property
    def tests(self) -> dict[str, float]:
        """The test cells: what autograding scores."""
        return {**self.visible, **self.hidden}

    @property
    def points(self) -> dict[str, float]:
        return {**self.tests, **self.manual}

    @property
    def auto_marks(self) -> float:
        return sum(self.tests.values())

    @property
    def source(self):
        return COURSE / "source" / self.name / f"{self.name}.ipynb"


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_grade(cell) -> bool:
    return bool(meta(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(meta(cell).get("solution"))


def is_test(cell) -> bool:
    """A test cell (graded, locked), not an answer graded by hand."""
    return is_grade(cell) and not is_solution(cell)


def strip_markers(source: str) -> str:
    """A solution cell as a student would write it: the instructor's code, without the markers."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _tree(path) -> dict:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*")}


def first_backend(backend_name):
    first = os.environ.get("MINIOPTIM_BACKEND") or "numpy"
    if backend_name != first:
        pytest.skip(f"the nbgrader pipeline runs on the host in its own kernels; it is exercised "
                    f"once, on the {first} run")


def submissions(spec: Assignment, release, source) -> dict:
    solutions = {meta(c)["grade_id"]: strip_markers(c.source)
                 for c in source.cells if is_solution(c)}

    def filled(fix=lambda grade_id, text: text):
        nb = nbformat.from_dict(release)                       # a deep copy
        for cell in nb.cells:
            if is_solution(cell):
                grade_id = meta(cell)["grade_id"]
                cell.source = fix(grade_id, solutions[grade_id])
        return nb

    deleted = filled()
    deleted.cells = [c for c in deleted.cells if not is_test(c)]
    edited = nbformat.from_dict(release)
    for cell in edited.cells:
        if is_test(cell):
            cell.source = "pass  # all good"
    return {"perfect": filled(), "untouched": nbformat.from_dict(release),
            "wrong": filled(spec.mistake.apply), "deleted_tests": deleted,
            "edited_tests": edited}


def read_scores(db_url: str, name: str, students) -> dict:
    """Each student's score in the gradebook: total, per cell, the cells below full marks and
    those waiting for a grade by hand."""
    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(db_url, COURSE_ID) as gb:
        for student in students:
            submission = gb.find_submission(name, student)
            notebook = gb.find_submission_notebook(name, name, student)
            scores[student] = {
                "score": float(submission.score), "max_score": float(submission.max_score),
                "cells": {g.name: float(g.score) for g in notebook.grades},
                "failed": {g.name for g in notebook.grades if g.score < g.max_score},
                "flagged": {g.name for g in notebook.grades if g.needs_manual_grade},
                "needs_manual_grade": bool(submission.needs_manual_grade)}
    return scores


def grade_by_hand(db_url: str, name: str, manual: dict[str, float], students) -> dict:
    """What an instructor does in formgrader, through nbgrader's ``Gradebook`` API: every answer
    autograding flagged gets a score (here its full points: these submissions hold the reference
    answer) and is no longer flagged. Returns student -> {grade_id: score given}."""
    from nbgrader.api import Gradebook
    given = {}
    with Gradebook(db_url, COURSE_ID) as gb:
        for student in students:
            for grade_id, points in manual.items():
                grade = gb.find_grade(grade_id, name, name, student)
                if grade.needs_manual_grade:
                    grade.manual_score = points
                    grade.needs_manual_grade = False
                    given.setdefault(student, {})[grade_id] = points
        gb.db.commit()
    return given


def run_pipeline(spec: Assignment, tmp) -> dict:
    name = spec.name
    before = _tree(COURSE)
    run = CourseRun(tmp)
    logs = {"generate_assignment": run.instructor("generate_assignment", name, "--force")}
    if spec.exchange:
        logs["release_assignment"] = run.instructor("release_assignment", name, "--force")
    root = run.root
    source = nbformat.read(root / "source" / name / f"{name}.ipynb", as_version=4)
    release_path = root / "release" / name / f"{name}.ipynb"
    release = nbformat.read(release_path, as_version=4)
    handed = submissions(spec, release, source)

    fetched = {}
    for student, writes in spec.through_exchange.items():
        run.student(student, "fetch_assignment", name, "--course", COURSE_ID)
        path = run.student_dir(student) / name / f"{name}.ipynb"
        fetched[student] = nbformat.read(path, as_version=4)
        nbformat.write(handed[writes], path)
        logs[f"submit {student}"] = run.student(student, "submit", name, "--course", COURSE_ID)
    if spec.exchange:
        logs["collect"] = run.instructor("collect", name)

    for student in HANDED_IN:
        folder = root / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(handed[student], folder / f"{name}.ipynb")

    logs["autograde"] = run.instructor("autograde", name, "--force")
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    autograded_scores = read_scores(db_url, name, spec.students)
    manual_grades = grade_by_hand(db_url, name, spec.manual, spec.students)
    logs["generate_feedback"] = run.instructor("generate_feedback", name, "--force")
    # feedback goes back through the exchange for the submissions that came through it (the
    # hand-made ones have no exchange record: their feedback pages are handed back by hand)
    for student in spec.through_exchange:
        logs[f"release_feedback {student}"] = run.instructor("release_feedback", name,
                                                             "--student", student)
    logs["export"] = run.instructor("export")
    feedback = {}
    for student in spec.through_exchange:
        run.student(student, "fetch_feedback", name, "--course", COURSE_ID)
        feedback[student] = sorted((run.student_dir(student) / name / "feedback")
                                   .glob(f"*/{name}.html"))

    scores = read_scores(db_url, name, spec.students)
    autograded = {s: nbformat.read(root / "autograded" / s / name / f"{name}.ipynb",
                                   as_version=4) for s in spec.students}
    with open(root / "grades.csv", newline="") as f:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)
                  if row["assignment"] == name}
    return {"root": root, "source": source, "release": release, "release_text":
            release_path.read_text(), "scores": scores, "autograded": autograded,
            "logs": logs, "timings": run.timings, "before": before, "fetched": fetched,
            "feedback": feedback, "grades": grades, "exchange": run.exchange,
            "autograded_scores": autograded_scores, "manual_grades": manual_grades}


def pipeline_tests(spec: Assignment) -> dict:
    """The fixtures and tests of ``spec``'s round trip, for the test module's globals."""
    name, points = spec.name, spec.points
    wrong_loses = sum(points[k] for k in spec.mistake.fails)

    @pytest.fixture(scope="module")
    def pipeline(tmp_path_factory):
        return run_pipeline(spec, tmp_path_factory.mktemp("nbgrader"))

    @pytest.fixture
    def course(backend_name, request):
        first_backend(backend_name)
        return request.getfixturevalue("pipeline")

    def test_source_notebook_cells_and_points(backend_name):
        first_backend(backend_name)
        nb = nbformat.read(spec.source, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), \
            "store the source notebook without outputs (Kernel > Restart & Clear Output)"
        grades = {meta(c)["grade_id"]: c for c in nb.cells if is_grade(c)}
        assert {k: float(meta(c)["points"]) for k, c in grades.items()} == points
        assert sum(points.values()) == spec.full_marks
        for grade_id, cell in grades.items():
            hidden = "### BEGIN HIDDEN TESTS" in cell.source
            assert hidden == (grade_id in spec.hidden), \
                f"{grade_id}: hidden tests belong exactly in the hidden cells"
            if grade_id in spec.manual:         # an answer: a solution cell that is graded
                assert is_solution(cell) and grade_id in spec.solution_ids, grade_id
            else:
                assert meta(cell)["locked"] and not is_solution(cell), grade_id
        solutions = [c for c in nb.cells if is_solution(c)]
        assert tuple(meta(c)["grade_id"] for c in solutions) == spec.solution_ids
        # code answers hold one solution region; a Markdown answer may be a region or all of it
        assert all(c.source.count("### BEGIN SOLUTION") == 1 for c in solutions
                   if c.cell_type == "code")
        assert all(c.source.count("### BEGIN SOLUTION") <= 1 for c in solutions)
        assert spec.mistake.fails <= set(points) and spec.mistake.fails

    def test_release_has_no_solution_and_no_hidden_test(course):
        source, release, text = course["source"], course["release"], course["release_text"]
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS",
                       "END HIDDEN TESTS"):
            assert marker not in text
        # every line inside a solution or hidden-test region that appears nowhere else
        outside, inside = set(), set()
        for cell in source.cells:
            if is_solution(cell) and not REGION.search(cell.source):
                # a solution cell without a region is replaced whole
                inside |= {line.strip() for line in cell.source.splitlines()}
                continue
            inside |= {line.strip() for m in REGION.finditer(cell.source)
                       for line in m.group(2).splitlines()}
            outside |= {line.strip() for line in REGION.sub("", cell.source).splitlines()}
        secret = {line for line in inside - outside if line and not line.startswith("#")}
        assert len(secret) >= spec.min_secret_lines, \
            "the regions should hold the solutions and the hidden tests"
        released = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
        assert not secret & released, f"released secrets: {sorted(secret & released)[:5]}"
        for cell in release.cells:
            if is_solution(cell):
                # the course's code stub (assignments/nbgrader_config.py), nbgrader's text stub
                stub = ("raise NotImplementedError()" if cell.cell_type == "code"
                        else "YOUR ANSWER HERE")
                assert stub in cell.source, meta(cell)["grade_id"]
        assert [c.id for c in release.cells] == [c.id for c in source.cells]
        released_points = {meta(c)["grade_id"]: float(meta(c)["points"])
                           for c in release.cells if is_grade(c)}
        assert released_points == points
        assert all(c.metadata.get("editable") is False and c.metadata.get("deletable") is False
                   for c in release.cells if is_test(c))
        # an answer graded by hand: editable, not deletable
        assert all(c.metadata.get("editable", True) and c.metadata.get("deletable") is False
                   for c in release.cells if is_grade(c) and is_solution(c))

    def test_the_package_ships_nbgraders_release(course):
        """What ``minioptim lessons`` gives a student (made without nbgrader when the package is
        built, minioptim/coursefiles.py) is, byte for byte, the notebook nbgrader releases."""
        from minioptim.coursefiles import from_repository
        shipped = from_repository(COURSE.parent)[f"assignments/{name}/{name}.ipynb"]
        assert shipped.decode("utf-8") == course["release_text"]

    def test_reference_solution_scores_full_marks(course):
        score = course["scores"]["perfect"]
        assert score["max_score"] == spec.full_marks
        assert score["failed"] == set(), course["logs"]["autograde"][-4000:]
        assert score["score"] == spec.full_marks

    def test_untouched_release_scores_zero(course):
        score = course["scores"]["untouched"]
        assert score["score"] == 0.0
        assert score["cells"] == {k: 0.0 for k in points}

    def test_plausible_mistake_loses_exactly_the_points_of_the_tests_it_breaks(course):
        score = course["scores"]["wrong"]
        assert score["failed"] == spec.mistake.fails, course["logs"]["autograde"][-4000:]
        assert score["score"] == spec.full_marks - wrong_loses
        if spec.mistake.passes_visible:
            # a student could not have seen the mistake without the hidden tests
            assert all(score["cells"][k] == v for k, v in spec.visible.items())

    def test_deleted_test_cells_are_restored_and_graded(course):
        assert course["scores"]["deleted_tests"]["score"] == spec.full_marks
        assert course["scores"]["deleted_tests"]["cells"] == points
        graded = course["autograded"]["deleted_tests"]
        restored = [c for c in graded.cells if is_test(c)]
        assert [meta(c)["grade_id"] for c in restored] == \
            [meta(c)["grade_id"] for c in course["source"].cells if is_test(c)]
        for cell in restored:
            assert "was missing from the submission" in cell.source
            assert not any(o.output_type == "error" for o in cell.outputs)
        hidden = [c for c in restored if meta(c)["grade_id"] in spec.hidden]
        assert all("### BEGIN HIDDEN TESTS" in c.source for c in hidden), \
            "the restored cells must carry the hidden tests"

    def test_edited_test_cells_are_restored_and_graded(course):
        assert course["scores"]["edited_tests"]["score"] == 0.0
        graded = course["autograded"]["edited_tests"]
        assert all("pass  # all good" not in c.source for c in graded.cells if is_test(c))

    def test_feedback_is_generated_for_every_student(course):
        for student in spec.students:
            page = course["root"] / "feedback" / student / name / f"{name}.html"
            assert page.is_file(), student
            score = course["scores"][student]["score"]
            headline = f"{name} (Score: {score:.1f} / {spec.full_marks:.1f})"
            assert headline in re.sub(r"\s+", " ", page.read_text()), f"{student}: no {headline!r}"

    def test_the_repository_is_untouched(course):
        assert _tree(COURSE) == course["before"], "the pipeline wrote into the repository's course"
        assert course["root"] != COURSE and COURSE not in course["root"].parents

    def test_students_fetch_what_was_released(course):
        released = [c.source for c in course["release"].cells]
        for student, nb in course["fetched"].items():
            assert [c.source for c in nb.cells] == released, student
        assert (course["exchange"] / COURSE_ID / "outbound" / name).is_dir()

    def test_grades_are_exported(course):
        assert set(course["grades"]) == set(spec.students)
        assert course["grades"]["perfect"] == spec.full_marks
        assert course["grades"]["wrong"] == spec.full_marks - wrong_loses

    def test_submissions_through_the_exchange_are_graded_and_exported(course):
        assert course["scores"]["alice"]["score"] == spec.full_marks
        assert course["scores"]["bob"]["failed"] == spec.mistake.fails
        assert course["grades"]["alice"] == spec.full_marks
        assert course["grades"]["bob"] == spec.full_marks - wrong_loses

    def test_students_fetch_their_feedback(course):
        for student in spec.through_exchange:
            pages = course["feedback"][student]
            assert len(pages) == 1, f"{student} fetched {pages}"
            score = course["scores"][student]["score"]
            assert f"{name} (Score: {score:.1f} / {spec.full_marks:.1f})" in \
                re.sub(r"\s+", " ", pages[0].read_text())

    def test_untouched_hidden_test_cells_raise_no_checksum_warning(course):
        # only the submission whose test cells were edited is reported, once per test cell
        warnings = re.findall(r"Attribute 'checksum' for cell (\S+) has changed",
                              course["logs"]["autograde"])
        assert sorted(warnings) == sorted(spec.tests)

    def test_autograding_scores_the_tests_and_flags_the_answers_to_grade_by_hand(course):
        before = course["autograded_scores"]
        for student in spec.students:
            assert before[student]["max_score"] == spec.full_marks, student
            answered = student not in UNANSWERED
            # an answer graded by hand counts 0 until graded; it waits for a grade if answered
            assert all(before[student]["cells"][k] == 0.0 for k in spec.manual), student
            assert before[student]["flagged"] == (set(spec.manual) if answered else set()), \
                student
            assert before[student]["needs_manual_grade"] == (answered and bool(spec.manual))
        right = ["perfect", "deleted_tests"] + [s for s, w in spec.through_exchange.items()
                                                if w == "perfect"]
        wrong = ["wrong"] + [s for s, w in spec.through_exchange.items() if w == "wrong"]
        for student in right:
            assert before[student]["score"] == spec.auto_marks, student
        for student in wrong:
            assert before[student]["score"] == spec.auto_marks - wrong_loses, student
        for student in UNANSWERED:
            assert before[student]["score"] == 0.0, student

    def test_grades_given_by_hand_complete_the_scores(course):
        given, before, after = (course["manual_grades"], course["autograded_scores"],
                                course["scores"])
        answered = {s for s in spec.students if s not in UNANSWERED}
        assert given == ({s: dict(spec.manual) for s in answered} if spec.manual else {})
        for student in spec.students:
            assert after[student]["flagged"] == set() and not after[student]["needs_manual_grade"]
            hand = sum(given.get(student, {}).values())
            assert after[student]["score"] == before[student]["score"] + hand, student
            assert {k: v for k, v in after[student]["cells"].items() if k not in spec.manual} \
                == {k: v for k, v in before[student]["cells"].items() if k not in spec.manual}
        for student in answered:
            assert {k: after[student]["cells"][k] for k in spec.manual} == spec.manual, student

    exchange_only = {"test_students_fetch_what_was_released",
                     "test_submissions_through_the_exchange_are_graded_and_exported",
                     "test_students_fetch_their_feedback"}
    return {key: value for key, value in locals().items()
            if (key.startswith("test_") and (spec.exchange or key not in exchange_only))
            or key in ("pipeline", "course")}
