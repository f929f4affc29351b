"""The fused LSTM layer (hand-written backward through time) against finite differences, against
its twin built from primitives (LSTMCell unrolled), against a NumPy reference written here from
the equations, and against PyTorch when it is installed; names, shapes, dropout and errors."""
import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff.errors import ShapeError
from autodiff.nn import recurrent
from autodiff.nn.layers import dropout as F_dropout
from autodiff.nn.recurrent import LSTM, LSTMCell, lstm, lstm_layer

pytestmark = pytest.mark.usefixtures("layer_path")


def t64(a, grad=True):
    return ad.Tensor(np.asarray(a, dtype=np.float64), dtype="float64", requires_grad=grad)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_lstm(x, h0, c0, layers):
    """Host NumPy, straight from the equations: gate order i, f, g, o;
    c_t = f c_{t-1} + i g, h_t = o tanh(c_t). layers: [(w_ih, w_hh, b_ih, b_hh)]."""
    inp = x
    h_n, c_n = [], []
    for k, (w_ih, w_hh, b_ih, b_hh) in enumerate(layers):
        h, c = h0[k], c0[k]
        H = w_hh.shape[1]
        outs = []
        for t in range(inp.shape[0]):
            a = inp[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
            i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
            g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        inp = np.stack(outs)
        h_n.append(h)
        c_n.append(c)
    return inp, np.stack(h_n), np.stack(c_n)


def random_weights(rng, in_size, H, layers, scale=0.5):
    out = []
    for k in range(layers):
        n_in = in_size if k == 0 else H
        out.append((rng.normal(0, scale, (4 * H, n_in)), rng.normal(0, scale, (4 * H, H)),
                    rng.normal(0, scale, 4 * H), rng.normal(0, scale, 4 * H)))
    return out


def lstm64(in_size, H, layers, weights=None, **kw):
    """An LSTM in float64, optionally with given host weights."""
    m = LSTM(in_size, H, layers, dtype="float64", **kw)
    if weights is not None:
        for k, w in enumerate(weights):
            for p, host in zip(m.layer_weights(k), w):
                p.data[...] = ad.backend.asarray(host)
    return m


# -- gradients ---------------------------------------------------------------------------------
def test_gradcheck_two_layers_with_initial_state():
    rng = np.random.default_rng(1)
    T, B, I, H, L = 4, 2, 3, 2, 2
    ws = random_weights(rng, I, H, L)

    def fn(x, h0, c0, w_ih0, w_hh0, b_ih0, b_hh0, w_ih1, w_hh1, b_ih1, b_hh1):
        out, (h_n, c_n) = lstm(x, (h0, c0), [(w_ih0, w_hh0, b_ih0, b_hh0),
                                             (w_ih1, w_hh1, b_ih1, b_hh1)])
        # every output enters the checked sum: the sequence, h_n and c_n
        return ad.concatenate([out.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)])

    args = [t64(rng.normal(size=(T, B, I))), t64(rng.normal(size=(L, B, H))),
            t64(rng.normal(size=(L, B, H)))] + [t64(w) for layer in ws for w in layer]
    assert ad.gradcheck(fn, *args, atol=1e-7, rtol=1e-5)


def test_gradcheck_layer_without_bias_and_partial_gradients():
    """No biases; the input needs no gradient (the backward skips it), c0 does."""
    rng = np.random.default_rng(2)
    T, B, I, H = 3, 2, 2, 3
    x = t64(rng.normal(size=(T, B, I)), grad=False)

    def fn(h0, c0, w_ih, w_hh):
        out, _, c_n = lstm_layer(x, h0, c0, w_ih, w_hh)
        return ad.concatenate([out.reshape(-1), c_n.reshape(-1)])

    assert ad.gradcheck(fn, t64(rng.normal(size=(B, H))), t64(rng.normal(size=(B, H))),
                        t64(rng.normal(0, 0.5, (4 * H, I))), t64(rng.normal(0, 0.5, (4 * H, H))),
                        atol=1e-7, rtol=1e-5)


