"""The ``project`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

Students train ``resnet8`` on the digits with at least three optimizers of their choice and one
budget (``minioptim.training.train(..., out=...)``, one run folder each), read the final epoch
back from each ``metrics.csv``, report the numbers and the best run, and write an analysis that
the instructor grades by hand (3 of the 10 points: ``manual``). Autograding runs the training
again, in each submission's own folder.

The plausible wrong solution: ``final_metrics`` returns the first row of ``metrics.csv`` instead
of the last (right for a one-epoch run, the visible test's example); it loses exactly the hidden
test of ``final_metrics`` and the hidden test that compares the report with the run folders.
"""
from __future__ import annotations

import csv
import json

from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from assignment_pipeline import (UNANSWERED, Assignment, Mistake, is_grade, is_solution,  # noqa: E402
                                 meta, pipeline_tests)

SPEC = Assignment(
    name="project",
    visible={"test_runs_written": 1.0, "test_configs_match_choices": 1.0,
             "test_final_metrics": 1.0, "test_report": 1.0},
    hidden={"hidden_runs_sound": 1.0, "hidden_final_metrics": 1.0,
            "hidden_report_matches_runs": 1.0},
    manual={"analysis": 3.0},
    solution_ids=("train_runs", "final_metrics", "report", "analysis"),
    mistake=Mistake("final_metrics", "last = rows[-1]", "last = rows[0]",
                    frozenset({"hidden_final_metrics", "hidden_report_matches_runs"})),
    min_secret_lines=60)

globals().update(pipeline_tests(SPEC))


def test_the_analysis_is_a_markdown_answer_released_as_nbgraders_text_stub(course):
    [answer] = [c for c in course["release"].cells if is_grade(c) and is_solution(c)]
    assert answer.cell_type == "markdown" and meta(answer)["grade_id"] == "analysis"
    assert answer.source == "YOUR ANSWER HERE"          # ClearSolutions.text_stub


def test_the_autograder_trains_every_run_in_the_submissions_folder(course):
    source = course["source"]
    [runs_cell] = [c for c in source.cells if meta(c).get("grade_id") == "train_runs"]
    names = ("sgd", "adam", "adamw", "adamprox")
    assert all(f'"{name}": dict(optimizer="{name}"' in runs_cell.source for name in names)
    for student in ("perfect", "wrong", "deleted_tests"):
        runs = course["root"] / "autograded" / student / "project" / "project_runs"
        assert sorted(p.name for p in runs.iterdir()) == sorted(names), student
        for name in names:
            with open(runs / name / "metrics.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            assert [row["epoch"] for row in rows] == ["1", "2", "3"], (student, name)
            config = json.loads((runs / name / "config.json").read_text())["train"]
            assert (config["optimizer"], config["epochs"], config["train_batches"]) == \
                (name, 3, 12)
    for student in UNANSWERED:           # no runs: the stubs raise before training anything
        assert not (course["root"] / "autograded" / student / "project" / "project_runs"
                    / "adam").exists()


def test_the_same_seed_gives_every_submission_the_same_numbers(course):
    """The runs are deterministic (same seed, same backend), so the reference numbers quoted in
    the model answer are what an instructor's own autograding run shows."""
    finals = {}
    for student in ("perfect", "deleted_tests"):
        runs = course["root"] / "autograded" / student / "project" / "project_runs"
        with open(runs / "adam" / "metrics.csv", newline="") as f:
            finals[student] = {k: v for k, v in list(csv.DictReader(f))[-1].items()
                               if k != "seconds"}
    assert finals["perfect"] == finals["deleted_tests"]
