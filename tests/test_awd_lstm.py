"""The AWD-LSTM language model: gradients against finite differences (evaluation mode, and
training mode with the masks repeated by reseeding), each of its dropouts against what it should
do (locked, embedding, weight drop: masks, scale, the layer run by hand with the masked weight),
AR/TAR against a NumPy computation, both paths (kernels and reference) against each other,
seeds, tied weights, truncated BPTT and errors."""
import doctest

import numpy as np
import pytest

import autodiff as ad
from autodiff.errors import ShapeError
from autodiff.nn.layers import Embedding, Linear
from autodiff.nn.losses import cross_entropy
from autodiff.nn.recurrent import LSTM
from minioptim.models import AWDLSTMLanguageModel, awd_lstm
from minioptim.models.awd_lstm import embedding_dropout, locked_dropout, weight_drop
from test_lstm_lm import assert_paths_agree

V, T, B = 11, 5, 3
NO_DROPOUT = dict(dropout=0.0, dropout_hidden=0.0, dropout_input=0.0, dropout_embedding=0.0,
                  weight_drop=0.0)


def tokens(seed=0, length=T, batch=B):
    stream = np.random.default_rng(seed).integers(0, V, (length + 1, batch))
    return ad.Tensor(stream[:-1]), ad.Tensor(stream[1:])


def host(t):
    return ad.backend.to_numpy(t.data if isinstance(t, ad.Tensor) else t)


def lm_loss(model, x, y, state=None):
    logits, state = model(x, state)
    return cross_entropy(logits.reshape(-1, V), y.reshape(-1)), state


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lm(model, ids, weights_hh=None):
    """The model without dropout, from the equations in NumPy on the host (float64): embedding
    lookup, one LSTM layer after the other (gate order i, f, g, o), decoder. ``weights_hh``
    replaces each layer's hidden-to-hidden weight (e.g. by a masked one)."""
    x = host(model.encoder.weight).astype(np.float64)[ids]
    for k, rnn in enumerate(model.rnns):
        w_ih, w_hh, b_ih, b_hh = (host(w).astype(np.float64) for w in rnn.layer_weights(0))
        if weights_hh is not None:
            w_hh = weights_hh[k]
        H = w_hh.shape[1]
        h = c = np.zeros((ids.shape[1], H))
        outs = []
        for t in range(ids.shape[0]):
            a = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
            i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
            g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        x = np.stack(outs)
    return x @ host(model.decoder.weight).T.astype(np.float64) + host(model.decoder.bias)


def as_function_of_parameters(model, run):
    """(fn, params): fn(*tensors, *more) runs ``run(model, *more)`` with every Parameter
    replaced by the matching tensor (a tied Parameter in all its places), so ``ad.gradcheck``
    can vary them; the Parameters are put back afterwards."""
    params = list(model.parameters())
    owners = [[(m, n) for m in model.modules() for n, q in m._parameters.items() if q is p]
              for p in params]

    def fn(*tensors):
        try:
            for places, t in zip(owners, tensors):
                for m, n in places:
                    object.__setattr__(m, n, t)
            return run(model, *tensors[len(params):])
        finally:
            for places, p in zip(owners, params):
                for m, n in places:
                    object.__setattr__(m, n, p)
    return fn, params


