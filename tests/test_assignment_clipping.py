"""The ``clipping`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

The plausible wrong solution: clipped momentum written as ``clip_grad_norm_`` followed by SGD with
momentum, i.e. each gradient clipped to norm gamma / eta before it enters the momentum, instead
of the momentum of the raw gradients clipped at the step. It is the same algorithm for beta = 0
and while nothing is clipped, so it passes every visible test; it loses exactly the hidden test of
clipped momentum's own definition and the agreement with ``minioptim.SGDClipMomentum``.
"""
from __future__ import annotations

from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from assignment_pipeline import Assignment, Mistake, pipeline_tests  # noqa: E402

SPEC = Assignment(
    name="clipping",
    visible={"test_clipped_sgd_by_hand": 1.0, "test_clipped_momentum_by_hand": 1.0,
             "test_normalized_sgd_by_hand": 1.0, "test_generalized_signsgd_by_hand": 1.0},
    hidden={"hidden_clip_cap": 1.0, "hidden_clipped_momentum_before_clipping": 1.0,
            "hidden_scale_free_normalized_and_signsgd": 1.0,
            "hidden_clipped_sgd_not_scale_free": 1.0, "hidden_agree_minioptim_clipping": 1.0,
            "hidden_agree_minioptim_normalized_signsgd": 1.0},
    solution_ids=("clipped_sgd_step", "clipped_momentum_step", "normalized_sgd_step",
                  "generalized_signsgd_step"),
    mistake=Mistake("clipped_momentum_step",
                    "    m = beta * m + (1 - beta) * g\n"
                    "    return clipped_sgd_step(w, m, eta, gamma), m",
                    "    g = g * min(1.0, gamma / (eta * norm(g)))    # clip the gradient first\n"
                    "    m = beta * m + (1 - beta) * g\n"
                    "    return w - eta * m, m",
                    frozenset({"hidden_clipped_momentum_before_clipping",
                               "hidden_agree_minioptim_clipping"})),
    min_secret_lines=50)

globals().update(pipeline_tests(SPEC))
