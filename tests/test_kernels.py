"""Every kernel of ``autodiff.kernels.KERNELS`` against the reference it replaces.

For each kernel, Hypothesis draws a problem (shapes, strides, options, how the batch is cut into
chunks); the public function (``F.conv2d``, ``F.batch_norm``, ...) runs once with the kernels on
and once on the reference path (``ad.use_kernels``), in float64, on the same inputs and the same
output gradient. Values, every input's gradient (and batch norm's running statistics) must
agree, and the graph must really contain the kernel's node in the first run and none in the
second. A kernel added to ``KERNELS`` without a problem here fails ``test_every_kernel_is_tested``.
The references themselves are checked against NumPy loops, hand derivations and finite
differences in the layer tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from autodiff.backprop import topological_order
from autodiff.kernels import KERNELS
from autodiff.nn import functional as F


@dataclass
class Problem:
    """Host inputs, the call to make on tensors built from them, and the kernel settings."""
    inputs: dict                      # name -> host array (float64 inputs get a gradient)
    call: object                      # (tensors by name) -> output tensor
    settings: dict = field(default_factory=dict)   # module attribute -> value, while it runs
    buffers: tuple = ()               # names of inputs updated in place (running statistics)
    frozen: tuple = ()                # names of float inputs that get no gradient


def _tensors(inputs, frozen=()):
    out = {}
    for name, a in inputs.items():
        grad = a.dtype.kind == "f" and not name.startswith("running") and name not in frozen
        out[name] = ad.Tensor(a, dtype=str(a.dtype), requires_grad=grad) if grad \
            else ad.Tensor(a, dtype=str(a.dtype))
    return out


def _run(problem: Problem, kernels: bool, seed: int, monkeypatch):
    import importlib
    for target, value in problem.settings.items():
        module, attr = target.rsplit(".", 1)
        monkeypatch.setattr(importlib.import_module(module), attr, value)
    with ad.use_kernels(kernels):
        t = _tensors(problem.inputs, problem.frozen)
        ad.manual_seed(seed)                                   # dropout masks
        y = problem.call(t)
        nodes = {type(n._ctx).__module__ for n in topological_order(y) if n._ctx is not None}
        g = np.random.default_rng(seed).standard_normal(y.shape)
        y.backward(ad.Tensor(g, dtype="float64"))
    grads = {n: ad.backend.to_numpy(v.grad) for n, v in t.items() if v.grad is not None}
    bufs = {n: t[n].numpy() for n in problem.buffers}
    monkeypatch.undo()
    return y.numpy(), grads, bufs, nodes


def _normal(rng, shape, scale=1.0):
    return scale * rng.standard_normal(shape)


# -- the problems, one strategy per kernel -------------------------------------------------------
@st.composite
def conv2d(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    n, c, o = (draw(st.integers(1, 3)) for _ in range(3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 7)), draw(st.integers(max(1, kw - 2 * pw), 7))
    inputs = {"x": _normal(rng, (n, c, h, w)), "w": _normal(rng, (o, c, kh, kw))}
    if draw(st.booleans()):
        inputs["b"] = _normal(rng, (o,))
    full_rows = draw(st.booleans())
    settings = {"autodiff.kernels.conv2d.CHUNK_ELEMENTS": draw(st.sampled_from([1, 50, 1 << 19])),
                "autodiff.kernels.conv2d.FULL_ROWS_MAX_WASTE": float("inf") if full_rows
                else -1.0}
    # backward takes other routes when only one of x and w needs a gradient
    frozen = draw(st.sampled_from([(), ("x",), ("w",)]))
    return Problem(inputs, lambda t: F.conv2d(t["x"], t["w"], t.get("b"), (sh, sw), (ph, pw)),
                   settings, frozen=frozen)


@st.composite
def batch_norm(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    shape = (max(shape[0], 2),) + shape[1:]
    c = shape[1]
    inputs = {"x": _normal(rng, shape, 3.0) + 1.0}
    affine = draw(st.booleans())
    if affine:
        inputs.update(w=1 + _normal(rng, (c,), 0.5), b=_normal(rng, (c,)))
    tracked = draw(st.booleans())
    if tracked:
        inputs.update(running_mean=_normal(rng, (c,)), running_var=1 + rng.random(c))
    momentum = draw(st.sampled_from([0.1, 0.5]))

    def call(t):
        return F.batch_norm(t["x"], t.get("running_mean"), t.get("running_var"), t.get("w"),
                            t.get("b"), training=True, momentum=momentum)
    chunk = draw(st.sampled_from([1, 7, 1 << 17]))
    return Problem(inputs, call, {"autodiff.kernels.batch_norm.CHUNK_ELEMENTS": chunk},
                   ("running_mean", "running_var") if tracked else ())


@st.composite
def cross_entropy(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    spatial = draw(st.sampled_from([(), (3,)]))
    logits = _normal(rng, (n, c) + spatial, 4.0)
    if draw(st.booleans()):                                  # class probabilities (any sum)
        target = rng.random((n, c) + spatial)
    else:
        target = rng.integers(0, c, (n,) + spatial)
        if draw(st.booleans()):
            target.reshape(-1)[::2] = -100
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    smoothing = draw(st.sampled_from([0.0, 0.1, 1.0]))
    rows = draw(st.sampled_from([1, 7, 1 << 18]))           # elements per block of rows
    frozen = draw(st.sampled_from([(), ("t",)]))             # the probabilities' gradient or not
    return Problem({"x": logits, "t": target},
                   lambda t: F.cross_entropy(t["x"], t["t"], reduction=reduction,
                                             label_smoothing=smoothing),
                   {"autodiff.kernels.threads.SLICE_ELEMENTS": rows}, frozen=frozen)


@st.composite
def linear(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    lead = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    i, o = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    inputs = {"x": _normal(rng, lead + (i,)), "w": _normal(rng, (o, i))}
    if draw(st.booleans()):
        inputs["b"] = _normal(rng, (o,))
    flops = draw(st.sampled_from([1, 1 << 25]))          # 1: every product in several blocks
    return Problem(inputs, lambda t: F.linear(t["x"], t["w"], t.get("b")),
                   {"autodiff.kernels.threads.BLOCK_FLOPS": flops})


@st.composite
def embedding(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    v, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    ids = rng.integers(0, v, tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=2))))
    return Problem({"w": _normal(rng, (v, d)), "ids": ids},
                   lambda t: F.embedding(t["ids"], t["w"]))


@st.composite
def dropout(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    p = draw(st.sampled_from([0.1, 0.5, 0.9]))
    return Problem({"x": _normal(rng, shape)}, lambda t: F.dropout(t["x"], p, training=True))


@st.composite
def relu(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=0, max_size=3)))
    x = np.round(_normal(rng, shape), 1)                        # some exact zeros
    slices = draw(st.sampled_from([1, 3, 1 << 18]))
    return Problem({"x": x}, lambda t: F.relu(t["x"]),
                   {"autodiff.kernels.threads.SLICE_ELEMENTS": slices})


@st.composite
def lstm(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    T, B, I, H = (draw(st.integers(1, 4)) for _ in range(4))
    inputs = {"x": _normal(rng, (T, B, I)), "h0": _normal(rng, (B, H)),
              "c0": _normal(rng, (B, H)), "w_ih": _normal(rng, (4 * H, I), 0.5),
              "w_hh": _normal(rng, (4 * H, H), 0.5)}
    if draw(st.booleans()):
        inputs.update(b_ih=_normal(rng, (4 * H,)), b_hh=_normal(rng, (4 * H,)))

    def call(t):
        out, h_n, c_n = F.lstm_layer(t["x"], t["h0"], t["c0"], t["w_ih"], t["w_hh"],
                                     t.get("b_ih"), t.get("b_hh"))
        # every result enters the checked sum: the sequence, h_n and c_n
        return ad.concatenate([out.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)])
    pieces = {"autodiff.kernels.lstm.MIN_ROWS": draw(st.sampled_from([1, 4])),
              "autodiff.kernels.threads.BLOCK_FLOPS": draw(st.sampled_from([1, 1 << 25]))}
    return Problem(inputs, call, pieces)


PROBLEMS = {"conv2d": conv2d(), "batch_norm": batch_norm(), "cross_entropy": cross_entropy(),
            "linear": linear(), "embedding": embedding(), "dropout": dropout(), "relu": relu(),
            "lstm": lstm()}


def test_every_kernel_is_tested():
    assert set(PROBLEMS) == set(KERNELS)


@pytest.mark.parametrize("name", sorted(KERNELS))
@given(data=st.data())
def test_kernel_equals_its_reference(name, data, monkeypatch):
    problem = data.draw(PROBLEMS[name])
    seed = data.draw(st.integers(0, 2 ** 16))
    y_k, g_k, b_k, nodes_k = _run(problem, True, seed, monkeypatch)
    y_r, g_r, b_r, nodes_r = _run(problem, False, seed, monkeypatch)
    assert f"autodiff.kernels.{name}" in nodes_k, f"the kernel {name} did not run: {nodes_k}"
    assert not any(m.startswith("autodiff.kernels") for m in nodes_r), nodes_r
    np.testing.assert_allclose(y_k, y_r, rtol=1e-10, atol=1e-12, err_msg="values")
    assert g_k.keys() == g_r.keys()
    for n in g_k:
        np.testing.assert_allclose(g_k[n], g_r[n], rtol=1e-10, atol=1e-12, err_msg=f"d/d{n}")
    for n in b_k:
        np.testing.assert_allclose(b_k[n], b_r[n], rtol=1e-10, atol=1e-12, err_msg=n)


# -- the switch ----------------------------------------------------------------------------------
def test_use_kernels_as_a_function_and_as_a_context_manager():
    assert ad.kernels_enabled()
    with ad.use_kernels(False):
        assert not ad.kernels_enabled()
        with ad.use_kernels(True):
            assert ad.kernels_enabled()
        assert not ad.kernels_enabled()
    assert ad.kernels_enabled()
    ad.use_kernels(False)
    try:
        assert not ad.kernels_enabled()
    finally:
        ad.use_kernels(True)
    with pytest.raises(TypeError, match="True or False"):
        ad.use_kernels("no")


def test_the_switch_is_per_thread():
    import threading
    seen = []
    with ad.use_kernels(False):
        worker = threading.Thread(target=lambda: seen.append(ad.kernels_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


@pytest.mark.parametrize("value, expected", [("0", "False"), ("off", "False"), ("1", "True"),
                                             ("", "True")])
def test_environment_variable_sets_the_default(value, expected):
    import subprocess
    import sys
    code = "import autodiff as ad; print(ad.kernels_enabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "MINIOPTIM_KERNELS": value})
    assert done.stdout.strip() == expected, done.stderr


def test_a_bad_environment_value_names_the_variable():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", "import autodiff"], capture_output=True,
                          text=True, env={**__import__("os").environ, "MINIOPTIM_KERNELS": "2"})
    assert done.returncode != 0 and "MINIOPTIM_KERNELS must be 1" in done.stderr


# -- the convolution kernel on the sizes it is tuned for -----------------------------------------
@pytest.mark.parametrize("full_rows", [True, False], ids=["full-rows", "windows"])
def test_conv2d_patch_layouts_on_cifar_sized_images(full_rows, monkeypatch):
    """The sizes of the ResNet layers (the full-rows layout is the default there), in several
    uneven chunks, against the reference (float64)."""
    import autodiff.kernels.conv2d as kernel
    settings = {"autodiff.kernels.conv2d.CHUNK_ELEMENTS": 3000,
                "autodiff.kernels.conv2d.FULL_ROWS_MAX_WASTE": float("inf") if full_rows
                else -1.0}
    rng = np.random.default_rng(5)
    problem = Problem({"x": rng.standard_normal((5, 2, 16, 16)),
                       "w": rng.standard_normal((3, 2, 3, 3))},
                      lambda t: F.conv2d(t["x"], t["w"], None, 1, 1), settings)
    y_k, g_k, _, _ = _run(problem, True, 0, monkeypatch)
    y_r, g_r, _, _ = _run(problem, False, 0, monkeypatch)
    assert kernel.CHUNK_ELEMENTS != 3000                      # the setting was undone
    np.testing.assert_allclose(y_k, y_r, rtol=1e-12, atol=1e-12)
    for n in g_k:
        np.testing.assert_allclose(g_k[n], g_r[n], rtol=1e-12, atol=1e-12)