@settings(max_examples=10)
@given(T=st.integers(1, 5), B=st.integers(1, 3), I=st.integers(1, 4), H=st.integers(1, 4),
       L=st.integers(1, 3), bias=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_lstm_module_equals_lstm_cells_unrolled_by_hand(T, B, I, H, L, bias, seed):
    rng = np.random.default_rng(seed)
    m = lstm64(I, H, L, bias=bias)
    x, h0, c0 = (t64(rng.normal(size=s)) for s in [(T, B, I), (L, B, H), (L, B, H)])
    g_out, g_h, g_c = (rng.normal(size=s) for s in [(T, B, H), (L, B, H), (L, B, H)])

    def run(forward):
        for t in [x, h0, c0, *m.parameters()]:
            t.grad = None
        out, (h_n, c_n) = forward()
        loss = (out * t64(g_out, False)).sum() + (h_n * t64(g_h, False)).sum() \
            + (c_n * t64(g_c, False)).sum()
        loss.backward()
        return [out.numpy(), h_n.numpy(), c_n.numpy()], \
            [ad.backend.to_numpy(t.grad) for t in [x, h0, c0, *m.parameters()]]

    def unrolled():  # LSTMCell sharing the LSTM's Parameters, one step at a time
        inp, h_n, c_n = [x[t] for t in range(T)], [], []
        for k in range(L):
            cell = LSTMCell(I if k == 0 else H, H, bias=bias, dtype="float64")
            w = m.layer_weights(k)
            cell.weight_ih, cell.weight_hh = w[0], w[1]
            if bias:
                cell.bias_ih, cell.bias_hh = w[2], w[3]
            h, c = h0[k], c0[k]
            outs = []
            for x_t in inp:
                h, c = cell(x_t, (h, c))
                outs.append(h)
            inp = outs
            h_n.append(h)
            c_n.append(c)
        return ad.stack(inp), (ad.stack(h_n), ad.stack(c_n))

    fused_vals, fused_grads = run(lambda: m(x, (h0, c0)))
    twin_vals, twin_grads = run(unrolled)
    for a, b in zip(fused_vals + fused_grads, twin_vals + twin_grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_forward_equals_a_numpy_reference_from_the_equations():
    rng = np.random.default_rng(3)
    T, B, I, H, L = 6, 3, 5, 4, 3
    ws = random_weights(rng, I, H, L, scale=0.8)
    x, h0, c0 = (rng.normal(size=s) for s in [(T, B, I), (L, B, H), (L, B, H)])
    out, (h_n, c_n) = lstm64(I, H, L, ws)(t64(x), (t64(h0), t64(c0)))
    ref = reference_lstm(x, h0, c0, ws)
    for got, want in zip((out, h_n, c_n), ref):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-13)


def test_float32_in_float32_out_and_close_to_the_float64_reference():
    rng = np.random.default_rng(4)
    T, B, I, H = 7, 4, 6, 5
    m = LSTM(I, H, 2)
    x = ad.Tensor(rng.normal(size=(T, B, I)).astype(np.float32), requires_grad=True)
    out, (h_n, c_n) = m(x)
    (out.sum() + c_n.sum()).backward()
    assert out.dtype == h_n.dtype == c_n.dtype == x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())
    ws = [tuple(p.numpy().astype(np.float64) for p in m.layer_weights(k)) for k in range(2)]
    zeros = np.zeros((2, B, H))
    ref = reference_lstm(x.numpy().astype(np.float64), zeros, zeros, ws)
    np.testing.assert_allclose(out.numpy(), ref[0], rtol=1e-5, atol=1e-6)


