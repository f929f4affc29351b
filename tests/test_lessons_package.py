"""The course's notebooks travel with the package: ``minioptim lessons`` copies every lesson and
the student version of every assignment (no solution, no hidden test) into a folder of the
student's and never overwrites an edited copy; the sdist holds the whole project and the wheel
built from it (as ``python -m build`` builds it) every notebook of the repository.

Files and processes, not arrays: every test runs once, on the first backend.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from checkout import need

need("lessons", "assignments/source", module=True)   # the notebooks the package is built from

from minioptim import cli, coursefiles  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.name for p in (REPO / "lessons").glob("*.ipynb"))
ASSIGNMENTS = sorted(f"assignments/{p.parent.name}/{p.name}"
                     for p in (REPO / "assignments" / "source").glob("*/*.ipynb"))
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "END MARK SCHEME")


@pytest.fixture(autouse=True)
def _once(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("files and processes, not arrays: run once, on the first backend")


def _lessons(capsys, *argv) -> tuple[int, str, str]:
    status = cli.main(["lessons", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _source(relative: str) -> dict:
    """The instructor's notebook of a student notebook's path ``assignments/<name>/<nb>``."""
    _, name, notebook = relative.split("/")
    return json.loads((REPO / "assignments" / "source" / name / notebook).read_text())


# -- minioptim lessons ---------------------------------------------------------------------------

def test_the_repository_has_lessons_and_assignments():
    assert LESSONS and ASSIGNMENTS


def test_minioptim_lessons_copies_every_lesson_and_student_notebook(tmp_path, capsys):
    out = tmp_path / "course"
    status, stdout, err = _lessons(capsys, "--out", str(out))
    assert status == 0, err
    copied = _files(out)
    assert sorted(copied) == sorted(LESSONS + ASSIGNMENTS)
    for name in LESSONS:                                  # the lessons byte for byte
        assert copied[name] == (REPO / "lessons" / name).read_bytes(), name
    for path in ASSIGNMENTS:                              # the student versions
        assert copied[path] == coursefiles.notebook_bytes(coursefiles.student_version(
            _source(path))), path
    assert f"{len(LESSONS)} lesson" in stdout and str(out) in stdout
    assert f"lab {out}" in stdout.splitlines()[-1]        # the next command
    assert not [p for p in out.rglob(".*")], "no temporary file is left behind"


def test_the_default_folder_is_minioptim_lessons(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = _lessons(capsys)
    assert status == 0, err
    assert sorted(_files(tmp_path / "minioptim-lessons")) == sorted(LESSONS + ASSIGNMENTS)


def test_a_second_run_leaves_identical_files_alone(tmp_path, capsys):
    out = tmp_path / "course"
    assert _lessons(capsys, "--out", str(out))[0] == 0
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*.ipynb")}
    status, stdout, _ = _lessons(capsys, "--out", str(out))
    assert status == 0
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*.ipynb")} == before
    assert "already there, unchanged" in stdout and "copied" not in stdout


def test_an_edited_copy_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "course"
    assert _lessons(capsys, "--out", str(out))[0] == 0
    edited, removed = out / LESSONS[0], out / ASSIGNMENTS[0]
    text = edited.read_text().replace('"cells": [', '"cells": [{"cell_type": "markdown", '
                                      '"id": "mine", "metadata": {}, "source": "my notes"},', 1)
    edited.write_text(text)
    removed.unlink()
    status, stdout, err = _lessons(capsys, "--out", str(out))
    assert status == 0, err
    assert edited.read_text() == text                     # the student's copy, untouched
    assert removed.is_file()                              # what was missing is copied again
    kept = next(line for line in stdout.splitlines() if "never overwritten" in line)
    assert LESSONS[0] in kept and "--out" in kept
    assert ASSIGNMENTS[0] in next(line for line in stdout.splitlines() if "copied" in line)
    # a fresh copy in another folder, as the message says
    fresh = tmp_path / "fresh"
    assert _lessons(capsys, "--out", str(fresh))[0] == 0
    assert (fresh / LESSONS[0]).read_bytes() == (REPO / "lessons" / LESSONS[0]).read_bytes()


def test_mistakes_are_one_line_with_status_2(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    status, _, err = _lessons(capsys, "--out", str(a_file))
    assert status == 2 and len(err.strip().splitlines()) == 1 and "not a folder" in err

    def nowhere(*args, **kwargs):
        raise coursefiles.CourseFilesError("this minioptim (/x) holds no lessons: ...")
    monkeypatch.setattr(coursefiles, "course_files", nowhere)
    status, _, err = _lessons(capsys, "--out", str(tmp_path / "out"))
    assert status == 2
    assert err.strip() == "minioptim lessons: error: this minioptim (/x) holds no lessons: ..."


# -- the student versions ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ASSIGNMENTS)
def test_the_student_notebooks_hold_no_solution_and_no_hidden_test(path):
    source = _source(path)
    student = json.loads(coursefiles.course_files().files[path])
    text = json.dumps(student)
    for marker in MARKERS:
        assert marker not in text, f"{path}: {marker!r}"
    # every line of a solution or hidden-test region that appears nowhere else in the source
    inside, outside = set(), set()
    for cell in source["cells"]:
        cell_text = "".join(cell["source"])
        inside |= {line.strip() for m in REGION.finditer(cell_text)
                   for line in m.group(2).splitlines()}
        outside |= {line.strip() for line in REGION.sub("", cell_text).splitlines()}
    secret = {line for line in inside - outside if line and not line.startswith("#")}
    assert secret, f"{path}: the source should hold solutions and hidden tests"
    released = {line.strip() for cell in student["cells"] for line in "".join(cell["source"])
                .splitlines()}
    assert not secret & released, f"{path}: released secrets {sorted(secret & released)[:5]}"
    for cell in student["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            # the course's code stub; nbgrader's text stub for a written (Markdown) answer
            stub = "raise NotImplementedError()" if cell["cell_type"] == "code" \
                else "YOUR ANSWER HERE"
            assert stub in "".join(cell["source"])
        if meta.get("grade") and not meta.get("solution"):       # a test cell: locked
            assert cell["metadata"]["editable"] is False and cell["metadata"]["deletable"] is False
        if meta.get("grade") and meta.get("solution"):           # an answer graded by hand
            assert cell["metadata"]["deletable"] is False
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", ASSIGNMENTS)
def test_the_student_notebooks_are_what_nbgrader_releases(path):
    """generate_assignment's preprocessors, in its order, with the course's settings (the whole
    nbgrader pipeline is compared in test_assignment_adam.py)."""
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ClearOutput, ClearSolutions, ComputeChecksums, LockCells)
    _, name, notebook = path.split("/")
    nb = nbformat.read(REPO / "assignments" / "source" / name / notebook, as_version=4)
    resources = {}
    for step in (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
                 ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata):
        nb, resources = step().preprocess(nb, resources)
    released = nbformat.writes(nb) + "\n"
    assert coursefiles.course_files().files[path].decode("utf-8") == released


def test_a_solution_region_outside_a_solution_cell_is_refused():
    nb = {"metadata": {"kernelspec": {"language": "python"}}, "cells": [
        {"cell_type": "code", "metadata": {}, "source": "### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
         "outputs": [], "execution_count": None}]}
    with pytest.raises(coursefiles.CourseFilesError, match=r"x.ipynb, cell \[0\]: a solution"):
        coursefiles.student_version(nb, "x.ipynb")


# -- the sdist and the wheel built from it -------------------------------------------------------

SDIST_PARTS = ("README.md", "pyproject.toml", "setup.py", "MANIFEST.in", ".ci", "autodiff",
               "minioptim", "tests", "lessons", "assignments", "jupyter-config", "docs",
               "benchmarks")
JUNK = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".hypothesis", "release", "submitted",
        "autograded", "feedback", "gradebook.db", "_notebooks")


def _backend(hook: str, cwd: Path, out: Path) -> Path:
    """Run setuptools' PEP 517 ``hook`` (build_sdist, build_wheel) in ``cwd``, as a build
    frontend does; returns the file it made."""
    code = f"from setuptools import build_meta; print(build_meta.{hook}({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist of a copy of the checkout, and the wheel built from the unpacked sdist."""
    import shutil
    need(*SDIST_PARTS)
    tmp = tmp_path_factory.mktemp("build")
    tree = tmp / "tree"
    for part in SDIST_PARTS:
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, tree / part, ignore=shutil.ignore_patterns(*JUNK))
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy2(REPO / part, tree / part)
    sdist = _backend("build_sdist", tree, tmp / "dist")
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}   # 3.11.4+
        tar.extractall(tmp / "unpacked", **safe)
    top = members[0].split("/")[0]
    wheel = _backend("build_wheel", tmp / "unpacked" / top, tmp / "dist")
    return {"sdist": {m.split("/", 1)[1] for m in members if "/" in m}, "wheel": wheel}


