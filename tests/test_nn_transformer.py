"""Multi-head attention, Transformer layers and positional encodings (autodiff/nn/transformer.py)
against NumPy written here, hand-built special cases, gradcheck and invariances: causality,
padding, permutation equivariance, the shift property of the sinusoidal table. The comparison
with PyTorch itself (loaded state dicts, float64) is benchmarks/check_transformer_against_torch.py.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import nn

FEW = settings(max_examples=8)


def host(t):
    return ad.backend.to_numpy(t.data if isinstance(t, ad.Tensor) else t)


def t64(a, grad=False):
    return ad.Tensor(np.asarray(a, dtype=np.float64), dtype="float64", requires_grad=grad)


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def numpy_mha(m, q, k, v, mask=None):
    """MultiheadAttention by loops over batch and heads from the module's weights; inputs
    (len, N, E), mask additive (L, S)."""
    W, b = host(m.in_proj_weight), host(m.in_proj_bias)
    Wo, bo = host(m.out_proj.weight), host(m.out_proj.bias)
    E, h = m.embed_dim, m.num_heads
    d = E // h
    L, N, _ = q.shape
    out = np.zeros((L, N, E))
    weights = np.zeros((N, L, k.shape[0]))
    for n in range(N):
        Q = q[:, n] @ W[:E].T + b[:E]
        K = k[:, n] @ W[E:2 * E].T + b[E:2 * E]
        V = v[:, n] @ W[2 * E:].T + b[2 * E:]
        heads = []
        for j in range(h):
            cols = slice(j * d, (j + 1) * d)
            s = Q[:, cols] @ K[:, cols].T / math.sqrt(d)
            a = softmax(s if mask is None else s + mask)
            weights[n] += a / h
            heads.append(a @ V[:, cols])
        out[:, n] = np.concatenate(heads, axis=1) @ Wo.T + bo
    return out, weights


@FEW
@given(heads=st.sampled_from([1, 2, 4]), L=st.integers(1, 4), S=st.integers(1, 5),
       N=st.integers(1, 3), seed=st.integers(0, 1000))
def test_multihead_attention_equals_loops_over_heads(heads, L, S, N, seed):
    rng = np.random.default_rng(seed)
    m = nn.MultiheadAttention(8, heads).double()
    q, k, v = rng.normal(size=(L, N, 8)), rng.normal(size=(S, N, 8)), rng.normal(size=(S, N, 8))
    out, w = m(t64(q), t64(k), t64(v))
    ref, ref_w = numpy_mha(m, q, k, v)
    np.testing.assert_allclose(host(out), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(w), ref_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(w).sum(-1), 1.0, rtol=1e-12)


def test_one_head_with_identity_projections_is_plain_attention():
    m = nn.MultiheadAttention(4, 1).double()
    eye = np.eye(4)
    m.load_state_dict({"in_proj_weight": np.concatenate([eye, eye, eye]),
                       "in_proj_bias": np.zeros(12), "out_proj.weight": eye,
                       "out_proj.bias": np.zeros(4)})
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    out, w = m(t64(q), t64(k), t64(v))                 # unbatched (L, E)
    a = softmax(q @ k.T / 2.0)                         # sqrt(d) = 2
    np.testing.assert_allclose(host(w), a, rtol=1e-12)
    np.testing.assert_allclose(host(out), a @ v, rtol=1e-12)


def test_masks_block_what_they_say(layer_path):
    rng = np.random.default_rng(2)
    m = nn.MultiheadAttention(6, 3).double()
    L, S, N = 4, 5, 2
    q, k, v = rng.normal(size=(L, N, 6)), rng.normal(size=(S, N, 6)), rng.normal(size=(S, N, 6))
    attn = rng.random((L, S)) < 0.4
    attn[:, 1] = False
    out, w = m(t64(q), t64(k), t64(v), attn_mask=attn)
    ref, ref_w = numpy_mha(m, q, k, v, np.where(attn, -np.inf, 0.0))
    np.testing.assert_allclose(host(out), ref, rtol=1e-10, atol=1e-12)
    assert np.all(host(w)[:, attn] == 0)                  # blocked pairs get weight 0
    float_mask = rng.normal(size=(L, S))                  # a float mask is added to the scores
    out, _ = m(t64(q), t64(k), t64(v), attn_mask=float_mask)
    np.testing.assert_allclose(host(out), numpy_mha(m, q, k, v, float_mask)[0], rtol=1e-10)
    # padded keys: whatever they hold, the output does not change
    pad = np.zeros((N, S), dtype=bool)
    pad[0, 3:] = True
    k2, v2 = k.copy(), v.copy()
    k2[3:, 0] += 100 * rng.normal(size=(2, 6))
    v2[3:, 0] -= 50
    a, wa = m(t64(q), t64(k), t64(v), key_padding_mask=pad)
    b, _ = m(t64(q), t64(k2), t64(v2), key_padding_mask=pad)
    np.testing.assert_allclose(host(a), host(b), rtol=1e-12)
    assert np.all(host(wa)[0, :, 3:] == 0)
    # a sentence whose every key is padding: zero weights, not NaN (PyTorch's safe softmax)
    pad[1] = True
    c, wc = m(t64(q), t64(k), t64(v), key_padding_mask=pad)
    assert np.isfinite(host(c)).all() and np.all(host(wc)[1] == 0)
    np.testing.assert_allclose(host(c)[:, 1], np.broadcast_to(host(m.out_proj.bias), (L, 6)))


@pytest.mark.parametrize("how", ["is_causal", "mask"])
def test_causal_attention_does_not_see_the_future(how):
    rng = np.random.default_rng(3)
    m = nn.MultiheadAttention(4, 2).double()
    x = rng.normal(size=(5, 2, 4))
    kw = dict(is_causal=True) if how == "is_causal" else dict(attn_mask=nn.transformer.causal_mask(
        5, dtype="float64"))
    a, w = m(t64(x), t64(x), t64(x), **kw)
    y = x.copy()
    y[3:] += rng.normal(size=(2, 2, 4))                   # change positions 3, 4 only
    b, _ = m(t64(y), t64(y), t64(y), **kw)
    np.testing.assert_allclose(host(a)[:3], host(b)[:3], rtol=1e-12)
    assert not np.allclose(host(a)[3:], host(b)[3:])
    assert np.all(np.triu(host(w)[0], 1) == 0)


def test_batch_first_and_unbatched_inputs_give_the_same_numbers():
    rng = np.random.default_rng(4)
    m = nn.MultiheadAttention(4, 2).double()
    q, k = rng.normal(size=(3, 2, 4)), rng.normal(size=(5, 2, 4))
    a, wa = m(t64(q), t64(k), t64(k))
    m.batch_first = True
    b, wb = m(t64(q.transpose(1, 0, 2)), t64(k.transpose(1, 0, 2)), t64(k.transpose(1, 0, 2)))
    np.testing.assert_allclose(host(b).transpose(1, 0, 2), host(a), rtol=1e-12)
    np.testing.assert_allclose(host(wb), host(wa), rtol=1e-12)
    m.batch_first = False
    c, wc = m(t64(q[:, 0]), t64(k[:, 0]), t64(k[:, 0]))
    np.testing.assert_allclose(host(c), host(a)[:, 0], rtol=1e-12)
    np.testing.assert_allclose(host(wc), host(wa)[0], rtol=1e-12)
    _, w_heads = m(t64(q), t64(k), t64(k), average_attn_weights=False)
    assert w_heads.shape == (2, 2, 3, 5)
    np.testing.assert_allclose(host(w_heads).mean(1), host(wa), rtol=1e-12)
    assert m(t64(q), t64(k), t64(k), need_weights=False)[1] is None


def test_multihead_attention_gradcheck_inputs_and_weights():
    rng = np.random.default_rng(5)
    m = nn.MultiheadAttention(4, 2).double()
    q, k = t64(rng.normal(size=(2, 2, 4)), True), t64(rng.normal(size=(3, 2, 4)), True)
    pad = np.array([[False, False, True], [False, False, False]])
    assert ad.gradcheck(lambda a, b: m(a, b, b, key_padding_mask=pad)[0], q, k)
    w = m.in_proj_weight
    assert ad.gradcheck(lambda a, w_: _with(m, "in_proj_weight", w_, lambda: m(a, a, a)[0]),
                        q, t64(host(w), True))


def _with(module, name, value, fn):
    """fn() with module.<name> temporarily replaced (to gradcheck a weight)."""
    old = getattr(module, name)
    object.__setattr__(module, name, value)
    try:
        return fn()
    finally:
        object.__setattr__(module, name, old)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_is_its_two_residual_blocks(norm_first, layer_path):
    rng = np.random.default_rng(6)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                       norm_first=norm_first).double()
    x = t64(rng.normal(size=(5, 3, 8)))

    def sa(z):
        return layer.self_attn(z, z, z)[0]

    def ff(z):
        return layer.linear2(ad.relu(layer.linear1(z)))
    if norm_first:
        y = x + sa(layer.norm1(x))
        expected = y + ff(layer.norm2(y))
    else:
        y = layer.norm1(x + sa(x))
        expected = layer.norm2(y + ff(y))
    np.testing.assert_allclose(host(layer(x)), host(expected), rtol=1e-12)


def test_encoder_layer_is_equivariant_to_permuting_positions():
    """Without positional information self-attention cannot tell positions apart."""
    rng = np.random.default_rng(7)
    layer = nn.TransformerEncoderLayer(8, 4, dim_feedforward=16, dropout=0.0).double()
    x = rng.normal(size=(6, 2, 8))
    perm = rng.permutation(6)
    a, b = host(layer(t64(x))), host(layer(t64(x[perm])))
    np.testing.assert_allclose(b, a[perm], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_is_causal_and_uses_the_memory(norm_first):
    rng = np.random.default_rng(8)
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                       norm_first=norm_first).double()
    tgt, mem = rng.normal(size=(5, 2, 8)), rng.normal(size=(4, 2, 8))
    a = host(layer(t64(tgt), t64(mem), tgt_is_causal=True))
    tgt2 = tgt.copy()
    tgt2[4] += 3.0
    b = host(layer(t64(tgt2), t64(mem), tgt_is_causal=True))
    np.testing.assert_allclose(a[:4], b[:4], rtol=1e-12)
    c = host(layer(t64(tgt), t64(mem + 1.0), tgt_is_causal=True))
    assert not np.allclose(a, c)
    t, m = t64(tgt[:3], True), t64(mem[:2], True)
    assert ad.gradcheck(lambda u, v: layer(u, v, tgt_is_causal=True), t, m)


def test_state_dict_names_are_pytorchs():
    attn = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert list(enc.state_dict()) == (
        [f"self_attn.{n}" for n in attn] + ["linear1.weight", "linear1.bias", "linear2.weight",
                                            "linear2.bias", "norm1.weight", "norm1.bias",
                                            "norm2.weight", "norm2.bias"])
    dec = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    names = list(dec.state_dict())
    assert names[:8] == [f"self_attn.{n}" for n in attn] + [f"multihead_attn.{n}" for n in attn]
    assert names[8:] == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                         "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
                         "norm3.weight", "norm3.bias"]
    assert enc.self_attn.in_proj_weight.shape == (24, 8)
    assert np.all(host(enc.self_attn.in_proj_bias) == 0)
    bound = math.sqrt(6 / (8 + 24))                        # xavier-uniform over (3E, E)
    assert np.abs(host(enc.self_attn.in_proj_weight)).max() <= bound


def test_sinusoidal_table_and_its_shift_property():
    pe = nn.transformer.sinusoidal_table(50, 6, dtype="float64")
    pe = host(pe)
    pos, i = 7, 1
    assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 6)), abs=1e-14)
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 6)), abs=1e-14)
    # PE[p + k] is a rotation of PE[p] in each (sin, cos) pair: the same for every p
    k = 5
    for i in range(3):
        w = 1 / 10000 ** (2 * i / 6)
        rot = np.array([[math.cos(k * w), -math.sin(k * w)], [math.sin(k * w), math.cos(k * w)]])
        pairs = pe[:, 2 * i:2 * i + 2]
        np.testing.assert_allclose(pairs[k:], pairs[:-k] @ rot, atol=1e-12)
    odd = host(nn.transformer.sinusoidal_table(4, 5))
    assert odd.shape == (4, 5) and odd.dtype == np.float32


def test_positional_encodings_add_the_right_rows():
    enc = nn.SinusoidalPositionalEncoding(6, max_len=10, batch_first=True)
    x = ad.Tensor(np.zeros((2, 4, 6), dtype=np.float32))
    np.testing.assert_allclose(host(enc(x))[1], host(enc.pe)[:4], rtol=1e-7)
    assert "pe" not in enc.state_dict()
    learned = nn.LearnedPositionalEncoding(6, max_len=10)
    x = ad.Tensor(np.zeros((3, 2, 6), dtype=np.float32), requires_grad=True)
    learned(x).sum().backward()
    g = host(learned.embedding.weight.grad)
    np.testing.assert_allclose(g[:3], 2.0)                 # rows 0..2, batch 2
    np.testing.assert_allclose(g[3:], 0.0)
    with pytest.raises(ad.ShapeError, match="max_len >= 11"):
        enc(ad.Tensor(np.zeros((1, 11, 6), dtype=np.float32)))


def test_clear_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    m = nn.MultiheadAttention(4, 2)
    x = ad.Tensor(np.zeros((3, 2, 4), dtype=np.float32))
    with pytest.raises(ad.ShapeError, match=r"attn_mask must have shape \(3, 3\)"):
        m(x, x, x, attn_mask=np.zeros((2, 2), dtype=bool))
    with pytest.raises(ad.ShapeError, match="key_padding_mask must have shape"):
        m(x, x, x, key_padding_mask=np.zeros((3, 3), dtype=bool))
    with pytest.raises(ad.ShapeError, match="embed_dim=4"):
        m(x, ad.Tensor(np.zeros((3, 2, 5), dtype=np.float32)), x)
    with pytest.raises(TypeError, match="bool .* or float"):
        m(x, x, x, attn_mask=np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(4, 2, activation="swish")


def test_double_and_float_cast_parameters_and_buffers():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8).double()
    assert {p.dtype for p in layer.parameters()} == {np.dtype("float64")}
    bn = nn.BatchNorm1d(3).double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    layer.float()
    assert {p.dtype for p in layer.parameters()} == {np.dtype("float32")}
