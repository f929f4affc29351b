"""The ``adam`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

Students write Adam's direction, Adam with weight decay in three modes (Adam + L2, AdamW, the
proximal step), the L1 penalty's proximal step (soft thresholding, which minioptim does not
have) and answer which L1 updates are scale-free.

The plausible wrong solution: the proximal step written as AdamW's ``(1 - lr lam) w - lr u``
(right to first order, so it passes every visible test); it loses exactly the two hidden tests of
the proximal step's own properties.
"""
from __future__ import annotations

from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from assignment_pipeline import Assignment, Mistake, pipeline_tests  # noqa: E402
from nbgrader_course import COURSE  # noqa: E402

SPEC = Assignment(
    name="adam",
    visible={"test_adam_direction": 1.0, "test_adam_step_first_step": 0.5,
             "test_no_decay_modes_agree": 0.5, "test_decay_one_step": 1.0,
             "test_soft_threshold": 0.5, "test_adam_l1_first_step": 0.5},
    hidden={"hidden_scale_free_adamw": 0.5, "hidden_scale_free_adamprox": 0.5,
            "hidden_l2_not_scale_free": 0.5, "hidden_prox_minimizer_no_flip": 1.0,
            "hidden_agree_minioptim_adam_adamw": 0.5, "hidden_agree_minioptim_adamprox": 0.5,
            "hidden_soft_threshold_exact": 1.0, "hidden_adam_l1_prox": 0.5,
            "hidden_adam_l1_scale_free": 0.5, "hidden_l1_question": 0.5},
    solution_ids=("adam_direction", "adam_step", "soft_threshold", "adam_l1_step",
                  "l1_question"),
    mistake=Mistake("adam_step", "return (w - lr * u) / (1 + lr * lam)",
                    "return (1 - lr * lam) * w - lr * u",
                    frozenset({"hidden_prox_minimizer_no_flip",
                               "hidden_agree_minioptim_adamprox"})),
    min_secret_lines=80,
    exchange=True)         # the one assignment that also takes the round trip through the exchange

globals().update(pipeline_tests(SPEC))


def test_an_install_carries_the_students_nbgrader_config():
    import tomllib
    project = tomllib.loads((COURSE.parent / "pyproject.toml").read_text())
    data_files = project["tool"]["setuptools"]["data-files"]
    assert "jupyter-config/nbgrader_config.py" in data_files["etc/jupyter"]


def test_students_get_no_instructor_tools_and_instructors_get_nbgrader():
    """The students' extra has JupyterLab and ipywidgets but not nbgrader (whose Create Assignment
    panel and formgrader students cannot use); the instructors' extra adds nbgrader to it."""
    import re
    import tomllib
    extras = tomllib.loads((COURSE.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]

    def names(extra):
        return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in extras[extra]}
    assert {"jupyterlab", "ipywidgets", "ipykernel"} <= names("course")
    assert "nbgrader" not in names("course")
    assert "minioptim[course]" in extras["instructor"]
    assert {"nbgrader", "nbclient"} <= names("instructor")