# -- gradients against finite differences ------------------------------------------------------
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_gradcheck_the_whole_model(layer_path, mode):
    """float64, two layers, tied weights; the checked inputs are every parameter and the initial
    state, the checked output the logits, the final state and the AR + TAR term. In training
    mode every evaluation of the function first reseeds the engine, so each of gradcheck's
    forward passes (the one it differentiates and every finite difference) draws the same masks:
    the function is then a fixed, differentiable one, and it must differ from the
    evaluation-mode one (some entries were dropped)."""
    ad.manual_seed(1)
    model = AWDLSTMLanguageModel(5, embedding_dim=2, hidden_size=3, num_layers=2, dropout=0.3,
                                 dropout_hidden=0.3, dropout_input=0.3, dropout_embedding=0.3,
                                 weight_drop=0.4)
    model.train(mode == "train")
    x = ad.Tensor([[0, 3], [4, 0], [2, 1]])
    rng = np.random.default_rng(2)
    state = [ad.Tensor(rng.normal(0, 0.5, (1, 2, n)), dtype="float64", requires_grad=True)
             for _, n in model.layer_sizes() for _ in "hc"]

    def run(m, *state):
        ad.manual_seed(7)
        pairs = tuple(zip(state[::2], state[1::2]))
        logits, new_state = m(x, pairs)
        parts = [logits.reshape(-1)] + [s.reshape(-1) for pair in new_state for s in pair]
        parts.append(m.activation_regularization(alpha=2.0, beta=1.5).reshape(1))
        return ad.cat(parts)

    fn, params = as_function_of_parameters(model, run)
    assert ad.gradcheck(fn, *params, *state, atol=1e-7, rtol=1e-5)
    values = [ad.Tensor(t.data, dtype="float64") for t in params + state]
    out = host(fn(*values))
    model.eval()
    plain = host(fn(*values))
    assert np.allclose(out, plain) == (mode == "eval")


# -- locked dropout --------------------------------------------------------------------------
def test_locked_dropout_one_mask_for_all_time_steps():
    p, steps, batch, feats = 0.3, 6, 50, 400
    x = ad.Tensor(np.random.default_rng(0).uniform(0.5, 1.5, (steps, batch, feats)),
                  requires_grad=True)
    y = locked_dropout(x, p)
    ratio = host(y) / host(x)                                 # the mask, position by position
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:1], ratio.shape), rtol=1e-6)
    kept = ratio[0] != 0
    np.testing.assert_allclose(ratio[0][kept], 1 / (1 - p), rtol=1e-6)
    # about p of the (batch, features) entries are dropped: 4 standard deviations
    assert abs((~kept).mean() - p) < 4 * np.sqrt(p * (1 - p) / kept.size)
    # expected scale: the mean over the masks is the input (E[mask] = 1)
    assert abs(host(y).mean() / host(x).mean() - 1) < 0.03
    # the gradient goes through the same mask
    r = np.random.default_rng(1).normal(size=x.shape)
    (y * ad.Tensor(r)).sum().backward()
    np.testing.assert_allclose(host(x.grad), r * ratio[:1], rtol=1e-6)


def test_locked_dropout_is_the_identity_in_eval_mode_and_at_p_0():
    x = ad.randn(4, 2, 3)
    state = ad.get_rng_state()
    assert locked_dropout(x, 0.5, training=False) is x
    assert locked_dropout(x, 0.0) is x
    assert ad.get_rng_state() == state                        # nothing drawn


def test_the_model_locks_its_output_mask_and_is_deterministic_in_eval_mode():
    model = AWDLSTMLanguageModel(V, 8, 8, num_layers=2, dropout=0.5)
    x, _ = tokens()
    model(x)
    ratio = host(model.output) / host(model.raw_output)       # output = raw_output * mask
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:1], ratio.shape), rtol=1e-6)
    assert set(np.round(np.unique(ratio), 5)) <= {0.0, 2.0} and (ratio == 0).any()
    model.eval()
    a = host(model(x)[0])
    np.testing.assert_array_equal(host(model.output), host(model.raw_output))
    np.testing.assert_array_equal(host(model(x)[0]), a)
    np.testing.assert_allclose(a, numpy_lm(model, host(x)), rtol=1e-4, atol=1e-6)
    model.train()
    assert not np.allclose(host(model(x)[0]), a)


