"""The course's notebooks for students, shipped inside the package: every lesson and the student
version of every assignment, so that ``pip install minioptim`` is enough to start the course
(``minioptim lessons`` copies them out).

The repository keeps them where the course uses them: ``lessons/NN_name.ipynb`` and
``assignments/source/<name>/*.ipynb`` (the instructor's versions, with solutions and hidden
tests). The build step in ``setup.py`` calls ``build_package_data`` to write, into the package
being built, ``minioptim/_notebooks/``, laid out as a student gets it:

- ``NN_name.ipynb``: the lessons, byte for byte;
- ``assignments/<name>/<notebook>.ipynb``: what nbgrader's ``generate_assignment`` gives students
  (``student_version``: test cells locked, solution regions replaced by the code stub, outputs
  cleared, hidden tests removed, checksums as nbgrader computes them), made with the standard
  library alone because the build has no nbgrader; the tests compare it with nbgrader's own
  release;
- ``index.json``: the lessons, the assignments' notebooks and every file's SHA-256.

``course_files()`` reads them back at run time; an editable install or a plain checkout has no
``_notebooks/`` and reads the repository's folders instead (student versions made on the fly).
``copy_course(files, out)`` is ``minioptim lessons``: a file that is not in ``out`` is written
(atomically), one that is there and identical is left alone, one that differs (a student's
edited copy) is never overwritten.

Only the standard library is imported at import time: ``setup.py`` loads this file by its path,
without importing minioptim, whose dependencies a build environment does not have.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re

PACKAGE_DATA = "_notebooks"           # minioptim/_notebooks/ in a built package
INDEX = "index.json"
ASSIGNMENTS = "assignments"           # the subfolder of the student versions
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"   # = assignments/nbgrader_config.py
TEXT_STUB = "YOUR ANSWER HERE"   # nbgrader's default ClearSolutions.text_stub (Markdown answers)
# nbgrader's region markers (a line containing one opens or closes a region)
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MARK_SCHEME = ("BEGIN MARK SCHEME", "END MARK SCHEME")
_LESSON_NAME = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")


class CourseFilesError(Exception):
    """The course's notebooks cannot be found, read or made."""


# -- the student version of an assignment (nbgrader's generate_assignment, standard library) ----

def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_grade(cell) -> bool:
    return bool(_meta(cell).get("grade", False))


def _is_solution(cell) -> bool:
    return bool(_meta(cell).get("solution", False))


def _is_task(cell) -> bool:
    return bool(_meta(cell).get("task", False))


def _is_locked(cell) -> bool:
    if "nbgrader" not in cell.get("metadata", {}) or _is_solution(cell):
        return False
    return True if _is_grade(cell) else bool(_meta(cell).get("locked", False))


def _replace_region(source: str, markers, stub: str | None, where: str) -> tuple[str, bool]:
    """``source`` with every region between the markers removed (replaced by ``stub``, indented
    like the opening line, when one is given); and whether there was one."""
    begin, end = markers
    lines, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise CourseFilesError(f"{where}: a '{begin}' inside another one")
            inside = found = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                lines += [indent + s for s in stub.split("\n")]
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise CourseFilesError(f"{where}: '{begin}' has no '{end}'")
    return "\n".join(lines), found


def _checksum(cell: dict) -> str:
    """nbgrader.utils.compute_checksum."""
    m = hashlib.md5()
    for part in (cell["source"], cell["cell_type"], str(_is_grade(cell)), str(_is_solution(cell)),
                 str(_is_locked(cell)), _meta(cell)["grade_id"]):
        m.update(part.encode("utf-8"))
    if _is_grade(cell):
        m.update(str(float(_meta(cell)["points"])).encode("utf-8"))
    return m.hexdigest()


