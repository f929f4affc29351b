r"""The AWD-LSTM language model (Merity, Keskar & Socher, 2018, "Regularizing and Optimizing LSTM
Language Models"): the LSTM language model of ``lstm_lm.py`` with the paper's regularizers.

    tokens (seq, batch) --Embedding (embedding dropout: whole words)--> (seq, batch, E)
      --locked dropout (dropout_input)--> LSTM layer 0 --locked dropout (dropout_hidden)-->
      LSTM layer 1 --> ... --> LSTM layer L-1 = raw_output (seq, batch, H_last)
      --locked dropout (dropout)--> output --Linear decoder--> logits (seq, batch, vocab)

Each LSTM layer is its own one-layer ``LSTM`` (layer l reads E features if l = 0, else H; it has
H units, except the last layer, which has E units when the weights are tied, so that the
decoder can use the embedding matrix as its weight). What the paper adds to the plain model:

    locked dropout       one mask per sequence, shape (1, batch, features), the same at every
                         time step (Gal & Ghahramani's variational dropout), kept entries scaled
                         by 1/(1-p): after the embedding, between the layers, before the decoder.
    embedding dropout    a mask over the rows of the embedding matrix (V, E): a dropped word's
                         whole vector is zero wherever it occurs in the batch; kept rows are
                         scaled by 1/(1-p).
    weight drop          DropConnect on each layer's hidden-to-hidden matrix: every forward
                         draws a mask over W_hh (4H, H) and the layer runs with
                         W_hh * mask / (1-p) at all time steps of that forward; the gradient
                         reaches the raw parameter through the mask (zero where it is zero).
    AR / TAR             ``activation_regularization(alpha, beta)`` = alpha * mean(output^2)
                         + beta * mean((raw_output[t+1] - raw_output[t])^2), added to the loss.

All of them act in training mode only; ``eval()`` runs the plain model with the raw weights.
Every mask is drawn on the host from the engine's generator (``autodiff.backend.rng()``), so
``ad.manual_seed`` repeats a run and a checkpoint of ``ad.get_rng_state()`` resumes it exactly.

A training step (truncated BPTT as in ``lstm_lm.py``)::

    state = model.init_state(batch_size)
    for tokens, targets in BPTTIterator(batchify(ids, batch_size), bptt=70):
        state = model.detach_state(state)
        logits, state = model(tokens, state)
        loss = cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))
        loss = loss + model.activation_regularization(alpha=2.0, beta=1.0)
        opt.zero_grad(); loss.backward(); opt.step()
"""
from __future__ import annotations

from autodiff import backend
from autodiff.errors import ShapeError
from autodiff.nn import init
from autodiff.nn.layers import Embedding, Linear, embedding
from autodiff.nn.module import Module, ModuleList
from autodiff.nn.recurrent import LSTM, lstm_layer
from autodiff.tensor import Tensor, expect_tensor

from .lstm_lm import LSTMLanguageModel

__all__ = ["AWDLSTMLanguageModel", "embedding_dropout", "locked_dropout", "weight_drop"]


# -- the three dropouts, as functions --------------------------------------------------------
def _check_probability(name: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"{name} must be a probability in [0, 1) (the fraction of entries "
                         f"zeroed; the kept ones are scaled by 1/(1-p), so p = 1 is not "
                         f"allowed), got {p!r}")
    return float(p)


def _keep_mask(shape, p: float, like: Tensor) -> Tensor:
    """A constant (shape) tensor on ``like``'s backend and dtype: 1/(1-p) with probability 1-p,
    else 0. The uniforms are drawn on the host from the engine's generator (float32, as
    ``autodiff.nn.layers.dropout`` draws them), so a seed gives the same mask on every backend,
    for every dtype and on both paths."""
    keep = backend.rng().random(shape, dtype="float32") >= p
    keep = backend.backend_of(like.data).from_host(keep)
    return Tensor._make(keep.astype(like.dtype) * (1.0 / (1.0 - p)))