# -- embedding dropout -------------------------------------------------------------------------
def test_embedding_dropout_drops_whole_rows_scaled():
    p, rows = 0.25, 4000
    w = ad.Tensor(np.random.default_rng(0).uniform(0.5, 1.5, (rows, 6)), requires_grad=True)
    out = embedding_dropout(w, p)
    ratio = host(out) / host(w)
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1], ratio.shape), rtol=1e-6)
    dropped = ratio[:, 0] == 0
    np.testing.assert_allclose(ratio[~dropped], 1 / (1 - p), rtol=1e-6)
    assert abs(dropped.mean() - p) < 4 * np.sqrt(p * (1 - p) / rows)
    out.sum().backward()
    np.testing.assert_allclose(host(w.grad), ratio, rtol=1e-6)
    assert embedding_dropout(w, p, training=False) is w


def test_embedding_dropout_in_the_model_is_the_same_for_every_occurrence():
    """Only embedding dropout on, untied: the only draw of the forward is the row mask, so
    reseeding and dropping the rows by hand gives the matrix the model looked the tokens up in;
    the model in training mode equals the evaluation-mode model built on that matrix. A dropped
    word gets no gradient anywhere, though it occurs at several positions."""
    p = 0.3
    model = AWDLSTMLanguageModel(V, 6, 8, num_layers=2, tie_weights=False,
                                 **{**NO_DROPOUT, "dropout_embedding": p})
    rng = np.random.default_rng(0)
    ids = np.stack([rng.permutation(V) for _ in range(4)])   # each word 4 times, moving around
    ad.manual_seed(5)
    dropped = host(embedding_dropout(model.encoder.weight, p))
    ad.manual_seed(5)
    logits, _ = model(ad.Tensor(ids))
    logits.sum().backward()
    gone = (dropped == 0).all(axis=1)
    assert gone.any() and not gone.all()
    np.testing.assert_allclose(dropped[~gone], host(model.encoder.weight)[~gone] / (1 - p),
                               rtol=1e-6)
    grad = host(model.encoder.weight.grad)
    assert (grad[gone] == 0).all() and (np.abs(grad[~gone]).sum(axis=1) > 0).all()
    by_hand = AWDLSTMLanguageModel(V, 6, 8, num_layers=2, tie_weights=False, **NO_DROPOUT)
    by_hand.load_state_dict({**model.state_dict(), "encoder.weight": dropped})
    by_hand.eval()
    np.testing.assert_allclose(host(logits), host(by_hand(ad.Tensor(ids))[0]), rtol=1e-5,
                               atol=1e-6)


# -- weight drop -------------------------------------------------------------------------------
def test_weight_drop_masks_w_hh_and_its_gradient(layer_path):
    """Only weight drop on: each layer ran with W_hh * mask / (1-p); about p of the entries are
    zero; the logits are those of the LSTM run by hand (NumPy) with these weights; the raw
    parameter's gradient is (gradient of the dropped weight) * mask / (1-p), zero exactly where
    the mask is."""
    p, H = 0.5, 24
    model = AWDLSTMLanguageModel(V, 6, H, num_layers=2, **{**NO_DROPOUT, "weight_drop": p})
    x, y = tokens(3)
    logits, _ = model(x)
    for w in model.effective_weight_hh:
        w.retain_grad()
    cross_entropy(logits.reshape(-1, V), y.reshape(-1)).backward()
    masked = []
    for rnn, used in zip(model.rnns, model.effective_weight_hh):
        raw = rnn.weight_hh_l0
        assert used is not raw
        ratio = host(used) / host(raw)
        dropped = ratio == 0
        np.testing.assert_allclose(ratio[~dropped], 1 / (1 - p), rtol=1e-6)
        assert abs(dropped.mean() - p) < 4 * np.sqrt(p * (1 - p) / dropped.size)
        grad = host(raw.grad)
        assert (grad[dropped] == 0).all() and (grad[~dropped] != 0).mean() > 0.9
        np.testing.assert_allclose(grad, host(used.grad) * ratio, rtol=1e-5, atol=1e-9)
        masked.append(host(raw).astype(np.float64) * ratio)
    np.testing.assert_allclose(host(logits), numpy_lm(model, host(x), masked), rtol=1e-4,
                               atol=1e-6)


