"""A temporary copy of the nbgrader course, run as an instructor and students would run it.

``CourseRun(tmp)`` copies ``assignments/nbgrader_config.py`` and ``source/`` into ``tmp/course``
and gives every nbgrader command the environment of a fresh machine:

- ``PATH`` holds only the system folders: the virtual environment is not activated, so nbgrader
  must find its own programs (``alembic``) through the course's settings, as it must for a user
  who runs ``.venv/bin/nbgrader`` or ``python -m nbgrader``;
- Jupyter's, IPython's and matplotlib's folders are in ``tmp`` (nothing is written to the user's
  home), the ``python3`` kernel is this interpreter's ipykernel;
- the exchange folder is ``tmp/exchange``, given to both sides only through
  ``$MINIOPTIM_EXCHANGE``; the students' nbgrader reads the environment-wide config that
  installing minioptim installs (``jupyter-config/nbgrader_config.py``, put on
  ``JUPYTER_CONFIG_PATH`` here because an editable install skips data files).

Instructors run the ``nbgrader`` program beside this interpreter, in the course folder. Each
student runs ``python -m nbgrader`` in a folder of their own, with their own Jupyter data folder
(nbgrader's submission cache); nbgrader names a submission after the operating-system user, and
all students of a test are one user, so the student's name is given to nbgrader's
``get_username`` by a two-line wrapper.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from checkout import need

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "assignments"
COURSE_ID = "minioptim"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
COMMAND_TIMEOUT = 600  # seconds, per nbgrader command

# nbgrader's exchange asks get_username() who submits; the modules that ask bound it at import
_AS_STUDENT = """
import os
from nbgrader import utils
from nbgrader.exchange.default import fetch_feedback, submit
utils.get_username = submit.get_username = fetch_feedback.get_username = \\
    lambda: os.environ["MINIOPTIM_TEST_STUDENT"]
from nbgrader.apps.nbgraderapp import main
main()
"""


class CourseRun:
    def __init__(self, tmp: Path, assignments=None):
        from ipykernel.kernelspec import write_kernel_spec

        need("assignments/nbgrader_config.py", "assignments/source",
             "jupyter-config/nbgrader_config.py")
        self.tmp = tmp
        self.root = tmp / "course"
        self.root.mkdir()
        shutil.copy2(COURSE / "nbgrader_config.py", self.root)
        shutil.copytree(COURSE / "source", self.root / "source",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        self.exchange = tmp / "exchange"
        self.env_config = tmp / "env-etc-jupyter"            # stands for <env>/etc/jupyter
        self.env_config.mkdir()
        shutil.copy2(REPO / "jupyter-config" / "nbgrader_config.py", self.env_config)
        self.timings: dict[str, float] = {}
        home = tmp / "home"
        env = {k: v for k, v in os.environ.items()
               if k not in ("MINIOPTIM_BACKEND", "VIRTUAL_ENV", "JUPYTER_CONFIG_PATH")}
        env.update({
            "PATH": SYSTEM_PATH,
            "MINIOPTIM_EXCHANGE": str(self.exchange),
            "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(home / "ipython"),
            "MPLCONFIGDIR": str(home / "matplotlib"),
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            # import minioptim from this checkout even when it is not installed
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                          if p),
        })
        for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                    "IPYTHONDIR", "MPLCONFIGDIR"):
            Path(env[key]).mkdir(parents=True)
        # "python3" = this interpreter's ipykernel, whatever kernels the user has installed
        write_kernel_spec(Path(env["JUPYTER_DATA_DIR"]) / "kernels" / "python3")
        self.env = env

    def _run(self, argv, cwd, env, label):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False)
        self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - start
        if done.returncode != 0:
            pytest.fail(f"{label} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                        f"{done.stderr[-8000:]}")
        return done.stdout + done.stderr

    def instructor(self, *args) -> str:
        """``nbgrader ARGS`` in the course folder, the program beside this interpreter."""
        program = str(Path(sys.executable).parent / "nbgrader")
        return self._run([program, *args], self.root, self.env, f"nbgrader {args[0]}")

    def student(self, name: str, *args) -> str:
        """``python -m nbgrader ARGS`` as student ``name``, in the student's own folder."""
        work = self.student_dir(name)
        data = self.tmp / "students" / f"{name}-jupyter-data"
        data.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "MINIOPTIM_TEST_STUDENT": name, "JUPYTER_DATA_DIR": str(data),
               "JUPYTER_CONFIG_PATH": str(self.env_config)}
        return self._run([sys.executable, "-c", _AS_STUDENT, *args], work, env,
                         f"student nbgrader {args[0]}")

    def student_dir(self, name: str) -> Path:
        path = self.tmp / "students" / name
        path.mkdir(parents=True, exist_ok=True)
        return path
