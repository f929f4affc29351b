r"""Two small Transformers (Vaswani et al., 2017) built from ``autodiff.nn``'s layers:

``TransformerLanguageModel`` (decoder-only, as GPT): tokens (seq, batch) -> embedding *
sqrt(d_model) + positional encoding -> ``num_layers`` self-attention layers with a causal mask
(position t attends to positions <= t) -> final LayerNorm (pre-norm layers) -> Linear ->
next-token logits (seq, batch, V). Its interface is the LSTM language model's
(``forward(tokens, state) -> (logits, state)``, ``init_state``, ``detach_state``), so the trainer
runs it with the same BPTT loop; the "state" is empty: each segment is read on its own (no
memory across segments, unlike the LSTM).

``Seq2SeqTransformer`` (encoder-decoder, for translation): source tokens (S, N) -> encoder;
target tokens shifted right (T, N) -> decoder (causal self-attention, attention to the encoder's
output) -> logits (T, N, target vocabulary); ``greedy_decode`` translates token by token.

Pre-norm (``norm_first=True``, the default here) trains without the warmup that post-norm
layers need (Xiong et al., 2020); ``norm_first=False`` gives the original layers.
"""
from __future__ import annotations

import math

from autodiff import backend
from autodiff.nn.layers import Embedding, Linear
from autodiff.nn.module import Module, ModuleList
from autodiff.nn.normalization import LayerNorm
from autodiff.nn.transformer import (LearnedPositionalEncoding, SinusoidalPositionalEncoding,
                                     TransformerDecoderLayer, TransformerEncoderLayer,
                                     causal_mask)
from autodiff.modes import no_grad
from autodiff.tensor import Tensor

__all__ = ["TransformerLanguageModel", "Seq2SeqTransformer"]

POSITIONAL = ("sinusoidal", "learned")


def _positional(kind: str, d_model: int, max_len: int, dropout: float):
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(d_model, max_len, dropout)
    if kind == "learned":
        return LearnedPositionalEncoding(d_model, max_len, dropout)
    raise ValueError(f"positional must be one of {', '.join(POSITIONAL)}, got {kind!r}")


def _tokens(tokens, what: str):
    t = tokens if isinstance(tokens, Tensor) else Tensor(tokens)
    if t.ndim != 2 or t.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected integer token ids of shape (seq, batch), got "
                         f"{t.dtype} of shape {t.shape}")
    return t


class _Embedded(Module):
    """Token embedding * sqrt(d_model) (the scale of the original paper) + positions."""

    def __init__(self, vocab: int, d_model: int, max_len: int, dropout: float, positional: str):
        super().__init__()
        self.embedding = Embedding(vocab, d_model)
        self.positions = _positional(positional, d_model, max_len, dropout)
        self.scale = math.sqrt(d_model)

    def forward(self, tokens):
        return self.positions(self.embedding(tokens) * self.scale)


