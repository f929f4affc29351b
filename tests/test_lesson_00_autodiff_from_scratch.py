"""Lesson 00 (reverse-mode autodiff from scratch), driven by its probe: the widget's graph (every
node's value and gradient) against an independent NumPy computation and central differences, the
notebook's scratch engine against central differences, the controls, and the exercise checks."""
from __future__ import annotations

import math

import numpy as np
from checkout import need

need("lessons", module=True)     # the repository's lessons (a checkout or the sdist)

from lesson_kernel import assert_redraws_once_each, lesson_probe  # noqa: E402

LESSON = "00_autodiff_from_scratch.ipynb"
H = 1e-6                         # central differences in float64: error ~1e-10 here

# the lesson's expressions, written again in NumPy: the reference for the finite differences
EXPRESSIONS = {
    "x*y + sin(x)": lambda x, y: x * y + np.sin(x),
    "exp(x) / (exp(x) + y*y)": lambda x, y: np.exp(x) / (np.exp(x) + y * y),
    "tanh(x*y) * log(1 + x*x)": lambda x, y: np.tanh(x * y) * np.log(1 + x * x),
}
# what each node label computes from its inputs' values
OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "sin": np.sin, "exp": np.exp, "tanh": np.tanh, "log": np.log}


def central(f, args, k):
    up, down = list(args), list(args)
    up[k] += H
    down[k] -= H
    return (f(*up) - f(*down)) / (2 * H)


def expression_gradient(name, x, y):
    f = EXPRESSIONS[name]
    return np.array([central(f, (x, y), 0), central(f, (x, y), 1)])


def probe(request, backend_name):
    return lesson_probe(request, backend_name, LESSON)


def test_the_widget_draws_the_graph_with_every_nodes_value(backend_name, request):
    p = probe(request, backend_name)
    assert sorted(p["expressions"]) == sorted(EXPRESSIONS)
    assert len(p["drawn"]) == 3 * len(EXPRESSIONS)
    for entry in p["drawn"]:
        drawn, labels, inputs = np.array(entry["drawn"], dtype=float), entry["labels"], entry["inputs"]
        where = f"{entry['name']} at ({entry['x']}, {entry['y']})"
        # redraw returns a host array, one row per node: value, gradient
        assert entry["host"], where
        assert drawn.shape == (len(labels), 2), where
        assert labels.count("x") == 1 and labels.count("y") == 1, where
        values = drawn[:, 0]
        assert values[labels.index("x")] == entry["x"] and values[labels.index("y")] == entry["y"]
        for i, (label, ins) in enumerate(zip(labels, inputs)):
            # inputs come before the node that uses them (the order of a forward pass)
            assert all(j < i for j in ins), f"{where}: node {i} ({label}) before its inputs {ins}"
            if label in ("x", "y", "const"):
                assert ins == [], where
                continue
            expected = OPS[label](*values[ins])
            assert math.isclose(values[i], expected, rel_tol=1e-12, abs_tol=1e-15), \
                f"{where}: node {i} ({label}) shows {values[i]}, its inputs give {expected}"
        # the last node is the output: f itself, with gradient 1
        assert math.isclose(values[-1], EXPRESSIONS[entry["name"]](entry["x"], entry["y"]),
                            rel_tol=1e-12), where
        assert drawn[-1, 1] == 1.0, where


def test_the_widgets_gradients_match_central_differences(backend_name, request):
    p = probe(request, backend_name)
    for entry in p["drawn"]:
        drawn, labels, inputs = np.array(entry["drawn"], dtype=float), entry["labels"], entry["inputs"]
        where = f"{entry['name']} at ({entry['x']}, {entry['y']})"
        values, grads = drawn[:, 0], drawn[:, 1]
        # the leaves: the derivative of the whole expression
        fd = expression_gradient(entry["name"], entry["x"], entry["y"])
        mine = grads[[labels.index("x"), labels.index("y")]]
        assert np.allclose(mine, fd, rtol=1e-6, atol=1e-8), f"{where}: (df/dx, df/dy) {mine} vs {fd}"
        # every other node: the sum over its consumers of (their gradient) x (local derivative),
        # each local derivative by central differences of the consumer's operation
        for j, label in enumerate(labels):
            if label == "const":
                assert math.isnan(grads[j]), f"{where}: a constant has no gradient"
                continue
            if j == len(labels) - 1:
                continue
            total = 0.0
            for i, ins in enumerate(inputs):
                for k, source in enumerate(ins):
                    if source == j:
                        total += grads[i] * central(OPS[labels[i]], values[ins], k)
            assert math.isclose(grads[j], total, rel_tol=1e-6, abs_tol=1e-8), \
                f"{where}: node {j} ({label}) has gradient {grads[j]}, the chain rule gives {total}"


def test_the_scratch_engine_matches_central_differences(backend_name, request):
    p = probe(request, backend_name)
    for name, grads in p["scratch"].items():
        for (x, y), mine in zip(p["points"], grads):
            assert np.allclose(mine, expression_gradient(name, x, y), rtol=1e-6, atol=1e-8), (name, x, y)


def test_each_control_redraws_once_with_its_value_and_changes_the_picture(backend_name, request):
    p = probe(request, backend_name)
    expected = [["tanh(x*y) * log(1 + x*x)", 0.5, 1.5], ["tanh(x*y) * log(1 + x*x)", -1.2, 1.5],
                ["tanh(x*y) * log(1 + x*x)", -1.2, 0.4], ["exp(x) / (exp(x) + y*y)", -1.2, 0.4]]
    for event, last in zip(p["events"], expected):
        assert event["last"][0] == last[0] and np.allclose(event["last"][1:], last[1:]), event
    assert_redraws_once_each(p["events"], p)


def test_the_exercise_checks(backend_name, request):
    checks = probe(request, backend_name)["checks"]
    assert checks["xsinx_right"] == "right"
    assert checks["xsinx_blank"] == "not answered"
    assert checks["xsinx_wrong"].startswith("wrong: ") and "product" in checks["xsinx_wrong"]
    assert checks["xsinx_no_tuple"].startswith("wrong: ") and "tuple" in checks["xsinx_no_tuple"]
    assert checks["order_right"] == "right" and checks["order_right_other"] == "right"
    assert checks["order_blank"] == "not answered"
    assert checks["order_reversed"].startswith("wrong: ") and "before" in checks["order_reversed"]
    assert checks["order_missing"].startswith("wrong: ") and "exactly once" in checks["order_missing"]