# -- shapes, names, initialization --------------------------------------------------------------
def test_shapes_and_default_zero_state():
    m = LSTM(3, 5, num_layers=2)
    x = ad.randn(7, 4, 3)
    out, (h_n, c_n) = m(x)
    assert out.shape == (7, 4, 5) and h_n.shape == c_n.shape == (2, 4, 5)
    zeros = ad.zeros(2, 4, 5)
    out2, (_, c2) = m(x, (zeros, zeros))
    np.testing.assert_array_equal(out.numpy(), out2.numpy())
    np.testing.assert_array_equal(c_n.numpy(), c2.numpy())
    np.testing.assert_array_equal(out.numpy()[-1], h_n.numpy()[-1])  # h_n is the last output


def test_batch_first_and_unbatched_input():
    m = LSTM(3, 4, num_layers=2)
    x = ad.randn(6, 2, 3)
    out, (h_n, _) = m(x)
    bf = LSTM(3, 4, num_layers=2, batch_first=True)
    bf.load_state_dict(m.state_dict())
    out_bf, (h_bf, _) = bf(x.transpose(0, 1))
    assert out_bf.shape == (2, 6, 4)
    np.testing.assert_allclose(out_bf.numpy().transpose(1, 0, 2), out.numpy(), rtol=1e-6)
    np.testing.assert_allclose(h_bf.numpy(), h_n.numpy(), rtol=1e-6)
    single, (h1, c1) = m(x[:, 0])                       # (seq, feature): no batch dimension
    assert single.shape == (6, 4) and h1.shape == c1.shape == (2, 4)
    np.testing.assert_allclose(single.numpy(), out.numpy()[:, 0], rtol=1e-6, atol=1e-7)


def test_parameter_names_shapes_and_initialization():
    H = 16
    m = LSTM(10, H, num_layers=2)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                     "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]
    shapes = {n: p.shape for n, p in m.named_parameters()}
    assert shapes["weight_ih_l0"] == (4 * H, 10) and shapes["weight_ih_l1"] == (4 * H, H)
    assert shapes["weight_hh_l1"] == (4 * H, H) and shapes["bias_hh_l0"] == (4 * H,)
    bound = 1 / math.sqrt(H)
    for p in m.parameters():
        v = p.numpy()
        assert v.dtype == np.float32 and np.abs(v).max() <= bound and v.std() > bound / 3
    assert [n for n, _ in LSTM(3, 4, bias=False).named_parameters()] == ["weight_ih_l0",
                                                                        "weight_hh_l0"]
    cell = LSTMCell(3, 4)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (16, 3)), ("weight_hh", (16, 4)), ("bias_ih", (16,)), ("bias_hh", (16,))]
    ad.manual_seed(7)
    a = LSTM(3, 4).weight_hh_l0.numpy()
    ad.manual_seed(7)
    np.testing.assert_array_equal(a, LSTM(3, 4).weight_hh_l0.numpy())


def test_cell_step_shapes_and_unbatched():
    cell = LSTMCell(3, 4)
    h, c = cell(ad.randn(2, 3))
    assert h.shape == c.shape == (2, 4)
    h1, c1 = cell(ad.randn(3), (h[0], c[0]))
    assert h1.shape == c1.shape == (4,)


# -- dropout -----------------------------------------------------------------------------------
def test_dropout_only_between_layers_and_only_in_training():
    x = ad.randn(5, 3, 4)
    m = LSTM(4, 6, num_layers=2, dropout=0.5)
    m.eval()
    out_eval, (h_eval, c_eval) = m(x)
    m.train()
    out_train, (h_train, c_train) = m(x)
    # layer 0 reads the raw input: no dropout before the first layer
    np.testing.assert_array_equal(h_train.numpy()[0], h_eval.numpy()[0])
    np.testing.assert_array_equal(c_train.numpy()[0], c_eval.numpy()[0])
    # layer 1 reads layer 0's output after dropout
    assert not np.allclose(out_train.numpy(), out_eval.numpy())
    # no dropout after the last layer: the output's last step is still h_n of the last layer
    np.testing.assert_array_equal(out_train.numpy()[-1], h_train.numpy()[-1])
    # eval mode is the LSTM without dropout
    m0 = LSTM(4, 6, num_layers=2)
    m0.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m0(x)[0].numpy(), out_eval.numpy())


