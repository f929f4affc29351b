r"""A word-level LSTM language model, as PyTorch's ``word_language_model`` example (``RNNModel``).

    tokens (seq, batch) --Embedding--> (seq, batch, E) --dropout--> LSTM (num_layers, dropout
    between layers) --> (seq, batch, H) --dropout--> Linear decoder --> logits (seq, batch, vocab)

The logits at position t score the token at position t + 1; the loss is the cross-entropy of the
logits reshaped to (seq * batch, vocab) against the next tokens reshaped to (seq * batch,).

Truncated back-propagation through time. A corpus is one long stream (cut into ``batch``
columns by ``minioptim.data.bptt.batchify``) and is read in segments of ``bptt`` tokens. The LSTM
state at the end of a segment is the start state of the next one, so the model sees the whole
stream, but gradients stop at the segment boundary: the carried state is *detached* first
(PyTorch users call this ``repackage_hidden``; here it is ``LSTMLanguageModel.detach_state``).
Without the detach, every backward would run through all earlier segments (and fail, because
their graphs are freed after their own backward)::

    state = model.init_state(batch_size)
    for tokens, targets in BPTTIterator(batchify(ids, batch_size), bptt=35):
        state = model.detach_state(state)          # keep the values, cut the graph
        logits, state = model(tokens, state)
        loss = cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step()
"""
from __future__ import annotations

from autodiff import backend
from autodiff.nn import init
from autodiff.nn.layers import Dropout, Embedding, Linear
from autodiff.nn.module import Module
from autodiff.nn.recurrent import LSTM
from autodiff.tensor import Tensor

__all__ = ["LSTMLanguageModel"]


class LSTMLanguageModel(Module):
    r"""Embedding -> dropout -> LSTM -> dropout -> Linear: next-token logits for every position.

    Args:
        vocab_size (V), embedding_dim (E), hidden_size (H), num_layers,
        dropout (default 0: the probability used after the embedding, between the LSTM layers
        and before the decoder, in training mode only),
        tie_weights (default False): the decoder uses the embedding matrix as its weight (Press &
        Wolf, 2017; Inan et al., 2017). It needs E == H; the two modules then hold the same
        Parameter, which ``parameters()`` lists once.

    Submodules (the names of PyTorch's example): ``encoder`` (Embedding(V, E)), ``drop``
    (Dropout), ``rnn`` (LSTM(E, H, num_layers, dropout=dropout)), ``decoder`` (Linear(H, V)).
    Initialization as that example: encoder and decoder weights U(-0.1, 0.1), decoder bias 0,
    LSTM weights U(-1/sqrt(H), 1/sqrt(H)).

    forward(tokens, state=None): tokens (seq, batch) integer ids (Tensor or array); state
        (h, c), each (num_layers, batch, H), zeros when omitted. Returns (logits (seq, batch, V),
        state): the state after the last token, still attached to this segment's graph; pass it
        through ``detach_state`` before feeding it to the next segment (truncated BPTT, see the
        module docstring).

    Example:
        >>> model = LSTMLanguageModel(vocab_size=20, embedding_dim=8, hidden_size=8, num_layers=2)
        >>> tokens = ad.Tensor([[1, 2], [3, 4], [5, 6]])                 # (seq 3, batch 2)
        >>> logits, state = model(tokens, model.init_state(2))
        >>> logits.shape, state[0].shape
        ((3, 2, 20), (2, 2, 8))
        >>> logits, state = model(tokens, model.detach_state(state))     # the next segment
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(
                f"tie_weights=True needs embedding_dim == hidden_size (the decoder's weight, "
                f"shape (vocab_size, hidden_size), is the embedding matrix, shape (vocab_size, "
                f"embedding_dim)), but embedding_dim={embedding_dim} and "
                f"hidden_size={hidden_size}")
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.tie_weights = bool(tie_weights)
        self.encoder = Embedding(vocab_size, embedding_dim)
        self.drop = Dropout(dropout)
        self.rnn = LSTM(embedding_dim, hidden_size, num_layers,
                        dropout=dropout if num_layers > 1 else 0.0)
        self.decoder = Linear(hidden_size, vocab_size)
        init.uniform_(self.encoder.weight, -0.1, 0.1)
        init.uniform_(self.decoder.weight, -0.1, 0.1)
        init.zeros_(self.decoder.bias)
        if self.tie_weights:
            self.decoder.weight = self.encoder.weight       # one Parameter, two users

    def forward(self, tokens, state=None):
        emb = self.drop(self.encoder(tokens))                 # (seq, batch, E)
        output, state = self.rnn(emb, state)                  # (seq, batch, H)
        logits = self.decoder(self.drop(output))              # (seq, batch, V)
        return logits, state

    def init_state(self, batch_size: int):
        """The zero state (h, c), each (num_layers, batch_size, hidden_size), float32."""
        xp = backend.xp
        shape = (self.num_layers, batch_size, self.hidden_size)
        return (Tensor._make(xp.zeros(shape, dtype="float32")),
                Tensor._make(xp.zeros(shape, dtype="float32")))

    @staticmethod
    def detach_state(state):
        """The same values cut from the graph (PyTorch's ``repackage_hidden``): the next
        segment's backward stops here. Accepts a tensor or nested tuples/lists of tensors;
        None stays None."""
        if state is None:
            return None
        if isinstance(state, Tensor):
            return state.detach()
        return type(state)(LSTMLanguageModel.detach_state(s) for s in state)

    def extra_repr(self) -> str:
        return "tie_weights=True" if self.tie_weights else ""