def test_weight_drop_draws_a_new_mask_per_forward_and_none_in_eval_mode(layer_path):
    model = AWDLSTMLanguageModel(V, 6, 8, num_layers=2, **{**NO_DROPOUT, "weight_drop": 0.5})
    x, _ = tokens()
    model(x)
    first = [host(w) for w in model.effective_weight_hh]
    model(x)
    assert not np.array_equal(first[0], host(model.effective_weight_hh[0]))
    model.eval()
    a = host(model(x)[0])
    assert all(w is rnn.weight_hh_l0 for w, rnn in zip(model.effective_weight_hh, model.rnns))
    # evaluation mode = a stack of plain LSTM modules holding the same weights
    plain_rnns = [LSTM(n_in, n_out) for n_in, n_out in model.layer_sizes()]
    for rnn, mine in zip(plain_rnns, model.rnns):
        rnn.load_state_dict(mine.state_dict())
    enc, dec = Embedding(V, 6), Linear(6, V)
    enc.weight.data[...] = model.encoder.weight.data
    dec.weight.data[...] = model.decoder.weight.data
    dec.bias.data[...] = model.decoder.bias.data
    h = enc(x)
    for rnn in plain_rnns:
        h, _ = rnn(h)
    np.testing.assert_allclose(a, host(dec(h)), rtol=1e-5, atol=1e-6)


def test_weight_drop_function():
    w = ad.Tensor(np.random.default_rng(0).uniform(1, 2, (40, 50)), requires_grad=True)
    out = weight_drop(w, 0.2)
    ratio = host(out) / host(w)
    assert set(np.round(np.unique(ratio), 5)) == {0.0, 1.25}
    out.sum().backward()
    np.testing.assert_allclose(host(w.grad), ratio, rtol=1e-6)
    assert weight_drop(w, 0.2, training=False) is w and weight_drop(w, 0.0) is w


# -- AR / TAR ----------------------------------------------------------------------------------
def test_activation_regularization_by_hand():
    model = AWDLSTMLanguageModel(V, 6, 8, num_layers=3, dropout=0.5)
    x, _ = tokens()
    model(x)
    raw, out = host(model.raw_output).astype(np.float64), host(model.output).astype(np.float64)
    assert raw.shape == (T, B, 6) and not np.array_equal(raw, out)
    ar, tar = np.mean(out ** 2), np.mean((raw[1:] - raw[:-1]) ** 2)
    for alpha, beta in ((2.0, 1.0), (2.0, 0.0), (0.0, 1.0), (0.5, 3.0)):
        value = model.activation_regularization(alpha, beta)
        assert value.shape == () and value.item() == pytest.approx(alpha * ar + beta * tar,
                                                                   rel=1e-5)
    zero = model.activation_regularization(0.0, 0.0)
    assert zero.item() == 0.0 and not zero.requires_grad
    # in the graph: the gradient of AR alone reaches the LSTM but not the decoder
    model.activation_regularization(2.0, 1.0).backward()
    assert model.rnns[0].weight_ih_l0.grad is not None and model.decoder.bias.grad is None
    # a one-step sequence has no temporal change
    model(tokens(length=1)[0])
    out1 = host(model.output).astype(np.float64)
    assert model.activation_regularization(1.0, 5.0).item() == pytest.approx(np.mean(out1 ** 2),
                                                                              rel=1e-5)