def student_version(nb: dict, name: str = "notebook") -> dict:
    """The notebook nbgrader's ``generate_assignment`` releases from the instructor's ``nb`` (a
    notebook as JSON), with the course's settings (``assignments/nbgrader_config.py``)."""
    nb = copy.deepcopy(nb)
    language = nb.get("metadata", {}).get("kernelspec", {}).get("language", "python")
    if language != "python":
        raise CourseFilesError(f"{name}: a {language} notebook; the course's stubs are Python")
    for index, cell in enumerate(nb.get("cells", [])):
        where = f"{name}, cell [{index}]"
        source = cell.get("source", "")
        cell["source"] = source = "".join(source) if isinstance(source, list) else source
        metadata = cell.setdefault("metadata", {})
        # LockCells
        if _is_solution(cell):
            metadata["deletable"] = False
        elif _is_grade(cell) or _is_locked(cell):
            metadata["deletable"] = metadata["editable"] = False
        # ClearSolutions
        stub = CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB
        source, replaced = _replace_region(source, SOLUTION, stub, where)
        if replaced and not _is_solution(cell):
            raise CourseFilesError(f"{where}: a solution region in a cell that is not a solution "
                                   f"cell")
        if _is_solution(cell) and not replaced:
            source = stub
        # ClearOutput
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            metadata.pop("collapsed", None)
            metadata.pop("scrolled", None)
        # ClearHiddenTests, ClearMarkScheme
        source, removed = _replace_region(source, HIDDEN_TESTS, None, where)
        if removed and not _is_grade(cell):
            raise CourseFilesError(f"{where}: hidden tests in a cell that is not a test cell")
        source, removed = _replace_region(source, MARK_SCHEME, None, where)
        if removed and not _is_task(cell):
            raise CourseFilesError(f"{where}: a mark scheme in a cell that is not a task cell")
        cell["source"] = source
        # ComputeChecksums
        if _is_grade(cell) or _is_solution(cell) or _is_locked(cell):
            metadata["nbgrader"]["checksum"] = _checksum(cell)
            metadata["nbgrader"]["cell_type"] = cell["cell_type"]
    nb.get("metadata", {}).pop("celltoolbar", None)
    return nb


def notebook_bytes(nb: dict) -> bytes:
    """``nb`` as nbformat writes it (sources as lists of lines, sorted keys, one-space indent)."""
    nb = copy.deepcopy(nb)
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("trusted", None)
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
    text = json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


