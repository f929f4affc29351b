"""``minioptim lessons``: copy the course's notebooks (every lesson, and the student version of
every assignment) into a folder of the student's, never overwriting an edited copy."""
from __future__ import annotations

import os
import shlex
import sys

from .options import CliError, add_common, output_folder

DEFAULT_OUT = "minioptim-lessons"


def register(sub) -> None:
    p = sub.add_parser(
        "lessons", help="copy the course's lessons and assignments into a folder of yours",
        description="Copies every lesson notebook, and the student version of every nbgrader "
                    "assignment (in assignments/<name>/), into a folder. A file that is already "
                    "there is never overwritten: an identical one is left alone, one that differs "
                    "(your edited copy) is kept as it is and named; for a fresh copy of it, give "
                    "another --out.")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"the folder to copy into, made if needed (default ./{DEFAULT_OUT})")
    add_common(p, backend=False)
    p.set_defaults(run=run)


def _program(name: str) -> str:
    """How to call the program ``name`` of this Python's environment: its bare name when the
    environment's folder of programs is on PATH (activated), else its path there."""
    here = os.path.dirname(sys.executable)
    on_path = [os.path.realpath(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return name if os.path.realpath(here) in on_path else os.path.join(here, name)


def _has_jupyterlab() -> bool:
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("jupyterlab", "ipywidgets"))


def run(args) -> int:
    from ..coursefiles import CourseFilesError, copy_course, course_files

    out = output_folder(args.out)
    try:
        course = course_files()
        report = copy_course(course, out)
    except CourseFilesError as exc:
        raise CliError(str(exc)) from None
    n_lessons, n_assign = len(course.lessons), len(course.assignments)
    print(f"minioptim lessons: {n_lessons} lesson{'s' * (n_lessons != 1)} and {n_assign} "
          f"assignment notebook{'s' * (n_assign != 1)} (assignments/) in {out}")
    if report.written:
        print(f"  copied: {', '.join(report.written)}")
    if report.unchanged:
        print(f"  already there, unchanged: {', '.join(report.unchanged)}")
    if report.kept:
        print(f"  kept as they are, never overwritten (they differ from this version's copy: "
              f"your edits, or an earlier version's): {', '.join(report.kept)}; for a fresh copy "
              f"run: minioptim lessons --out ANOTHER_FOLDER")
    command = f"{shlex.quote(_program('jupyter'))} lab {shlex.quote(out)}"
    if _has_jupyterlab():
        print(f"Next: {command}")
    else:
        print(f"Next: {shlex.quote(_program('pip'))} install \"minioptim[course]\" (JupyterLab "
              f"and ipywidgets), then {command}")
    return 0
