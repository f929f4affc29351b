"""The ``lstm`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

The plausible wrong solution: backpropagation through time that passes the cell's backward a zero
cell-state gradient at every step, forgetting the dL/dc_t carried back from step t + 1 (right
for a sequence of one step, so it passes every visible test); it loses exactly the three hidden
tests of BPTT over several steps.
"""
from __future__ import annotations

from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from assignment_pipeline import Assignment, Mistake, pipeline_tests  # noqa: E402

SPEC = Assignment(
    name="lstm",
    visible={"test_forward_shapes": 1.0, "test_forward_hand_example": 1.0,
             "test_cell_backward_finite_differences": 1.0, "test_bptt_one_step": 1.0},
    hidden={"hidden_forward_matches_autodiff": 1.0, "hidden_cell_backward_random": 1.0,
            "hidden_bptt_finite_differences": 2.0, "hidden_bptt_matches_autodiff": 1.0,
            "hidden_gradient_highway": 1.0},
    solution_ids=("lstm_cell_forward", "lstm_cell_backward", "lstm_bptt"),
    mistake=Mistake("lstm_bptt", "lstm_cell_backward(dhs[t] + dh_next, dc_next, caches[t])",
                    "lstm_cell_backward(dhs[t] + dh_next, np.zeros_like(c0), caches[t])",
                    frozenset({"hidden_bptt_finite_differences", "hidden_bptt_matches_autodiff",
                               "hidden_gradient_highway"})),
    min_secret_lines=50)

globals().update(pipeline_tests(SPEC))
