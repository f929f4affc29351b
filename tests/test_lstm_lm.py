"""The LSTM language model, on both paths (kernels and reference): shapes, tied weights,
truncated BPTT (the carried state is detached), that it can fit a small fixed batch, and that
both paths give the same loss and gradients."""
import doctest

import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from autodiff.nn.losses import cross_entropy
from minioptim.models import lstm_lm
from minioptim.models.lstm_lm import LSTMLanguageModel

pytestmark = pytest.mark.usefixtures("layer_path")

V, T, B = 20, 8, 4


def tokens(seed=0, length=T):
    stream = np.random.default_rng(seed).integers(0, V, (length + 1, B))
    return ad.Tensor(stream[:-1]), ad.Tensor(stream[1:])


def lm_loss(model, x, y, state=None):
    logits, state = model(x, state)
    return cross_entropy(logits.reshape(-1, V), y.reshape(-1)), state


def test_output_and_state_shapes():
    model = LSTMLanguageModel(V, 12, 16, num_layers=2)
    x, _ = tokens()
    logits, (h, c) = model(x)
    assert logits.shape == (T, B, V) and logits.dtype == np.float32
    assert h.shape == c.shape == (2, B, 16)
    h0, c0 = model.init_state(B)
    assert h0.shape == c0.shape == (2, B, 16) and not h0.requires_grad
    np.testing.assert_array_equal(model(x, (h0, c0))[0].numpy(), logits.numpy())
    names = [n for n, _ in model.named_parameters()]
    assert names == ["encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                     "rnn.bias_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1",
                     "rnn.bias_hh_l1", "decoder.weight", "decoder.bias"]


def test_tied_weights_share_one_parameter():
    tied = LSTMLanguageModel(V, 16, 16, num_layers=1, tie_weights=True)
    assert tied.decoder.weight is tied.encoder.weight
    names = [n for n, _ in tied.named_parameters()]
    assert "encoder.weight" in names and "decoder.weight" not in names
    assert len(names) == len(list(LSTMLanguageModel(V, 16, 16, 1).parameters())) - 1
    # its gradient is the sum of what the embedding and the decoder each send
    untied = LSTMLanguageModel(V, 16, 16, num_layers=1)
    untied.load_state_dict({**tied.state_dict(), "decoder.weight": tied.encoder.weight.data})
    x, y = tokens(1)
    lm_loss(tied, x, y)[0].backward()
    lm_loss(untied, x, y)[0].backward()
    np.testing.assert_allclose(
        ad.backend.to_numpy(tied.encoder.weight.grad),
        ad.backend.to_numpy(untied.encoder.weight.grad + untied.decoder.weight.grad),
        rtol=1e-5, atol=1e-7)


def test_tied_weights_need_equal_sizes():
    with pytest.raises(ValueError, match=r"embedding_dim=12 and hidden_size=16"):
        LSTMLanguageModel(V, 12, 16, num_layers=2, tie_weights=True)


def test_truncated_bptt_the_carried_state_is_detached():
    model = LSTMLanguageModel(V, 8, 8, num_layers=2)
    x1, y1 = tokens(2)
    x2, y2 = tokens(3)
    h0 = ad.Tensor(np.zeros((2, B, 8)), requires_grad=True)
    c0 = ad.Tensor(np.zeros((2, B, 8)), requires_grad=True)
    loss1, state = lm_loss(model, x1, y1, (h0, c0))
    carried = LSTMLanguageModel.detach_state(state)
    assert isinstance(carried, tuple) and all(s.is_leaf and not s.requires_grad for s in carried)
    np.testing.assert_array_equal(carried[1].numpy(), state[1].numpy())
    loss2, _ = lm_loss(model, x2, y2, carried)
    loss2.backward()
    assert h0.grad is None and c0.grad is None          # segment 2's backward stopped at the cut
    # segment 1's graph was not touched (a second pass through it would raise)...
    loss1.backward()
    assert h0.grad is not None
    # ...whereas without the detach segment 2's backward runs through segment 1
    loss1, state = lm_loss(model, x1, y1, (h0, c0))
    loss2, _ = lm_loss(model, x2, y2, state)
    loss2.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss1.backward()


def test_segment_gradients_do_not_depend_on_the_previous_graph():
    """Segment 2 from a detached state = segment 2 from a fresh tensor with the same values."""
    model = LSTMLanguageModel(V, 8, 8, num_layers=2)
    _, state = lm_loss(model, *tokens(4))
    x2, y2 = tokens(5)
    grads = []
    for start in (LSTMLanguageModel.detach_state(state),
                  tuple(ad.Tensor(s.numpy()) for s in state)):
        model.zero_grad()
        lm_loss(model, x2, y2, start)[0].backward()
        grads.append([ad.backend.to_numpy(p.grad) for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_detach_state_handles_nesting_and_none():
    assert LSTMLanguageModel.detach_state(None) is None
    a = ad.Tensor([1.0], requires_grad=True) * 2
    out = LSTMLanguageModel.detach_state([a, (a, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple) and out[1][0].is_leaf


def test_dropout_only_in_training():
    model = LSTMLanguageModel(V, 8, 8, num_layers=2, dropout=0.5)
    x, _ = tokens()
    model.eval()
    a, b = model(x)[0].numpy(), model(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    assert not np.allclose(model(x)[0].numpy(), a)


def test_fits_a_small_fixed_batch():
    ad.manual_seed(0)
    model = LSTMLanguageModel(V, 16, 16, num_layers=2)
    opt = mo.Adam(model.parameters(), lr=0.05)
    x, y = tokens(0)
    losses = []
    for _ in range(60):
        loss, _ = lm_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(np.log(V), rel=0.05)   # uniform at the start
    assert losses[-1] <= 0.1 * losses[0], losses


def test_docstring_examples():
    ad.set_backend("numpy")  # the fixture restores the backend
    result = doctest.testmod(lstm_lm, extraglobs={"ad": ad})
    assert result.failed == 0 and result.attempted > 0


def test_the_same_loss_and_gradients_on_both_paths(layer_path):
    """Two truncated-BPTT segments of a 2-layer LM with tied weights and dropout (the same masks:
    the same seed), float32: kernels and reference agree to float32 rounding."""
    if layer_path == "reference":
        pytest.skip("the comparison runs both paths itself")
    results = []
    for kernels in (True, False):
        with ad.use_kernels(kernels):
            ad.manual_seed(4)
            model = LSTMLanguageModel(V, 16, 16, num_layers=2, dropout=0.3, tie_weights=True)
            state, losses = None, []
            for seed in (0, 1):
                x, y = tokens(seed)
                loss, state = lm_loss(model, x, y, model.detach_state(state))
                loss.backward()
                losses.append(loss.item())
            results.append((losses, {n: ad.backend.to_numpy(p.grad)
                                     for n, p in model.named_parameters()}))
    assert_paths_agree(results)


def assert_paths_agree(results):
    """Two (losses, {name: gradient}) results, of the kernels and of the reference path, agree:
    losses to 1e-5, each gradient to 1e-4 of its largest entry."""
    (losses_k, grads_k), (losses_r, grads_r) = results
    np.testing.assert_allclose(losses_k, losses_r, rtol=1e-5)
    for name in grads_k:
        scale = np.abs(grads_r[name]).max()
        np.testing.assert_allclose(grads_k[name], grads_r[name], rtol=0, atol=1e-4 * scale,
                                   err_msg=name)