# -- both paths, seeds, parameters -------------------------------------------------------------
def test_the_same_loss_and_gradients_on_both_paths():
    """Two truncated-BPTT segments with every dropout on, AR and TAR in the loss, the same seed:
    kernels and reference draw the same masks and agree to float32 rounding."""
    results = []
    for kernels in (True, False):
        with ad.use_kernels(kernels):
            ad.manual_seed(4)
            model = AWDLSTMLanguageModel(V, 8, 12, num_layers=3, dropout=0.3,
                                         dropout_hidden=0.2, dropout_input=0.3,
                                         dropout_embedding=0.2, weight_drop=0.5)
            state, losses = None, []
            for seed in (0, 1):
                x, y = tokens(seed)
                loss, state = lm_loss(model, x, y, model.detach_state(state))
                loss = loss + model.activation_regularization(2.0, 1.0)
                loss.backward()
                losses.append(loss.item())
            results.append((losses, {n: host(p.grad) for n, p in model.named_parameters()}))
    assert_paths_agree(results)


def test_the_same_seed_gives_the_same_run_and_a_saved_rng_state_resumes_it():
    def run(seed):
        ad.manual_seed(seed)
        model = AWDLSTMLanguageModel(V, 6, 8, num_layers=2)
        return model, host(model(tokens()[0])[0])

    model, a = run(3)
    np.testing.assert_array_equal(run(3)[1], a)
    assert not np.allclose(run(4)[1], a)
    x = tokens(1)[0]
    saved = ad.get_rng_state()
    b = host(model(x)[0])
    assert not np.allclose(host(model(x)[0]), b)              # new masks each forward
    ad.set_rng_state(saved)
    np.testing.assert_array_equal(host(model(x)[0]), b)


def test_layers_state_and_tied_weights():
    tied = AWDLSTMLanguageModel(V, 6, 10, num_layers=3)
    assert tied.layer_sizes() == [(6, 10), (10, 10), (10, 6)]
    assert tied.decoder.weight is tied.encoder.weight
    names = [n for n, _ in tied.named_parameters()]
    assert names == ["encoder.weight"] + [f"rnns.{k}.{w}_l0" for k in range(3) for w in
                                          ("weight_ih", "weight_hh", "bias_ih", "bias_hh")] \
        + ["decoder.bias"]
    assert tied.rnns[2].weight_hh_l0.shape == (24, 6) and tied.rnns[0].weight_ih_l0.shape == (40, 6)
    enc = host(tied.encoder.weight)
    assert np.abs(enc).max() <= 0.1 and (host(tied.decoder.bias) == 0).all()
    untied = AWDLSTMLanguageModel(V, 6, 10, num_layers=3, tie_weights=False)
    assert untied.layer_sizes()[-1] == (10, 10) and untied.decoder.weight.shape == (V, 10)
    assert len(list(untied.parameters())) == len(names) + 1
    single = AWDLSTMLanguageModel(V, 6, 10, num_layers=1)
    assert single.layer_sizes() == [(6, 6)]
    x, _ = tokens()
    logits, state = tied(x)
    assert logits.shape == (T, B, V) and logits.dtype == np.float32
    assert isinstance(state, tuple) and [tuple(s.shape for s in pair) for pair in state] == \
        [((1, B, 10), (1, B, 10)), ((1, B, 10), (1, B, 10)), ((1, B, 6), (1, B, 6))]
    zeros = tied.init_state(B)
    assert all(not s.requires_grad and (host(s) == 0).all() for pair in zeros for s in pair)
    tied.eval()
    np.testing.assert_array_equal(host(tied(x, zeros)[0]), host(tied(x)[0]))
    np.testing.assert_array_equal(host(tied(x.numpy())[0]), host(tied(x)[0]))