def locked_dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Variational ("locked") dropout of a sequence ``input`` (seq, batch, features): one mask
    of shape (1, batch, features), drawn once and applied at every time step; kept entries are
    scaled by 1/(1-p). The identity when not ``training`` or when p = 0 (nothing is drawn)."""
    expect_tensor(input, "locked_dropout")
    p = _check_probability("locked_dropout: p", p)
    if not training or p == 0.0:
        return input
    if input.ndim < 2:
        raise ShapeError(f"locked_dropout: expected a sequence of shape (seq, batch, features), "
                         f"got shape {input.shape}")
    return input * _keep_mask((1,) + input.shape[1:], p, input)


def embedding_dropout(weight: Tensor, p: float = 0.1, training: bool = True) -> Tensor:
    """The embedding matrix ``weight`` (V, D) with whole rows (words) zeroed with probability p
    and the kept rows scaled by 1/(1-p); look the tokens up in the result, so a dropped word is
    zero at every position of the batch. The identity when not ``training`` or when p = 0."""
    expect_tensor(weight, "embedding_dropout")
    p = _check_probability("embedding_dropout: p", p)
    if not training or p == 0.0:
        return weight
    if weight.ndim != 2:
        raise ShapeError(f"embedding_dropout: expected an embedding matrix of shape "
                         f"(num_embeddings, embedding_dim), got shape {weight.shape}")
    return weight * _keep_mask((weight.shape[0], 1), p, weight)


def weight_drop(weight: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """DropConnect: ``weight`` * mask / (1-p) with a mask over all its entries, as a tensor in
    the graph (the gradient reaches ``weight`` through the mask). The identity when not
    ``training`` or when p = 0."""
    expect_tensor(weight, "weight_drop")
    p = _check_probability("weight_drop: p", p)
    if not training or p == 0.0:
        return weight
    return weight * _keep_mask(weight.shape, p, weight)


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"AWDLSTMLanguageModel: {name} must be a positive integer, "
                         f"got {value!r}")
    return value


# -- the model -------------------------------------------------------------------------------
class AWDLSTMLanguageModel(Module):
    r"""AWD-LSTM: Embedding (embedding dropout) -> locked dropout -> num_layers one-layer LSTMs
    (weight drop on W_hh, locked dropout between them) -> locked dropout -> Linear decoder.

    Args (defaults: the paper's Penn Treebank model):
        vocab_size (V), embedding_dim (E, 400), hidden_size (H, 1150), num_layers (L, 3),
        dropout (0.4: locked dropout on the last layer's output, before the decoder),
        dropout_hidden (0.25: locked dropout between the LSTM layers),
        dropout_input (0.4: locked dropout after the embedding),
        dropout_embedding (0.1: drops whole words of the embedding matrix),
        weight_drop (0.5: DropConnect on each layer's hidden-to-hidden weight),
        tie_weights (True: the decoder's weight is the embedding matrix, one Parameter that
        ``parameters()`` lists once; the last layer then has E units, so any sizes fit).
        Every probability must be in [0, 1); all of them act in training mode only.

    Submodules: ``encoder`` (Embedding(V, E)), ``rnns`` (a ModuleList of L ``LSTM``: layer l
    maps E (l = 0) or H features to H units, the last one to E units if tied, else H),
    ``decoder`` (Linear(E if tied else H, V)). Initialization as ``LSTMLanguageModel``: encoder
    and decoder weights U(-0.1, 0.1), decoder bias 0, LSTM weights U(-1/sqrt(H_l), 1/sqrt(H_l)).

    forward(tokens, state=None): tokens (seq, batch) integer ids (Tensor or array); state a
        tuple of L pairs (h, c), layer l's each (1, batch, H_l) (zeros when omitted). Returns
        (logits (seq, batch, V), state after the last token, still attached to this segment's
        graph: pass it through ``detach_state`` before the next segment). It also keeps, for
        ``activation_regularization``, ``raw_output`` (the last layer's output, (seq, batch,
        H_last)) and ``output`` (the same after the output dropout), and ``effective_weight_hh``
        (per layer, the hidden-to-hidden weight it ran with: the dropped one in training mode).

    Random draws. In training mode a forward draws, from the engine's generator and in this
    order: the embedding's row mask, the input mask, then for each layer its W_hh mask and (all
    but the last) the mask after it, then the output mask. A probability of 0 draws nothing;
    evaluation mode draws nothing. The same seed gives the same masks on both paths (kernels or
    reference) and on every backend.

    Example:
        >>> model = AWDLSTMLanguageModel(vocab_size=20, embedding_dim=4, hidden_size=8,
        ...                              num_layers=3)
        >>> tokens = ad.Tensor([[1, 2], [3, 4], [5, 6]])                 # (seq 3, batch 2)
        >>> logits, state = model(tokens, model.init_state(2))
        >>> logits.shape, [h.shape for h, c in state]
        ((3, 2, 20), [(1, 2, 8), (1, 2, 8), (1, 2, 4)])
        >>> model.activation_regularization(alpha=2.0, beta=1.0).shape
        ()
        >>> logits, state = model(tokens, model.detach_state(state))     # the next segment
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 400, hidden_size: int = 1150,
                 num_layers: int = 3, dropout: float = 0.4, dropout_hidden: float = 0.25,
                 dropout_input: float = 0.4, dropout_embedding: float = 0.1,
                 weight_drop: float = 0.5, tie_weights: bool = True):
        super().__init__()
        self.vocab_size = _check_size("vocab_size", vocab_size)
        self.embedding_dim = _check_size("embedding_dim", embedding_dim)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        self.dropout = _check_probability("AWDLSTMLanguageModel: dropout", dropout)
        self.dropout_hidden = _check_probability("AWDLSTMLanguageModel: dropout_hidden",
                                                 dropout_hidden)
        self.dropout_input = _check_probability("AWDLSTMLanguageModel: dropout_input",
                                                dropout_input)
        self.dropout_embedding = _check_probability("AWDLSTMLanguageModel: dropout_embedding",
                                                    dropout_embedding)
        self.weight_drop = _check_probability("AWDLSTMLanguageModel: weight_drop", weight_drop)
        if not isinstance(tie_weights, bool):
            raise TypeError(f"AWDLSTMLanguageModel: tie_weights must be True or False, got "
                            f"{tie_weights!r}")
        self.tie_weights = tie_weights
        self.encoder = Embedding(vocab_size, embedding_dim)
        self.rnns = ModuleList(LSTM(n_in, n_out) for n_in, n_out in self.layer_sizes())
        self.decoder = Linear(self.layer_sizes()[-1][1], vocab_size)
        init.uniform_(self.encoder.weight, -0.1, 0.1)
        init.uniform_(self.decoder.weight, -0.1, 0.1)
        init.zeros_(self.decoder.bias)
        if self.tie_weights:
            self.decoder.weight = self.encoder.weight       # one Parameter, two users
        self.raw_output = self.output = None
        self.effective_weight_hh = []

    def layer_sizes(self) -> list:
        """[(input size, hidden size)] of each LSTM layer."""
        E, H, L = self.embedding_dim, self.hidden_size, self.num_layers
        return [(E if k == 0 else H, (E if self.tie_weights else H) if k == L - 1 else H)
                for k in range(L)]

    def forward(self, tokens, state=None):
        tokens = self._check_tokens(tokens)
        state = self._check_state(state, tokens.shape[1])
        weight = embedding_dropout(self.encoder.weight, self.dropout_embedding, self.training)
        x = embedding(tokens, weight)                                   # (seq, batch, E)
        x = locked_dropout(x, self.dropout_input, self.training)
        new_state, used = [], []
        for k, rnn in enumerate(self.rnns):
            w_ih, w_hh, b_ih, b_hh = rnn.layer_weights(0)
            w_hh = weight_drop(w_hh, self.weight_drop, self.training)
            used.append(w_hh)
            (h0, c0) = state[k]
            # the functional layer: the kernel when ad.kernels_enabled(), else the loop over
            # lstm_cell; either way the dropped W_hh is an input tensor of the graph
            x, h_n, c_n = lstm_layer(x, h0[0], c0[0], w_ih, w_hh, b_ih, b_hh)
            new_state.append((h_n.unsqueeze(0), c_n.unsqueeze(0)))
            if k < self.num_layers - 1:
                x = locked_dropout(x, self.dropout_hidden, self.training)
        self.raw_output = x                                             # (seq, batch, H_last)
        self.output = locked_dropout(x, self.dropout, self.training)
        self.effective_weight_hh = used
        logits = self.decoder(self.output)                              # (seq, batch, V)
        return logits, tuple(new_state)

    def activation_regularization(self, alpha: float = 2.0, beta: float = 1.0) -> Tensor:
        """AR + TAR of the last forward, a scalar tensor in its graph:
        alpha * mean(output^2) + beta * mean((raw_output[1:] - raw_output[:-1])^2).
        AR (activation regularization) penalizes large outputs of the last layer after the
        output dropout; TAR (temporal AR) penalizes changes between consecutive steps of the
        same outputs before the dropout (a one-step sequence has no such change: 0). A
        coefficient of 0 leaves its term out; both 0 give a constant 0."""
        for name, value in (("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"activation_regularization: {name} must be a number >= 0, "
                                 f"got {value!r}")
        if self.output is None:
            raise RuntimeError("activation_regularization: it regularizes the activations of "
                               "the last forward, but the model has not run a forward yet")
        raw, out = self.raw_output, self.output
        total = None
        if alpha:
            total = alpha * (out * out).mean()
        if beta and raw.shape[0] > 1:
            diff = raw[1:] - raw[:-1]
            tar = beta * (diff * diff).mean()
            total = tar if total is None else total + tar
        if total is None:
            xp = backend.array_module(out.data)
            return Tensor._make(xp.zeros((), dtype=out.dtype))
        return total

    def init_state(self, batch_size: int):
        """The zero state: a tuple of one pair (h, c) per layer, each (1, batch_size, H_l), in
        the parameters' dtype (float32 unless converted)."""
        _check_size("batch_size", batch_size)
        xp = backend.xp
        dtype = self.encoder.weight.dtype
        return tuple((Tensor._make(xp.zeros((1, batch_size, n), dtype=dtype)),
                      Tensor._make(xp.zeros((1, batch_size, n), dtype=dtype)))
                     for _, n in self.layer_sizes())

    @staticmethod
    def detach_state(state):
        """The same values cut from the graph (PyTorch's ``repackage_hidden``), keeping the
        nesting (a tuple of per-layer pairs); None stays None."""
        return LSTMLanguageModel.detach_state(state)

    def _check_tokens(self, tokens) -> Tensor:
        if not isinstance(tokens, Tensor):
            tokens = Tensor(tokens)
        if tokens.dtype.kind not in "iu":
            raise TypeError(f"AWDLSTMLanguageModel: tokens must be integer ids, got dtype "
                            f"{tokens.dtype}; convert them with .astype('int64')")
        if tokens.ndim != 2:
            raise ShapeError(f"AWDLSTMLanguageModel: tokens must have shape (seq, batch), got "
                             f"shape {tokens.shape}")
        return tokens

    def _check_state(self, state, batch: int):
        if state is None:
            return self.init_state(batch)
        sizes = self.layer_sizes()
        if not isinstance(state, (tuple, list)) or len(state) != len(sizes) or not all(
                isinstance(s, (tuple, list)) and len(s) == 2 for s in state):
            raise TypeError(f"AWDLSTMLanguageModel: state must be a tuple of {len(sizes)} pairs "
                            f"(h, c), one per layer (as init_state gives), got "
                            f"{type(state).__name__}" + (f" of length {len(state)}"
                                                         if isinstance(state, (tuple, list))
                                                         else ""))
        out = []
        for k, ((h, c), (_, n)) in enumerate(zip(state, sizes)):
            pair = []
            for name, s in (("h", h), ("c", c)):
                if not isinstance(s, Tensor):
                    s = Tensor(s)
                if s.shape != (1, batch, n):
                    raise ShapeError(f"AWDLSTMLanguageModel: layer {k}'s {name} must have "
                                     f"shape (1, batch, hidden) = {(1, batch, n)}, got "
                                     f"{s.shape}")
                pair.append(s)
            out.append(tuple(pair))
        return out

    def extra_repr(self) -> str:
        return (f"dropout={self.dropout}, dropout_hidden={self.dropout_hidden}, "
                f"dropout_input={self.dropout_input}, "
                f"dropout_embedding={self.dropout_embedding}, weight_drop={self.weight_drop}, "
                f"tie_weights={self.tie_weights}")