# -- the files: from the repository (build step, editable installs) or the package --------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def from_repository(root) -> dict[str, bytes]:
    """Path in the student's folder -> content, made from the checkout at ``root``: every
    ``lessons/*.ipynb`` as it is, and the student version of every
    ``assignments/source/<name>/*.ipynb`` as ``assignments/<name>/<notebook>.ipynb``."""
    root = os.fspath(root)
    lessons = os.path.join(root, "lessons")
    source = os.path.join(root, "assignments", "source")
    for folder in (lessons, source):
        if not os.path.isdir(folder):
            raise CourseFilesError(f"{folder} is not a folder: the course's notebooks are made "
                                   f"from a checkout of the repository (or its sdist)")
    files = {}
    for entry in sorted(os.listdir(lessons)):
        if entry.endswith(".ipynb"):
            if not _LESSON_NAME.fullmatch(entry):
                raise CourseFilesError(f"lessons/{entry}: lessons are named NN_short_name.ipynb")
            with open(os.path.join(lessons, entry), "rb") as f:
                files[entry] = f.read()
    if not files:
        raise CourseFilesError(f"{lessons} holds no lesson (*.ipynb)")
    for name in sorted(os.listdir(source)):
        folder = os.path.join(source, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            if entry.endswith(".ipynb"):
                where = f"assignments/source/{name}/{entry}"
                try:
                    with open(os.path.join(folder, entry), encoding="utf-8") as f:
                        nb = json.load(f)
                except (OSError, ValueError) as exc:
                    raise CourseFilesError(f"{where}: cannot read it ({exc})") from None
                files[f"{ASSIGNMENTS}/{name}/{entry}"] = notebook_bytes(student_version(nb,
                                                                                        where))
    return files


def _index(files: dict[str, bytes]) -> dict:
    return {"lessons": sorted(p for p in files if "/" not in p),
            "assignments": sorted(p for p in files if p.startswith(ASSIGNMENTS + "/")),
            "sha256": {p: _sha256(files[p]) for p in sorted(files)}}


def build_package_data(root, target) -> list[str]:
    """The build step: write the course's notebooks made from the checkout at ``root`` into
    ``target`` (``<build>/minioptim/_notebooks``) with their index; returns the files written."""
    files = from_repository(root)
    written = []
    for path, data in {**files, INDEX: (json.dumps(_index(files), indent=1) + "\n").encode()}\
            .items():
        out = os.path.join(os.fspath(target), *path.split("/"))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:          # a build folder: nobody reads it while it is built
            f.write(data)
        written.append(out)
    return written


class CourseFiles:
    """The notebooks a student gets: ``files`` (path in the student's folder -> content),
    ``lessons`` and ``assignments`` (those paths), ``origin`` (where they were read)."""

    def __init__(self, files: dict[str, bytes], origin: str):
        self.files, self.origin = files, origin
        index = _index(files)
        self.lessons, self.assignments = index["lessons"], index["assignments"]


def _read_package(folder: str) -> CourseFiles:
    try:
        with open(os.path.join(folder, INDEX), encoding="utf-8") as f:
            index = json.load(f)
        files = {}
        for path, digest in index["sha256"].items():
            with open(os.path.join(folder, *path.split("/")), "rb") as f:
                files[path] = f.read()
            if _sha256(files[path]) != digest:
                raise ValueError(f"{path} was changed after installation")
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise CourseFilesError(f"the course's notebooks in {folder} are damaged ({exc}); "
                               f"reinstall minioptim (pip install --force-reinstall "
                               f"--no-deps minioptim)") from None
    return CourseFiles(files, f"the installed package ({folder})")


def course_files(package_folder=None, repository=None) -> CourseFiles:
    """The course's notebooks: those the package was built with, else (an editable install, a
    checkout on ``PYTHONPATH``) those made from the repository this file lies in."""
    here = os.path.dirname(os.path.abspath(__file__))
    package_folder = package_folder or os.path.join(here, PACKAGE_DATA)
    if os.path.isfile(os.path.join(package_folder, INDEX)):
        return _read_package(package_folder)
    repository = repository or os.path.dirname(here)
    if os.path.isdir(os.path.join(repository, "lessons")):
        return CourseFiles(from_repository(repository), f"the repository ({repository})")
    raise CourseFilesError(f"this minioptim ({here}) holds no lessons: it was installed without "
                           f"its package data; install a released wheel or sdist "
                           f"(pip install --force-reinstall minioptim) or use a checkout of the "
                           f"repository")


# -- minioptim lessons ---------------------------------------------------------------------------

class CopyReport:
    """What ``copy_course`` did: ``written`` (new files), ``unchanged`` (identical, left alone),
    ``kept`` (there and different: a student's edited copy, or an older version's; left alone)."""

    def __init__(self, out: str):
        self.out, self.written, self.unchanged, self.kept = out, [], [], []


def copy_course(course: CourseFiles, out) -> CopyReport:
    """Copy ``course``'s notebooks into the folder ``out`` (made if needed). A file never
    overwrites one that is already there: identical ones are left alone, different ones kept."""
    from autodiff.files import atomic_write

    out = os.path.abspath(os.fspath(out))
    report = CopyReport(out)
    for path in sorted(course.files):
        data = course.files[path]
        target = os.path.join(out, *path.split("/"))
        if os.path.lexists(target):
            try:
                with open(target, "rb") as f:
                    same = f.read() == data
            except OSError:             # a folder, an unreadable file: never touched either
                same = False
            (report.unchanged if same else report.kept).append(path)
            continue
        with atomic_write(target) as f:
            f.write(data)
        report.written.append(path)
    return report


__all__ = ["CourseFiles", "CourseFilesError", "CopyReport", "build_package_data", "copy_course",
           "course_files", "from_repository", "notebook_bytes", "student_version"]
