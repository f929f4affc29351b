"""Layers of ``autodiff.nn.layers`` and initializers of ``autodiff.nn.init``: gradients against
finite differences (float64), forward values against NumPy on the host, PyTorch's names, shapes
and initialization formulas, dropout in train/eval and its seeded masks, the embedding's
scatter-add of repeated ids.

Data are built on the host with NumPy and moved with ``ad.Tensor``; results come back with
``.numpy()``, so every test runs on the numpy and strict backends alike.
"""
import math

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn
from autodiff.nn import init
from autodiff.nn.layers import (Dropout, Embedding, Flatten, Identity, Linear, ReLU, Sigmoid, Tanh,
                                dropout, embedding, linear)

pytestmark = pytest.mark.usefixtures("layer_path")


def dev(host, requires_grad=True):
    return ad.Tensor(np.asarray(host, dtype=np.float64), dtype="float64",
                     requires_grad=requires_grad)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# -- Linear ------------------------------------------------------------------------------------
def test_linear_parameters_have_pytorch_names_shapes_and_dtype():
    lin = Linear(5, 3)
    assert [(n, p.shape) for n, p in lin.named_parameters()] == [("weight", (3, 5)),
                                                                  ("bias", (3,))]
    assert lin.weight.dtype == np.float32 and lin.weight.requires_grad
    assert list(lin.state_dict()) == ["weight", "bias"]
    assert list(Linear(5, 3, bias=False).state_dict()) == ["weight"]
    assert Linear(5, 3, bias=False).bias is None
    assert repr(lin) == "Linear(in_features=5, out_features=3, bias=True)"


def test_linear_forward_matches_host_matmul():
    lin = Linear(4, 3)
    x = randn(6, 4)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    np.testing.assert_allclose(lin(ad.Tensor(x)).numpy(), x.astype(np.float32) @ w.T + b,
                               rtol=1e-5, atol=1e-6)
    x3 = randn(2, 5, 4)  # extra leading dimensions, as a (seq, batch, features) input
    np.testing.assert_allclose(lin(ad.Tensor(x3)).numpy(), x3.astype(np.float32) @ w.T + b,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (4,)])
def test_linear_gradcheck(shape):
    x, w, b = dev(randn(*shape)), dev(randn(2, 4, seed=1)), dev(randn(2, seed=2))
    assert ad.gradcheck(lambda x, w, b: linear(x, w, b), x, w, b)
    assert ad.gradcheck(lambda x, w: linear(x, w), x, w)


def test_linear_on_a_3d_input_is_one_matrix_product_over_the_rows():
    """y = x W^T + b; with X the (rows, in) input and G = dL/dY: dX = G W, dW = G^T X,
    db = sum of G's rows."""
    xh, wh, bh = randn(2, 3, 4), randn(5, 4, seed=1), randn(5, seed=2)
    g = randn(2, 3, 5, seed=3)
    x, w, b = dev(xh), dev(wh), dev(bh)
    y = linear(x, w, b)
    y.backward(dev(g, requires_grad=False))
    X, G = xh.reshape(6, 4), g.reshape(6, 5)
    np.testing.assert_allclose(y.numpy(), xh @ wh.T + bh, rtol=1e-12)
    np.testing.assert_allclose(ad.backend.to_numpy(x.grad), (G @ wh).reshape(xh.shape),
                               rtol=1e-12)
    np.testing.assert_allclose(ad.backend.to_numpy(w.grad), G.T @ X, rtol=1e-12)
    np.testing.assert_allclose(ad.backend.to_numpy(b.grad), G.sum(axis=0), rtol=1e-12)


