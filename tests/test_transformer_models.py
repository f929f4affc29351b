"""The Transformer models of minioptim.models: causality, padding, shapes, weight tying, and
that both really learn (a fixed batch is fitted; the encoder-decoder then translates its
training sentences back by greedy decoding)."""
import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from autodiff.nn import functional as F
from minioptim.models import Seq2SeqTransformer, TransformerLanguageModel


def host(t):
    return ad.backend.to_numpy(t.data)


def small_lm(**kw):
    args = dict(d_model=16, nhead=2, num_layers=2, dim_feedforward=32, dropout=0.0)
    args.update(kw)
    return TransformerLanguageModel(12, **args)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
@pytest.mark.parametrize("norm_first", [True, False])
def test_language_model_logits_do_not_see_later_tokens(positional, norm_first):
    ad.manual_seed(0)
    model = small_lm(positional=positional, norm_first=norm_first)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 12, (8, 3))
    later = tokens.copy()
    later[5:] = rng.integers(0, 12, (3, 3))
    a, state = model(ad.Tensor(tokens))
    b, _ = model(ad.Tensor(later))
    assert a.shape == (8, 3, 12) and state == ()
    np.testing.assert_allclose(host(a)[:5], host(b)[:5], rtol=1e-5, atol=1e-6)
    assert not np.allclose(host(a)[5:], host(b)[5:])
    assert model.init_state(3) == () and model.detach_state(()) == ()


def test_language_model_fits_a_fixed_batch_and_ties_weights():
    ad.manual_seed(1)
    model = small_lm(tie_weights=True)
    assert model.decoder.weight is model.embed.embedding.weight
    assert len(list(model.parameters())) == len({id(p) for p in model.parameters()})
    rng = np.random.default_rng(1)
    stream = rng.integers(0, 12, (17, 4))
    x, y = ad.Tensor(stream[:-1]), ad.Tensor(stream[1:])
    opt = mo.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, 12), y.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.0                                  # ~log 12 at the start
    assert losses[-1] < 0.25 * losses[0], losses[::10]


def test_seq2seq_padding_is_ignored_and_the_decoder_is_causal():
    ad.manual_seed(2)
    model = Seq2SeqTransformer(10, 11, d_model=16, nhead=2, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=32, dropout=0.0,
                               pad_index=0)
    rng = np.random.default_rng(2)
    src = rng.integers(1, 10, (6, 2))
    src[4:, 0] = 0                                          # sentence 0 is shorter: padded
    tgt = rng.integers(1, 11, (5, 2))
    a = host(model(ad.Tensor(src), ad.Tensor(tgt)))
    src2 = src.copy()
    src2[:, 1] = rng.integers(1, 10, 6)                     # change sentence 1 only
    b = host(model(ad.Tensor(src2), ad.Tensor(tgt)))
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-5, atol=1e-6)   # batch rows independent
    tgt2 = tgt.copy()
    tgt2[3:] = rng.integers(1, 11, (2, 2))
    c = host(model(ad.Tensor(src), ad.Tensor(tgt2)))
    np.testing.assert_allclose(a[:3], c[:3], rtol=1e-5, atol=1e-6)


def test_seq2seq_learns_to_reverse_its_training_sentences():
    ad.manual_seed(3)
    bos, eos, vocab = 1, 2, 9
    rng = np.random.default_rng(3)
    src = rng.integers(3, vocab, (5, 6))                   # 6 sentences of 5 tokens
    tgt = np.concatenate([src[::-1], np.full((1, 6), eos)])
    tgt_in = np.concatenate([np.full((1, 6), bos), tgt[:-1]])
    model = Seq2SeqTransformer(vocab, vocab, d_model=32, nhead=4, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=64, dropout=0.0)
    opt = mo.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        logits = model(ad.Tensor(src), ad.Tensor(tgt_in))
        loss = F.cross_entropy(logits.reshape(-1, vocab), ad.Tensor(tgt.reshape(-1)))
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    model.eval()
    out = host(model.greedy_decode(ad.Tensor(src), bos, eos, max_len=8))
    np.testing.assert_array_equal(out[:6], tgt)


def test_bad_tokens_and_options_are_clear_errors():
    model = small_lm()
    with pytest.raises(ValueError, match=r"integer token ids of shape \(seq, batch\)"):
        model(ad.Tensor(np.zeros((3, 2), dtype=np.float32)))
    with pytest.raises(ValueError, match="positional must be one of sinusoidal, learned"):
        small_lm(positional="rotary")
