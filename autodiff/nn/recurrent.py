r"""Long short-term memory, as a cell written with primitives and a loop over it.

One step of an LSTM (Hochreiter & Schmidhuber, 1997), in PyTorch's gate order i, f, g, o:

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh        (B, 4H): four pre-activations
    i_t = sigmoid(a_t[:, 0H:1H])        input gate
    f_t = sigmoid(a_t[:, 1H:2H])        forget gate
    g_t = tanh   (a_t[:, 2H:3H])        candidate cell
    o_t = sigmoid(a_t[:, 3H:4H])        output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

``lstm_cell`` writes exactly these lines with the engine's primitives (matmul, slicing,
sigmoid, tanh); ``lstm_layer`` runs it over the sequence, and ``backward()`` through the unrolled
graph is back-propagation through time, with no hand-written derivative. ``LSTMCell`` is the cell
as a module, ``LSTM`` a stack of layers. With kernels on (``ad.use_kernels``) each layer is one
fused node with a hand-written backward through time (``autodiff/kernels/lstm.py``).

Names, shapes and defaults follow PyTorch (``torch.nn.LSTM``, ``torch.nn.LSTMCell``):
weight_ih_l{k} (4H, in), weight_hh_l{k} (4H, H), bias_ih_l{k}, bias_hh_l{k} (4H,), input
(seq, batch, feature), every weight drawn from U(-1/sqrt(H), 1/sqrt(H)).
"""
from __future__ import annotations

import math
import warnings

from .. import backend
from ..errors import ShapeError
from ..kernels import kernels_enabled
from ..ops import stack
from ..tensor import Tensor
from .layers import dropout as F_dropout
from .module import Module, Parameter

__all__ = ["LSTM", "LSTMCell", "lstm", "lstm_cell", "lstm_layer"]


def lstm_cell(x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None):
    """One step: x (B, I), h and c (B, H) -> (h_t, c_t), the equations of the module docstring."""
    H = h.shape[-1]
    a = x @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        a = a + b_ih + b_hh
    i = a[:, :H].sigmoid()                 # input gate
    f = a[:, H:2 * H].sigmoid()            # forget gate
    g = a[:, 2 * H:3 * H].tanh()           # candidate cell
    o = a[:, 3 * H:].sigmoid()             # output gate
    c = f * c + i * g
    h = o * c.tanh()
    return h, c


