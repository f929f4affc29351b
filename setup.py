"""The one build step that pyproject.toml cannot declare: the course's notebooks go into the
package, so that ``pip install minioptim`` gives a student every lesson (``minioptim lessons``).

``build_py`` writes ``minioptim/_notebooks/`` into the package being built, from
``lessons/*.ipynb`` and the student versions of ``assignments/source/<name>/*.ipynb``
(``minioptim/coursefiles.py`` says what it holds and how the student versions are made).

Why a build step: the notebooks stay where the course, nbgrader and the tests use them (no copy
in git), and the student versions must be *made* (solutions and hidden tests removed), which
``package-data`` or a ``package-dir`` mapping cannot do; ``data-files`` would land outside the
package, at a prefix the code cannot find reliably (``--user``, ``--prefix``, ``--target``).
The same step runs for ``pip install .``, ``pip wheel .`` and ``python -m build`` (whose wheel is
built from the sdist: MANIFEST.in puts ``lessons/`` and ``assignments/source/`` in it). An
editable install (``pip install -e .``) skips it: there ``minioptim lessons`` reads the
repository's folders.
"""
import importlib.util
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def _coursefiles():
    """minioptim/coursefiles.py, loaded by its path (standard library only: importing minioptim
    would need its dependencies, which a build environment does not have)."""
    path = os.path.join(HERE, "minioptim", "coursefiles.py")
    spec = importlib.util.spec_from_file_location("_minioptim_build_coursefiles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithCourse(build_py):
    """setuptools' build_py, then the course's notebooks into <build>/minioptim/_notebooks/."""

    def run(self):
        super().run()
        self._course_outputs = []
        if getattr(self, "editable_mode", False):
            return
        course = _coursefiles()
        target = os.path.join(self.build_lib, "minioptim", course.PACKAGE_DATA)
        shutil.rmtree(target, ignore_errors=True)       # nothing left from an earlier build
        self._course_outputs = course.build_package_data(HERE, target)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + list(getattr(self, "_course_outputs", []))


setup(cmdclass={"build_py": BuildPyWithCourse})
