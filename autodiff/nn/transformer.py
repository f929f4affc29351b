r"""Multi-head attention, Transformer encoder and decoder layers, and positional encodings, as
``torch.nn`` has them (same names, arguments, parameter names and defaults), so a PyTorch state
dict loads and the numbers agree (``benchmarks/check_transformer_against_torch.py``).

Attention of queries Q (L, d), keys K (S, d) and values V (S, d_v):

    A = softmax(Q K^T / sqrt(d) + M),   out = A V              (rows of A sum to 1)

M is an additive mask: 0 where query i may look at key j, -inf where it may not (a query that
may look at no key gets zero weights, as PyTorch's attention kernels give since 2.5).
Multi-head attention projects the inputs h times with d = E / h and puts the heads side by side:

    head_k = attention(x_q W_q^k, x_k W_k^k, x_v W_v^k),   out = [head_1, ..., head_h] W_o^T + b_o

with the three projections stacked in one ``in_proj_weight`` (3E, E) (rows q, k, v) and W_o in
``out_proj``. Everything is written with primitives (matmul, softmax, where): backpropagation
through it is the engine's own.

Masks follow PyTorch's conventions, which differ between functions: here (``MultiheadAttention``
and the layers) a boolean ``attn_mask`` or ``key_padding_mask`` is True where attention is NOT
allowed (a padded key), and a float mask is added to the scores.
"""
from __future__ import annotations

import math

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor, expect_tensor
from . import init
from .attention import _mask_array, attention_weights
from .layers import Dropout, Embedding, Linear, linear, relu
from .module import Module, Parameter
from .normalization import LayerNorm


def _additive(mask, what: str, like: Tensor):
    """A mask as an array on ``like``'s backend, to add to the scores: bool True -> -inf (not
    allowed), float as is."""
    m, xp, dtype = _mask_array(mask, like), backend.array_module(like.data), like.dtype
    if m.dtype.kind == "b":
        return _blocked(xp, m, dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {what} must be bool (True = not allowed) or float "
                        f"(added to the scores), got {m.dtype}")
    return m.astype(dtype, copy=False)


def causal_mask(size: int, xp=None, dtype="float32"):
    """(size, size) additive mask: 0 on and below the diagonal, -inf above (position i sees
    positions 0..i), as ``nn.Transformer.generate_square_subsequent_mask``."""
    xp = xp or backend.xp
    return _blocked(xp, xp.triu(xp.ones((size, size), dtype=bool), 1), dtype)


def _blocked(xp, blocked, dtype):
    """-inf where ``blocked`` (a bool array) holds, 0 elsewhere."""
    return xp.where(blocked, xp.asarray(-math.inf, dtype=dtype), xp.asarray(0.0, dtype=dtype))