def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None = None, b_hh: Tensor | None = None):
    """One LSTM layer over a sequence: x (T, B, I), h0 and c0 (B, H), PyTorch-shaped weights.
    Returns (output (T, B, H), h_n (B, H), c_n (B, H))."""
    T = x.shape[0]
    if T < 1:
        raise ShapeError(f"LSTM: the input sequence is empty (shape {x.shape}); it needs at "
                         f"least one time step")
    if kernels_enabled():
        from ..kernels.lstm import lstm_layer as fused
        return fused(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    h, c, outputs = h0, c0, []
    for t in range(T):
        h, c = lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        outputs.append(h)
    return stack(outputs), h, c


def lstm(input: Tensor, hx, weights, dropout: float = 0.0, training: bool = False):
    """A stack of LSTM layers as a function (``LSTM.forward`` calls it).

    input (T, B, I); hx = (h0, c0), each (num_layers, B, H); weights a sequence of per-layer
    tuples (w_ih, w_hh) or (w_ih, w_hh, b_ih, b_hh). Dropout with probability ``dropout`` is
    applied to the output of every layer but the last, only when ``training``.
    Returns (output (T, B, H), (h_n, c_n)), h_n and c_n of shape (num_layers, B, H)."""
    h0, c0 = hx
    x = input
    h_last, c_last = [], []
    for k, w in enumerate(weights):
        x, h_n, c_n = lstm_layer(x, h0[k], c0[k], *w)
        h_last.append(h_n)
        c_last.append(c_n)
        if training and dropout > 0 and k < len(weights) - 1:
            x = F_dropout(x, dropout, training=True)            # between layers only
    return x, (stack(h_last), stack(c_last))


# -- modules -----------------------------------------------------------------------------------
def _uniform(shape, bound: float, dtype) -> Parameter:
    host = backend.rng().uniform(-bound, bound, size=shape)
    return Parameter(host, dtype=dtype)


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class LSTM(Module):
    r"""A multi-layer LSTM over a sequence, as ``torch.nn.LSTM`` (one direction, no projection).

    Each layer k computes, for t = 1..T (gate order i, f, g, o; see the module docstring):
        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
        c_t = f * c_{t-1} + i * g,     h_t = o * tanh(c_t)
    and layer k + 1 reads layer k's h_1..h_T (after dropout, in training mode, if dropout > 0).

    Args:
        input_size, hidden_size (H), num_layers (default 1), bias (default True), batch_first
        (default False: input (seq, batch, feature); True: (batch, seq, feature)), dropout
        (default 0: probability of zeroing each output of every layer except the last, in
        training mode only), dtype (default float32).
    Parameters (PyTorch's names): weight_ih_l{k} (4H, in), weight_hh_l{k} (4H, H),
        bias_ih_l{k}, bias_hh_l{k} (4H,), all drawn from U(-1/sqrt(H), 1/sqrt(H)).
    forward(input, hx=None): input (T, B, input_size) (or (T, input_size) without a batch);
        hx = (h0, c0), each (num_layers, B, H), zeros when omitted.
        Returns (output (T, B, H), (h_n, c_n)), h_n and c_n (num_layers, B, H).

    Each layer runs as one fused ``LSTMLayer`` node with a hand-written backward through time;
    ``LSTMCell`` is the same computation from primitives.

    Example:
        >>> rnn = LSTM(10, 20, num_layers=2)
        >>> x = ad.randn(5, 3, 10)
        >>> output, (h_n, c_n) = rnn(x)
        >>> output.shape, h_n.shape, c_n.shape
        ((5, 3, 20), (2, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, *, dtype=None):
        super().__init__()
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in [0, 1] giving the probability of "
                             f"an element to be zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout={dropout} and num_layers=1: LSTM applies dropout between "
                          f"layers only (not after the last one), so it does nothing here",
                          UserWarning, stacklevel=2)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        dtype = dtype or "float32"
        H = hidden_size
        bound = 1.0 / math.sqrt(H)
        for k in range(num_layers):
            n_in = input_size if k == 0 else H
            setattr(self, f"weight_ih_l{k}", _uniform((4 * H, n_in), bound, dtype))
            setattr(self, f"weight_hh_l{k}", _uniform((4 * H, H), bound, dtype))
            if self.bias:
                setattr(self, f"bias_ih_l{k}", _uniform((4 * H,), bound, dtype))
                setattr(self, f"bias_hh_l{k}", _uniform((4 * H,), bound, dtype))

    def layer_weights(self, k: int) -> tuple:
        """(weight_ih_l{k}, weight_hh_l{k}[, bias_ih_l{k}, bias_hh_l{k}])."""
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return tuple(getattr(self, f"{n}_l{k}") for n in names)

    @property
    def all_weights(self) -> list:
        """Per layer, its parameters in PyTorch's order (as ``torch.nn.LSTM.all_weights``)."""
        return [list(self.layer_weights(k)) for k in range(self.num_layers)]

    def forward(self, input: Tensor, hx=None):
        if not isinstance(input, Tensor):
            input = Tensor(input)
        batched = input.ndim == 3
        if input.ndim not in (2, 3):
            raise ShapeError(f"LSTM: expected an input of shape (seq, batch, {self.input_size}) "
                             f"(or (seq, {self.input_size}) without a batch), got shape "
                             f"{input.shape}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"LSTM: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]} (input shape "
                             f"{input.shape})")
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        B = input.shape[1]
        hx = self._initial_state(hx, B, batched, input)
        output, (h_n, c_n) = lstm(input, hx, [self.layer_weights(k) for k in
                                              range(self.num_layers)],
                                  dropout=self.dropout, training=self.training)
        if not batched:
            return output.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n, c_n)

    def _initial_state(self, hx, B: int, batched: bool, like: Tensor):
        L, H = self.num_layers, self.hidden_size
        if hx is None:
            xp = backend.array_module(like.data)
            zeros = Tensor._make(xp.zeros((L, B, H), dtype=like.dtype))
            return zeros, zeros
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTM: hx must be a tuple (h0, c0) of tensors of shape "
                            f"(num_layers, batch, hidden_size) = {(L, B, H)}")
        expected = (L, B, H) if batched else (L, H)
        out = []
        for name, s in zip(("h0", "c0"), hx):
            if not isinstance(s, Tensor):
                s = Tensor(s)
            if s.shape != expected:
                raise ShapeError(f"LSTM: {name} must have shape (num_layers, batch, "
                                 f"hidden_size) = {expected}, got {s.shape}")
            out.append(s if batched else s.unsqueeze(1))
        return tuple(out)

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        if not self.bias:
            extra += ", bias=False"
        if self.batch_first:
            extra += ", batch_first=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        return extra