def test_training_dropout_is_the_layers_dropout_between_the_layers():
    m = LSTM(4, 6, num_layers=2, dropout=0.3)
    x = ad.randn(5, 3, 4)
    zeros = ad.zeros(3, 6)
    ad.manual_seed(11)
    out, _ = m(x)
    ad.manual_seed(11)
    y0, _, _ = lstm_layer(x, zeros, zeros, *m.layer_weights(0))
    y1, _, _ = lstm_layer(F_dropout(y0, 0.3, training=True), zeros, zeros, *m.layer_weights(1))
    np.testing.assert_allclose(out.numpy(), y1.numpy(), rtol=1e-6)


def test_dropout_with_one_layer_warns_and_does_nothing():
    with pytest.warns(UserWarning, match="between layers"):
        m = LSTM(3, 4, num_layers=1, dropout=0.5)
    x = ad.randn(4, 2, 3)
    m.train()
    a = m(x)[0].numpy()
    m.eval()
    np.testing.assert_array_equal(a, m(x)[0].numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTM(3, 4, num_layers=2, dropout=0.5)


# -- errors ------------------------------------------------------------------------------------
def test_wrong_input_size_names_both_sizes():
    m = LSTM(200, 8)
    with pytest.raises(ShapeError, match=r"Expected 200, got 100"):
        m(ad.zeros(5, 2, 100))
    with pytest.raises(ShapeError, match=r"\(seq, batch, 200\)"):
        m(ad.zeros(5))


def test_wrong_state_shape_and_bad_arguments():
    m = LSTM(3, 4, num_layers=2)
    bad = ad.zeros(1, 2, 4)
    with pytest.raises(ShapeError, match=r"h0 must have shape .* \(2, 2, 4\), got \(1, 2, 4\)"):
        m(ad.zeros(5, 2, 3), (bad, bad))
    with pytest.raises(TypeError, match="tuple"):
        m(ad.zeros(5, 2, 3), ad.zeros(2, 2, 4))
    with pytest.raises(ShapeError, match="empty"):
        m(ad.zeros(0, 2, 3))
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 4, 2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(3, 0)
    with pytest.raises(ShapeError, match="input_size = 3"):
        LSTMCell(3, 4)(ad.zeros(2, 5))


def test_repr():
    assert repr(LSTM(3, 4, 2, dropout=0.1)) == "LSTM(3, 4, num_layers=2, dropout=0.1)"
    assert repr(LSTMCell(3, 4, bias=False)) == "LSTMCell(3, 4, bias=False)"


def test_docstring_examples():
    ad.set_backend("numpy")  # the fixture restores the backend
    result = doctest.testmod(recurrent, extraglobs={"ad": ad})
    assert result.failed == 0 and result.attempted > 0


def test_initial_state_unbatched_and_as_plain_arrays():
    m = LSTM(3, 4, num_layers=2)
    x = ad.randn(5, 2, 3)
    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((2, 2, 4)).astype(np.float32)
    c0 = rng.standard_normal((2, 2, 4)).astype(np.float32)
    out, (h, c) = m(x, (ad.Tensor(h0), ad.Tensor(c0)))
    raw, (h_raw, _) = m(x, (h0, c0))                    # arrays are taken as tensors
    np.testing.assert_array_equal(raw.numpy(), out.numpy())
    # one sequence without a batch dimension, with its own (num_layers, hidden) state
    single, (h1, c1) = m(x[:, 1], (ad.Tensor(h0[:, 1]), ad.Tensor(c0[:, 1])))
    assert single.shape == (5, 4) and h1.shape == c1.shape == (2, 4)
    np.testing.assert_allclose(single.numpy(), out.numpy()[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1.numpy(), h.numpy()[:, 1], rtol=1e-5, atol=1e-6)