class MultiheadAttention(Module):
    """``nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False)``.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights): inputs (L, N, E), or
    (N, L, E) with ``batch_first``, or unbatched (L, E); ``key_padding_mask`` (N, S),
    ``attn_mask`` (L, S) or (N * num_heads, L, S); weights (N, L, S) averaged over the heads
    (or (N, num_heads, L, S)), after dropout, as PyTorch returns them; None unless need_weights.
    ``is_causal`` without an ``attn_mask`` masks the future (query i sees keys 0..i).
    Initialization as PyTorch: in_proj_weight xavier-uniform, biases zero, out_proj as Linear."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False):
        super().__init__()
        for name, v in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {v!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads}): each head gets embed_dim / num_heads")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        xp = backend.xp
        self.in_proj_weight = Parameter(xp.zeros((3 * embed_dim, embed_dim), dtype="float32"))
        self.in_proj_bias = Parameter(xp.zeros((3 * embed_dim,), dtype="float32")) if bias \
            else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        for name, t in (("query", query), ("key", key), ("value", value)):
            expect_tensor(t, f"MultiheadAttention ({name})")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = _batched_mask(key_padding_mask)
        elif self.batch_first:                                  # work in (L, N, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        self._check_shapes(query, key, value)
        out, weights = self._attend(query, key, value, key_padding_mask, attn_mask, is_causal,
                                    need_weights, average_attn_weights)
        if unbatched:
            out = out.reshape(out.shape[0], out.shape[2])
            if weights is not None:
                weights = weights.reshape(weights.shape[1:])
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _check_shapes(self, q, k, v) -> None:
        e = self.embed_dim
        if q.ndim != 3 or k.ndim != 3 or v.ndim != 3:
            raise ShapeError(f"MultiheadAttention: query, key and value must be 3-d (or all 2-d), "
                             f"got shapes {q.shape}, {k.shape}, {v.shape}")
        if q.shape[2] != e or k.shape[2] != e or v.shape[2] != e:
            raise ShapeError(f"MultiheadAttention: the last dimension of query, key and value "
                             f"must be embed_dim={e}, got shapes {q.shape}, {k.shape}, {v.shape}")
        if k.shape[:2] != v.shape[:2] or q.shape[1] != k.shape[1]:
            raise ShapeError(f"MultiheadAttention: key and value must have the same length and "
                             f"batch, and query the same batch; got shapes {q.shape}, {k.shape}, "
                             f"{v.shape}")

    def _attend(self, query, key, value, key_padding_mask, attn_mask, is_causal, need_weights,
                average):
        (L, N, E), S, h, d = query.shape, key.shape[0], self.num_heads, self.head_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        q, k, v = (linear(x, w[i * E:(i + 1) * E], None if b is None else b[i * E:(i + 1) * E])
                   for i, x in enumerate((query, key, value)))
        # (len, N, E) -> (N, h, len, d): the heads become a batch dimension
        q, k, v = (t.reshape(t.shape[0], N, h, d).permute(1, 2, 0, 3) for t in (q, k, v))
        mask = self._mask(key_padding_mask, attn_mask, is_causal, N, L, S, q)
        # softmax(q k^T / sqrt(d) + mask), (N, h, L, S), the reference of autodiff.nn.attention
        weights = attention_weights(q, k, mask, self.dropout if self.training else 0.0)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(L, N, E)           # heads side by side
        out = self.out_proj(out)
        if not need_weights:
            return out, None
        return out, (weights.mean(axis=1) if average else weights)

    def _mask(self, key_padding_mask, attn_mask, is_causal, N, L, S, q):
        """The additive mask (broadcastable to (N, h, L, S)), or None."""
        xp, dtype, h = backend.array_module(q.data), q.dtype, self.num_heads
        total = None
        if attn_mask is not None:
            m = _additive(attn_mask, "attn_mask", q)
            if m.shape == (L, S):
                m = m[None, None]
            elif m.shape == (N * h, L, S):
                m = m.reshape(N, h, L, S)
            else:
                raise ShapeError(f"MultiheadAttention: attn_mask must have shape ({L}, {S}) or "
                                 f"({N * h}, {L}, {S}) (batch * num_heads, L, S), got {m.shape}")
            total = m
        elif is_causal:
            if L != S:
                raise ShapeError(f"MultiheadAttention: is_causal needs as many queries as keys "
                                 f"(got L={L}, S={S}); pass an attn_mask instead")
            total = causal_mask(L, xp, dtype)[None, None]
        if key_padding_mask is not None:
            m = _additive(key_padding_mask, "key_padding_mask", q)
            if m.shape != (N, S):
                raise ShapeError(f"MultiheadAttention: key_padding_mask must have shape (N, S) = "
                                 f"({N}, {S}), got {m.shape}")
            m = m[:, None, None, :]
            total = m if total is None else total + m
        return total

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")


def _batched_mask(mask):
    m = mask.data if isinstance(mask, Tensor) else mask
    return m.reshape((1,) + tuple(m.shape))


def _activation(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        from .activations import gelu
        return gelu
    raise ValueError(f"activation must be 'relu', 'gelu' or a function, got {activation!r}")


def _build(layer, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
           batch_first, norm_first, bias, blocks: int) -> None:
    """The parts of an encoder (2 residual blocks) or decoder (3) layer, assigned in PyTorch's
    order so that the state dicts list the same keys in the same order."""
    attn = dict(dropout=dropout, bias=bias, batch_first=batch_first)
    layer.self_attn = MultiheadAttention(d_model, nhead, **attn)
    if blocks == 3:
        layer.multihead_attn = MultiheadAttention(d_model, nhead, **attn)
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias)
    layer.norm_first = norm_first
    for k in range(1, blocks + 1):
        setattr(layer, f"norm{k}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
    for k in range(1, blocks + 1):
        setattr(layer, f"dropout{k}", Dropout(dropout))
    layer.activation = _activation(activation)


class TransformerEncoderLayer(Module):
    """``nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``.

        post-norm (default):  x = norm1(x + SA(x));        x = norm2(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x));        x = x + FF(norm2(x))

    SA is self-attention followed by dropout, FF = dropout(linear2(dropout(act(linear1(x))))).
    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True):
        super().__init__()
        _build(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
               batch_first, norm_first, bias, blocks=2)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff(x))

    def _sa(self, x, mask, padding, is_causal):
        out, _ = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False,
                                attn_mask=mask, is_causal=is_causal)
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """``nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``:
    self-attention on the target, attention to the encoder's output ``memory``, feed-forward.

        post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x))
        pre-norm:  x = x + SA(norm1(x)); x = x + MHA(norm2(x), memory); x = x + FF(norm3(x))

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True):
        super().__init__()
        _build(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
               batch_first, norm_first, bias, blocks=3)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        x = tgt
        sa = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        mha = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), *sa)
            x = x + self._mha(self.norm2(x), memory, *mha)
            return x + self._ff(self.norm3(x))
        x = self.norm1(x + self._sa(x, *sa))
        x = self.norm2(x + self._mha(x, memory, *mha))
        return self.norm3(x + self._ff(x))

    def _sa(self, x, mask, padding, is_causal):
        out, _ = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False,
                                attn_mask=mask, is_causal=is_causal)
        return self.dropout1(out)

    def _mha(self, x, memory, mask, padding, is_causal):
        out, _ = self.multihead_attn(x, memory, memory, key_padding_mask=padding,
                                     need_weights=False, attn_mask=mask, is_causal=is_causal)
        return self.dropout2(out)

    def _ff(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def sinusoidal_table(max_len: int, d_model: int, xp=None, dtype="float32"):
    """(max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i / d)), PE[pos, 2i+1] = cos(same)
    (Vaswani et al., 2017); an odd d_model drops the last cosine column."""
    xp = xp or backend.xp
    pos = xp.arange(max_len, dtype="float64")[:, None]
    freq = xp.exp(xp.arange(0, d_model, 2, dtype="float64") * (-math.log(10000.0) / d_model))
    table = xp.zeros((max_len, d_model), dtype="float64")
    table[:, 0::2] = xp.sin(pos * freq)
    table[:, 1::2] = xp.cos(pos * freq)[:, :d_model // 2]
    return table.astype(dtype)


class SinusoidalPositionalEncoding(Module):
    """x + PE[:L] (a fixed table, no parameters; see ``sinusoidal_table``), then dropout. Input
    (L, N, E), or (N, L, E) with ``batch_first``."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 batch_first: bool = False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        self.pe = sinusoidal_table(max_len, d_model)    # fixed: not a parameter, not saved

    def forward(self, x):
        length = _positions(x, self.batch_first, self.max_len, self.d_model, "sinusoidal")
        pe = self.pe[:length].astype(x.dtype, copy=False)
        pe = pe[None] if self.batch_first else pe[:, None]
        return self.dropout(x + Tensor._make(pe))


class LearnedPositionalEncoding(Module):
    """x + P[:L] with P a trained (max_len, d_model) table (an ``Embedding`` of positions,
    initialized N(0, 1) as Embedding is), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0,
                 batch_first: bool = False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.embedding = Embedding(max_len, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        length = _positions(x, self.batch_first, self.max_len, self.d_model, "learned")
        xp = backend.array_module(x.data)
        p = self.embedding(Tensor._make(xp.arange(length)))          # (L, E)
        p = p.unsqueeze(0) if self.batch_first else p.unsqueeze(1)
        return self.dropout(x + p)


def _positions(x, batch_first: bool, max_len: int, d_model: int, kind: str) -> int:
    expect_tensor(x, f"{kind} positional encoding")
    if x.ndim != 3 or x.shape[2] != d_model:
        raise ShapeError(f"{kind} positional encoding: expected an input of shape "
                         f"{'(N, L, E)' if batch_first else '(L, N, E)'} with E = {d_model}, "
                         f"got {x.shape}")
    length = x.shape[1] if batch_first else x.shape[0]
    if length > max_len:
        raise ShapeError(f"{kind} positional encoding: the sequence has {length} positions but "
                         f"the table only {max_len}; build it with max_len >= {length}")
    return length