class LSTMCell(Module):
    r"""One LSTM step from primitives, as ``torch.nn.LSTMCell``: the teaching twin of ``LSTM``.

        a = x W_ih^T + b_ih + h W_hh^T + b_hh                 (B, 4H)
        i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), tanh(a[:, 2H:3H]), sigmoid(a[:, 3H:])
        c' = f * c + i * g
        h' = o * tanh(c')

    Parameters: weight_ih (4H, input_size), weight_hh (4H, H), bias_ih, bias_hh (4H,), drawn
    from U(-1/sqrt(H), 1/sqrt(H)). forward(input, hx=None): input (B, input_size) (or
    (input_size,)), hx = (h, c) each (B, H), zeros when omitted; returns (h', c').

    Unrolled over a sequence it is an LSTM layer; backward() through the unrolled graph is
    back-propagation through time, with no hand-written derivative:
        >>> cell = LSTMCell(3, 4)
        >>> h = c = ad.zeros(2, 4)
        >>> for x_t in ad.randn(5, 2, 3):
        ...     h, c = cell(x_t, (h, c))
        >>> h.shape
        (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, dtype=None):
        super().__init__()
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.bias = bool(bias)
        dtype = dtype or "float32"
        H = hidden_size
        bound = 1.0 / math.sqrt(H)
        self.weight_ih = _uniform((4 * H, input_size), bound, dtype)
        self.weight_hh = _uniform((4 * H, H), bound, dtype)
        if self.bias:
            self.bias_ih = _uniform((4 * H,), bound, dtype)
            self.bias_hh = _uniform((4 * H,), bound, dtype)
        else:                           # as PyTorch's cell: the names exist, holding None
            self.bias_ih = self.bias_hh = None

    def forward(self, input: Tensor, hx=None):
        if not isinstance(input, Tensor):
            input = Tensor(input)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ShapeError(f"LSTMCell: expected an input of shape (batch, {self.input_size}) "
                             f"(input_size = {self.input_size}), got shape {input.shape}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        H = self.hidden_size
        if hx is None:
            xp = backend.array_module(x.data)
            h = c = Tensor._make(xp.zeros((x.shape[0], H), dtype=x.dtype))
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTMCell: hx must be a pair (h, c) of tensors")
            h, c = (s if isinstance(s, Tensor) else Tensor(s) for s in hx)
            expected = (x.shape[0], H) if batched else (H,)
            for name, s in (("h", h), ("c", c)):
                if s.shape != expected:
                    raise ShapeError(f"LSTMCell: {name} must have shape (batch, hidden_size) = "
                                     f"{expected} for an input of shape {input.shape}, got "
                                     f"{s.shape}")
            if not batched:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
        h, c = lstm_cell(x, h, c, self.weight_ih, self.weight_hh,
                         *((self.bias_ih, self.bias_hh) if self.bias else ()))
        if not batched:
            return h.squeeze(0), c.squeeze(0)
        return h, c

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