class TransformerLanguageModel(Module):
    """Decoder-only Transformer language model (see the module docstring).

    Args: vocab_size, d_model=128, nhead=4, num_layers=2, dim_feedforward=512, dropout=0.1,
    max_len=512 (longest segment), positional="sinusoidal" or "learned", norm_first=True,
    tie_weights=False (the decoder uses the embedding matrix).

    Example:
        >>> model = TransformerLanguageModel(vocab_size=20, d_model=8, nhead=2, num_layers=1,
        ...                                  dim_feedforward=16)
        >>> logits, state = model(ad.Tensor([[1, 2], [3, 4], [5, 6]]))    # (seq 3, batch 2)
        >>> logits.shape
        (3, 2, 20)
    """

    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 512, dropout: float = 0.1, max_len: int = 512,
                 positional: str = "sinusoidal", norm_first: bool = True,
                 tie_weights: bool = False):
        super().__init__()
        self.vocab_size, self.d_model = vocab_size, d_model
        self.embed = _Embedded(vocab_size, d_model, max_len, dropout, positional)
        self.layers = ModuleList([
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                    norm_first=norm_first) for _ in range(num_layers)])
        self.norm = LayerNorm(d_model) if norm_first else None
        self.decoder = Linear(d_model, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embed.embedding.weight

    def forward(self, tokens, state=()):
        tokens = _tokens(tokens, "TransformerLanguageModel")
        x = self.embed(tokens)
        mask = causal_mask(tokens.shape[0], backend.array_module(x.data), x.dtype)
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        if self.norm is not None:
            x = self.norm(x)
        return self.decoder(x), ()

    # the LSTM language model's interface, for the trainer's BPTT loop: nothing is carried
    def init_state(self, batch_size: int):
        return ()

    def detach_state(self, state):
        return ()


class Seq2SeqTransformer(Module):
    """Encoder-decoder Transformer for translation (see the module docstring).

    Args: src_vocab, tgt_vocab, d_model=128, nhead=4, num_encoder_layers=2,
    num_decoder_layers=2, dim_feedforward=512, dropout=0.1, max_len=256,
    positional="sinusoidal", norm_first=True, pad_index=None (source and target positions
    holding it are masked out as keys).

    forward(src (S, N), tgt_in (T, N)) -> logits (T, N, tgt_vocab); tgt_in is the target
    shifted right (it starts with the begin-of-sentence token), and position t predicts target
    token t."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 128, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 512, dropout: float = 0.1, max_len: int = 256,
                 positional: str = "sinusoidal", norm_first: bool = True, pad_index=None):
        super().__init__()
        self.pad_index = pad_index
        self.src_embed = _Embedded(src_vocab, d_model, max_len, dropout, positional)
        self.tgt_embed = _Embedded(tgt_vocab, d_model, max_len, dropout, positional)
        self.encoder_layers = ModuleList([
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                    norm_first=norm_first) for _ in range(num_encoder_layers)])
        self.decoder_layers = ModuleList([
            TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout,
                                    norm_first=norm_first) for _ in range(num_decoder_layers)])
        self.encoder_norm = LayerNorm(d_model) if norm_first else None
        self.decoder_norm = LayerNorm(d_model) if norm_first else None
        self.generator = Linear(d_model, tgt_vocab)

    def _padding(self, tokens):
        if self.pad_index is None:
            return None
        return (tokens.data == self.pad_index).T                  # (N, len), True = padded

    def encode(self, src):
        src = _tokens(src, "Seq2SeqTransformer (source)")
        x, pad = self.src_embed(src), self._padding(src)
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=pad)
        return (x if self.encoder_norm is None else self.encoder_norm(x)), pad

    def decode(self, tgt_in, memory, memory_padding):
        tgt_in = _tokens(tgt_in, "Seq2SeqTransformer (target)")
        x = self.tgt_embed(tgt_in)
        mask = causal_mask(tgt_in.shape[0], backend.array_module(x.data), x.dtype)
        pad = self._padding(tgt_in)
        for layer in self.decoder_layers:
            x = layer(x, memory, tgt_mask=mask, tgt_key_padding_mask=pad,
                      memory_key_padding_mask=memory_padding)
        x = x if self.decoder_norm is None else self.decoder_norm(x)
        return self.generator(x)

    def forward(self, src, tgt_in):
        memory, padding = self.encode(src)
        return self.decode(tgt_in, memory, padding)

    def greedy_decode(self, src, bos: int, eos: int, max_len: int = 50):
        """Token ids (T, N) chosen one at a time (the most likely next token), starting from
        ``bos``, until every sentence has produced ``eos`` or ``max_len`` tokens. Call it in
        ``eval()`` mode (no dropout)."""
        with no_grad():
            memory, padding = self.encode(src)
            xp, n = backend.array_module(memory.data), memory.shape[1]
            out = xp.full((1, n), bos, dtype="int64")
            done = xp.zeros(n, dtype=bool)
            for _ in range(max_len):
                logits = self.decode(Tensor._make(out), memory, padding)
                nxt = logits.data[-1].argmax(axis=-1).astype("int64")
                out = xp.concatenate([out, nxt[None]], axis=0)
                done |= nxt == eos
                if bool(done.all()):
                    break
        return Tensor._make(out[1:])
