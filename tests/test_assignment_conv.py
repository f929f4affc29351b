"""The ``conv`` assignment: its nbgrader round trip (``tests/assignment_pipeline.py``).

Students write a 2-d convolution layer in NumPy alone: ``im2col``, its adjoint ``col2im``,
``conv2d_forward`` (im2col and one matrix product) and ``conv2d_backward`` (dx, dW, db).

The plausible wrong solution: ``col2im`` assigns (``=``) the patches back instead of adding
(``+=``) them. That is right when the windows do not overlap (stride == kernel size, all the
visible tests use), and wrong as soon as they do; it loses exactly the three hidden tests that
look at dx or col2im with overlapping windows (the adjoint identity, dx against finite
differences, dx against autodiff's conv2d), and keeps the dW and db points.
"""
from __future__ import annotations

from checkout import need

# the repository's nbgrader course (a checkout or the sdist)
need("assignments/source", "assignments/nbgrader_config.py", "jupyter-config/nbgrader_config.py",
     "pyproject.toml", module=True)

from assignment_pipeline import Assignment, Mistake, pipeline_tests  # noqa: E402

SPEC = Assignment(
    name="conv",
    visible={"test_im2col_by_hand": 1.0, "test_col2im_non_overlapping": 1.0,
             "test_forward_by_hand": 1.0, "test_backward_non_overlapping": 1.0},
    hidden={"hidden_im2col_vs_unfold": 1.0, "hidden_col2im_adjoint": 1.0,
            "hidden_forward_vs_loop_and_library": 1.0, "hidden_backward_dW_db_fd": 1.0,
            "hidden_backward_dx_fd": 1.0, "hidden_backward_vs_library": 1.0},
    solution_ids=("im2col", "col2im", "conv2d_forward", "conv2d_backward"),
    mistake=Mistake("col2im",
                    "xpad[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += "
                    "cols6[:, :, i, j]",
                    "xpad[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] = "
                    "cols6[:, :, i, j]",
                    frozenset({"hidden_col2im_adjoint", "hidden_backward_dx_fd",
                               "hidden_backward_vs_library"})),
    min_secret_lines=80)

globals().update(pipeline_tests(SPEC))
