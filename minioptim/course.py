"""The nbgrader course's shared settings, read by both sides of the course.

- Instructors run nbgrader in ``assignments/``, whose ``nbgrader_config.py`` calls
  ``configure_nbgrader``.
- Students run ``nbgrader fetch_assignment`` / ``submit`` / ``fetch_feedback`` anywhere (or use
  JupyterLab's Assignments tab); installing minioptim (a regular install) puts a config into the
  environment (``<env>/etc/jupyter/nbgrader_config.py``, read by every nbgrader of that
  environment) that calls ``configure_nbgrader`` too.

So both sides agree, with no extra flags, on:

1. The exchange folder, where releases, submissions and feedback meet:
   ``$MINIOPTIM_EXCHANGE`` when set (a folder every user of the course can write, e.g. on a
   JupyterHub or a shared disk); else nbgrader's standard ``/usr/local/share/nbgrader/exchange``
   when an administrator has created it; else a folder of this user's own (``exchange`` in
   minioptim's Jupyter data folder), where one person can play instructor and student on a
   laptop.
2. nbgrader's helper programs: nbgrader runs ``alembic`` from ``PATH``; the folder of the Python
   that runs nbgrader (a virtual environment's ``bin/``) is put first on ``PATH``, so nbgrader
   finds its own tools whether or not the environment is activated.
3. Untouched hidden-test cells are restored quietly. nbgrader stores a test cell's checksum
   before it removes the hidden tests from the student version, so autograding an untouched
   hidden-test cell warns "Attribute 'checksum' ... has changed!" (jupyter/nbgrader#1961). Such
   a cell is recognised by comparing it with the released text and restored without the
   warning; a cell the student really edited is still reported.
"""
from __future__ import annotations

import copy
import os
import sys

EXCHANGE_ENV = "MINIOPTIM_EXCHANGE"
NBGRADER_EXCHANGE = "/usr/local/share/nbgrader/exchange"


def exchange_root() -> str:
    """The exchange folder both sides use (see the module docstring)."""
    chosen = os.environ.get(EXCHANGE_ENV, "").strip()
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    if os.path.isdir(NBGRADER_EXCHANGE):
        return NBGRADER_EXCHANGE
    from jupyter_core.paths import jupyter_data_dir
    return os.path.join(jupyter_data_dir(), "minioptim", "exchange")


def interpreter_bin_first_on_path() -> None:
    """Put the running interpreter's folder first on PATH (for nbgrader's ``alembic``)."""
    here = os.path.dirname(sys.executable)
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    if not parts or parts[0] != here:
        os.environ["PATH"] = os.pathsep.join([here] + [p for p in parts if p != here])


def configure_nbgrader(c) -> None:
    """The settings shared by instructors and students (``c`` is nbgrader's config object)."""
    interpreter_bin_first_on_path()
    c.Exchange.root = exchange_root()
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import OverwriteCells

    c.Autograde.sanitize_preprocessors = [
        _quiet_overwrite_cells() if pp is OverwriteCells else pp
        for pp in Autograde.class_traits()["sanitize_preprocessors"].default()]


def _quiet_overwrite_cells():
    from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

    class RestoreHiddenTests(OverwriteCells):
        """OverwriteCells that restores an untouched hidden-test cell without a warning."""

        def preprocess_cell(self, cell, resources, index):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is not None and cell.metadata.nbgrader.get("locked"):
                try:
                    source = self.gradebook.find_source_cell(grade_id, self.notebook_id,
                                                             self.assignment_id)
                except Exception:       # unknown cells are nbgrader's business below
                    source = None
                if source is not None and source.source != cell.source:
                    released = copy.deepcopy(cell)
                    released.source = source.source
                    if ClearHiddenTests(parent=self)._remove_hidden_test_region(released) \
                            and released.source == cell.source:
                        cell.source = source.source         # the student left it as released
            return super().preprocess_cell(cell, resources, index)

    return RestoreHiddenTests