def test_linear_float32_stays_float32():
    lin = Linear(4, 3)
    x = ad.Tensor(randn(2, 4), requires_grad=True)
    y = lin(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert lin.weight.grad.dtype == np.float32 and lin.bias.grad.dtype == np.float32


def test_linear_shape_error_names_both_shapes():
    with pytest.raises(ad.ShapeError, match=r"\(2, 5\).*\(3, 4\)"):
        Linear(4, 3)(ad.Tensor(randn(2, 5)))


def test_linear_default_init_is_pytorchs():
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)) for the weight, and the bias
    is U(-1/sqrt(in), 1/sqrt(in)): std = bound / sqrt(3)."""
    fan_in = 400
    lin = Linear(fan_in, 300)
    bound = 1 / math.sqrt(fan_in)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(b).max() <= bound


def test_same_seed_same_linear_on_every_backend(backend_name):
    ad.manual_seed(3)
    here = Linear(6, 4).weight.numpy()
    ad.set_backend("numpy")
    ad.manual_seed(3)
    np.testing.assert_array_equal(Linear(6, 4).weight.numpy(), here)


# -- activations, Flatten, Identity -------------------------------------------------------------
def test_activation_modules_match_numpy():
    h = randn(3, 4)
    x = dev(h)
    np.testing.assert_allclose(ReLU()(x).numpy(), np.maximum(h, 0))
    np.testing.assert_allclose(Tanh()(x).numpy(), np.tanh(h), rtol=1e-12)
    np.testing.assert_allclose(Sigmoid()(x).numpy(), 1 / (1 + np.exp(-h)), rtol=1e-12)
    assert Identity(5, anything=1)(x) is x


def test_flatten_shapes():
    x = ad.Tensor(np.zeros((2, 3, 4, 5)))
    assert Flatten()(x).shape == (2, 60)
    assert Flatten(0)(x).shape == (120,)
    assert Flatten(1, 2)(x).shape == (2, 12, 5)
    assert Flatten(start_dim=-2)(x).shape == (2, 3, 20)
    assert ad.gradcheck(lambda t: Flatten()(t), dev(randn(2, 2, 3)))


# -- Dropout -----------------------------------------------------------------------------------
def test_dropout_train_zeroes_about_p_and_scales_the_rest():
    p = 0.3
    h = np.random.default_rng(0).uniform(1, 2, (100, 200))
    out = Dropout(p)(ad.Tensor(h))
    assert out.dtype == np.float32
    y = out.numpy()
    zero = y == 0
    assert zero.mean() == pytest.approx(p, abs=0.01)
    np.testing.assert_allclose(y[~zero], (h.astype(np.float32) / (1 - p))[~zero], rtol=1e-6)


def test_dropout_eval_and_p0_are_the_identity():
    x = ad.Tensor(randn(4, 5))
    d = Dropout(0.5)
    assert d.eval()(x) is x
    assert not d.training
    assert Dropout(0.0)(x) is x
    assert dropout(x, 0.5, training=False) is x
    assert np.all(Dropout(1.0)(x).numpy() == 0)
    d.train()
    assert not np.array_equal(d(x).numpy(), x.numpy())


def test_dropout_gradient_is_the_mask():
    x = dev(randn(6, 7))
    y = dropout(x, 0.25, training=True)
    y.backward(dev(np.ones((6, 7)), requires_grad=False))
    kept = y.numpy() != 0
    np.testing.assert_allclose(ad.backend.to_numpy(x.grad), kept / 0.75, rtol=1e-12)


def test_dropout_same_seed_same_mask_on_every_backend_and_dtype(backend_name):
    h = np.ones((8, 9))
    ad.manual_seed(7)
    a = dropout(ad.Tensor(h), 0.5).numpy()
    ad.manual_seed(7)
    b = dropout(ad.Tensor(h, dtype="float64"), 0.5).numpy()
    ad.set_backend("numpy")
    ad.manual_seed(7)
    c = dropout(ad.Tensor(h), 0.5).numpy()
    assert np.array_equal(a != 0, b != 0) and np.array_equal(a, c)
    assert not np.array_equal(a, dropout(ad.Tensor(h), 0.5).numpy())  # the stream moves on


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout(ad.Tensor([1.0]), -0.1)


# -- Embedding ---------------------------------------------------------------------------------
def test_embedding_shapes_names_and_normal_init():
    emb = Embedding(1000, 50)
    assert list(emb.state_dict()) == ["weight"] and emb.weight.shape == (1000, 50)
    w = emb.weight.numpy()
    assert w.mean() == pytest.approx(0, abs=0.01) and w.std() == pytest.approx(1, abs=0.01)
    ids = np.array([[1, 2, 3], [3, 2, 999]])
    y = emb(ids)
    assert y.shape == (2, 3, 50)
    np.testing.assert_array_equal(y.numpy(), w[ids])
    assert emb(ad.Tensor(ids)).shape == (2, 3, 50)      # integer tensors keep their dtype
    assert emb([4, 5]).shape == (2, 50)
    assert emb(ad.Tensor(np.array(7))).shape == (50,)


def test_embedding_gradcheck_with_repeated_ids():
    ids = np.array([[1, 2, 1], [0, 1, 1]])               # id 1 four times, id 3 never
    assert ad.gradcheck(lambda w: embedding(ids, w), dev(randn(4, 3)))


def test_embedding_backward_scatter_adds_repeats():
    rng = np.random.default_rng(0)
    vocab, dim = 50, 7
    ids = rng.integers(0, vocab, (20, 15))
    ids[0, :5] = 3                                        # some heavy repeats
    g = rng.standard_normal((20, 15, dim))
    w = dev(rng.standard_normal((vocab, dim)))
    embedding(ad.Tensor(ids), w).backward(dev(g, requires_grad=False))
    expected = np.zeros((vocab, dim))
    np.add.at(expected, ids.reshape(-1), g.reshape(-1, dim))
    np.testing.assert_allclose(ad.backend.to_numpy(w.grad), expected, rtol=1e-12, atol=1e-12)


def test_embedding_all_distinct_and_all_equal_ids():
    w = dev(randn(5, 2))
    embedding([4, 0, 2], w).sum().backward()
    np.testing.assert_array_equal(ad.backend.to_numpy(w.grad)[:, 0], [1, 0, 1, 0, 1])
    w = dev(randn(5, 2))
    embedding([3, 3, 3, 3], w).sum().backward()
    np.testing.assert_array_equal(ad.backend.to_numpy(w.grad)[:, 0], [0, 0, 0, 4, 0])


def test_embedding_rejects_bad_ids():
    emb = Embedding(10, 3)
    with pytest.raises(IndexError, match=r"index 10 is out of range.*10 rows"):
        emb([1, 10])
    with pytest.raises(IndexError, match=r"index -1"):
        emb([-1, 2])
    with pytest.raises(TypeError, match="integers"):
        emb(ad.Tensor([1.0, 2.0]))


# -- init ----------------------------------------------------------------------------------------
def test_calculate_gain_matches_pytorch():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("gelu")


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(ad.zeros(3, 5)) == (5, 3)
    assert init._calculate_fan_in_and_fan_out(ad.zeros(16, 8, 3, 3)) == (72, 144)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ad.zeros(4))
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_uniform_(ad.zeros(3, 3), mode="fan_avg")


SHAPE = (256, 64, 3, 3)                 # fan_in 576, fan_out 2304, 147,456 entries
FAN_IN, FAN_OUT = 64 * 9, 256 * 9


@pytest.mark.parametrize("name, kwargs, std, bound", [
    ("kaiming_uniform_", dict(nonlinearity="relu"), math.sqrt(2 / FAN_IN),
     math.sqrt(6 / FAN_IN)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), 1 / math.sqrt(3 * FAN_IN), 1 / math.sqrt(FAN_IN)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / FAN_OUT),
     math.sqrt(6 / FAN_OUT)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / FAN_OUT), None),
    ("kaiming_normal_", dict(), math.sqrt(2 / (1 + 0.01 ** 2) / FAN_IN), None),
    ("xavier_uniform_", dict(), math.sqrt(2 / (FAN_IN + FAN_OUT)),
     math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("xavier_uniform_", dict(gain=2.0), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT)),
     2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("xavier_normal_", dict(gain=5 / 3), 5 / 3 * math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
])
def test_initializer_statistics_follow_pytorchs_formulas(name, kwargs, std, bound):
    t = ad.zeros(*SHAPE)
    data = t.data
    assert getattr(init, name)(t, **kwargs) is t
    assert t.data is data                                 # in place: references stay valid
    w = t.numpy()
    assert w.dtype == np.float32
    assert w.mean() == pytest.approx(0, abs=0.01 * std)
    assert w.std() == pytest.approx(std, rel=0.01)
    if bound is not None:
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound


def test_basic_initializers():
    t = ad.zeros(200, 300)
    init.uniform_(t, -2, 3)
    w = t.numpy()
    assert w.min() >= -2 and w.max() < 3 and w.mean() == pytest.approx(0.5, abs=0.02)
    init.normal_(t, 1.0, 0.5)
    assert t.numpy().mean() == pytest.approx(1, abs=0.01)
    assert t.numpy().std() == pytest.approx(0.5, rel=0.01)
    assert np.all(init.constant_(t, 0.25).numpy() == 0.25)
    assert np.all(init.zeros_(t).numpy() == 0) and np.all(init.ones_(t).numpy() == 1)


def test_initializers_repeat_with_the_seed_on_every_backend(backend_name):
    ad.manual_seed(11)
    a = init.kaiming_normal_(ad.zeros(8, 6)).numpy()
    ad.set_backend("numpy")
    ad.manual_seed(11)
    np.testing.assert_array_equal(init.kaiming_normal_(ad.zeros(8, 6)).numpy(), a)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(3, 2), (4, 3)),
    (lambda: nn.Conv2d(1, 2, 3), (2, 1, 5, 5)),
    (lambda: nn.BatchNorm2d(1), (2, 1, 3, 3)),
    (lambda: nn.LayerNorm(3), (2, 3)),
    (lambda: nn.MaxPool2d(2), (1, 1, 4, 4)),
    (lambda: nn.AdaptiveAvgPool2d(1), (1, 1, 4, 4)),
    (lambda: nn.ReLU(), (3,)),
    (lambda: nn.Dropout(0.5), (3,)),
])
def test_a_layer_given_a_raw_array_says_to_wrap_it(make, shape):
    layer = make()
    with pytest.raises(TypeError) as info:
        layer(np.zeros(shape, dtype=np.float32))
    message = str(info.value)
    assert f"expected a Tensor, got a numpy.ndarray of shape {shape}" in message
    assert "ad.Tensor(x)" in message


@pytest.mark.parametrize("make, fan_in", [(lambda: Linear(400, 3000), 400),
                                          (lambda: nn.Conv2d(4, 3000, 5), 4 * 5 * 5),
                                          (lambda: nn.Conv2d(4, 3000, (3, 5)), 4 * 3 * 5)])
def test_default_initialization_is_pytorchs(make, fan_in):
    """weight ~ U(-b, b) with b = 1/sqrt(fan_in) (kaiming_uniform_ with a = sqrt(5)), bias
    ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)): the ranges and the uniform's std b/sqrt(3)."""
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for values in (layer.weight.data, layer.bias.data):
        v = ad.backend.to_numpy(values).astype(np.float64).ravel()
        assert np.abs(v).max() <= bound * (1 + 1e-6)
        assert v.max() > 0.95 * bound and v.min() < -0.95 * bound
        assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.06)


def test_zero_element_tensors_are_left_alone_with_a_warning():
    for shape in [(3, 0), (0, 3)]:
        t = ad.Tensor(np.zeros(shape, dtype=np.float32))
        for fill in (init.kaiming_uniform_, init.kaiming_normal_):          # as PyTorch
            with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
                assert fill(t) is t


def test_dropout_defaults_to_one_half():
    assert Dropout().p == 0.5
