"""The ``adam`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

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
    visible={"test_adam_direction": 1.0, "test_adam_step_first_step": 1.0,
             "test_no_decay_modes_agree": 1.0, "test_decay_one_step": 1.0},
    hidden={"hidden_scale_free_adamw": 1.0, "hidden_scale_free_adamprox": 1.0,
            "hidden_l2_not_scale_free": 1.0, "hidden_prox_minimizer_no_flip": 1.0,
            "hidden_agree_minioptim_adam_adamw": 1.0, "hidden_agree_minioptim_adamprox": 1.0},
    solution_ids=("adam_direction", "adam_step"),
    mistake=Mistake("adam_step", "return (w - lr * u) / (1 + lr * lam)",
                    "return (1 - lr * lam) * w - lr * u",
                    frozenset({"hidden_prox_minimizer_no_flip",
                               "hidden_agree_minioptim_adamprox"})),
    min_secret_lines=50)

globals().update(pipeline_tests(SPEC))


def test_the_course_extra_installs_the_students_config():
    import tomllib
    project = tomllib.loads((COURSE.parent / "pyproject.toml").read_text())
    data_files = project["tool"]["setuptools"]["data-files"]
    assert "jupyter-config/nbgrader_config.py" in data_files["etc/jupyter"]