def test_the_sdist_is_the_whole_project(built):
    names = built["sdist"]
    expected = {p.relative_to(REPO).as_posix() for part in ("tests", "lessons", "docs",
                                                            "benchmarks", "jupyter-config")
                for p in (REPO / part).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
                and ".ipynb_checkpoints" not in p.parts}
    expected |= {p.relative_to(REPO).as_posix() for p in (REPO / "assignments" / "source")
                 .rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    expected |= {"README.md", "pyproject.toml", "setup.py", "MANIFEST.in", ".ci/run",
                 "assignments/README.md", "assignments/nbgrader_config.py",
                 "tests/conftest.py", "tests/params.py", "tests/strategies.py",
                 "tests/nbgrader_course.py", "tests/checkout.py"}
    assert not expected - names, f"missing from the sdist: {sorted(expected - names)}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_ships_every_lesson_and_student_notebook(built, tmp_path):
    prefix = f"minioptim/{coursefiles.PACKAGE_DATA}/"
    with zipfile.ZipFile(built["wheel"]) as whl:
        for info in whl.infolist():
            if info.filename.startswith(prefix):
                whl.extract(info, tmp_path)
        index = json.load(io.BytesIO(whl.read(prefix + coursefiles.INDEX)))
    assert index["lessons"] == LESSONS, "a lesson of the repository is not in the wheel"
    assert index["assignments"] == ASSIGNMENTS
    shipped = coursefiles.course_files(package_folder=tmp_path / prefix)
    assert shipped.files == coursefiles.from_repository(REPO)
    assert shipped.origin.startswith("the installed package")


def test_a_damaged_installation_is_named(tmp_path):
    folder = tmp_path / coursefiles.PACKAGE_DATA
    coursefiles.build_package_data(REPO, folder)
    assert coursefiles.course_files(package_folder=folder).lessons == LESSONS
    (folder / LESSONS[0]).write_text("{}")
    with pytest.raises(coursefiles.CourseFilesError,
                       match=f"{LESSONS[0]} was changed after installation.*reinstall"):
        coursefiles.course_files(package_folder=folder)
