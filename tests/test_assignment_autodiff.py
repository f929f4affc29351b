"""The ``autodiff`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

Students write the backward rules of nine primitives, ``unbroadcast``, ``topological_order`` and
``backward`` over the notebook's own small graph of ``Node``s, in NumPy alone.

The plausible wrong solution: ``unbroadcast`` sums an axis of size 1 without ``keepdims``, so a
gradient of shape ``(3, 1)`` comes back as ``(3,)``. The visible tests broadcast only over leading
axes, where that makes no difference; it loses exactly the hidden test of the broadcast rules and
the hidden whole-expression test (its row normalization ``q / q.sum(axis=1, keepdims=True)``
broadcasts a ``(n, 1)`` array).
"""
from __future__ import annotations

from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from assignment_pipeline import Assignment, Mistake, pipeline_tests  # noqa: E402

SPEC = Assignment(
    name="autodiff",
    visible={"test_unbroadcast": 1.0, "test_elementwise_rules": 1.0, "test_matrix_rules": 1.0,
             "test_topological_order_small": 1.0, "test_backward_tree": 1.0},
    hidden={"hidden_broadcast_rules": 1.0, "hidden_rules_random_shapes": 1.0,
            "hidden_topological_order_random_dags": 1.0, "hidden_backward_shared_nodes": 1.0,
            "hidden_expression_fd_and_autodiff": 1.0},
    solution_ids=("unbroadcast", "vjp_add", "vjp_mul", "vjp_div", "vjp_exp", "vjp_log",
                  "vjp_tanh", "vjp_matmul", "vjp_sum", "vjp_softmax", "topological_order",
                  "backward"),
    mistake=Mistake("unbroadcast", "g = g.sum(axis=axis, keepdims=True)",
                    "g = g.sum(axis=axis)",
                    frozenset({"hidden_broadcast_rules", "hidden_expression_fd_and_autodiff"})),
    min_secret_lines=80)

globals().update(pipeline_tests(SPEC))