# -- truncated BPTT ----------------------------------------------------------------------------
def test_truncated_bptt_the_carried_state_is_detached():
    model = AWDLSTMLanguageModel(V, 6, 8, num_layers=2)
    x1, y1 = tokens(2)
    x2, y2 = tokens(3)
    start = tuple((ad.Tensor(np.zeros((1, B, n)), requires_grad=True),
                   ad.Tensor(np.zeros((1, B, n)), requires_grad=True))
                  for _, n in model.layer_sizes())
    loss1, state = lm_loss(model, x1, y1, start)
    carried = AWDLSTMLanguageModel.detach_state(state)
    assert isinstance(carried, tuple) and all(
        isinstance(pair, tuple) and all(s.is_leaf and not s.requires_grad for s in pair)
        for pair in carried)
    np.testing.assert_array_equal(host(carried[1][1]), host(state[1][1]))
    loss2, _ = lm_loss(model, x2, y2, carried)
    (loss2 + model.activation_regularization()).backward()
    assert all(s.grad is None for pair in start for s in pair)   # stopped at the cut
    loss1.backward()                                             # segment 1's graph intact
    assert all(s.grad is not None for pair in start for s in pair)
    # without the detach, segment 2's backward runs through segment 1
    loss1, state = lm_loss(model, x1, y1, start)
    loss2, _ = lm_loss(model, x2, y2, state)
    loss2.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss1.backward()
    assert AWDLSTMLanguageModel.detach_state(None) is None


def test_segment_gradients_do_not_depend_on_the_previous_graph():
    model = AWDLSTMLanguageModel(V, 6, 8, num_layers=2)
    _, state = lm_loss(model, *tokens(4))
    x2, y2 = tokens(5)
    grads = []
    for start in (AWDLSTMLanguageModel.detach_state(state),
                  tuple(tuple(ad.Tensor(s.numpy()) for s in pair) for pair in state)):
        model.zero_grad()
        ad.manual_seed(9)
        lm_loss(model, x2, y2, start)[0].backward()
        grads.append([host(p.grad) for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dropout", "dropout_hidden", "dropout_input",
                                  "dropout_embedding", "weight_drop"])
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, True, "0.1"])
def test_probabilities_outside_0_1_are_refused(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be a probability in \[0, 1\)"):
        AWDLSTMLanguageModel(V, 4, 4, **{name: value})


def test_errors_name_the_mistake():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer, got 0"):
        AWDLSTMLanguageModel(V, 4, 0)
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        AWDLSTMLanguageModel(V, 4, 4, num_layers=2.0)
    with pytest.raises(TypeError, match="tie_weights must be True or False"):
        AWDLSTMLanguageModel(V, 4, 4, tie_weights="yes")
    with pytest.raises(ValueError, match=r"locked_dropout: p must be a probability"):
        locked_dropout(ad.randn(2, 2, 2), 1.0)
    model = AWDLSTMLanguageModel(V, 4, 6, num_layers=2)
    with pytest.raises(RuntimeError, match="has not run a forward yet"):
        model.activation_regularization()
    with pytest.raises(TypeError, match="tokens must be integer ids, got dtype float32"):
        model(ad.Tensor([[1.0, 2.0]]))
    with pytest.raises(ShapeError, match=r"tokens must have shape \(seq, batch\), got shape \(3,\)"):
        model(ad.Tensor([1, 2, 3]))
    with pytest.raises(ShapeError, match=r"tokens must have shape \(seq, batch\)"):
        model(ad.Tensor(np.zeros((2, 2, 2), dtype=np.int64)))
    x, _ = tokens()
    with pytest.raises(TypeError, match="state must be a tuple of 2 pairs"):
        model(x, model.init_state(B)[:1])
    with pytest.raises(ShapeError, match=r"layer 1's c must have shape \(1, batch, hidden\) = "
                                         r"\(1, 3, 4\), got \(1, 3, 6\)"):
        h, c = model.init_state(B)[1]
        model(x, (model.init_state(B)[0], (h[:, :, :4], ad.zeros(1, B, 6))))
    with pytest.raises(IndexError, match="out of range"):
        model(ad.Tensor([[V]]))
    model(x)
    with pytest.raises(ValueError, match="alpha must be a number >= 0"):
        model.activation_regularization(alpha=-1.0)


def test_docstring_examples():
    ad.set_backend("numpy")  # the fixture restores the backend
    result = doctest.testmod(awd_lstm, extraglobs={"ad": ad})
    assert result.failed == 0 and result.attempted > 0
