r"""Long short-term memory: a fused layer for speed and a cell built from primitives for teaching.

One step of an LSTM (Hochreiter & Schmidhuber, 1997), in PyTorch's gate order i, f, g, o:

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh        (B, 4H): four pre-activations
    i_t = sigmoid(a_t[:, 0H:1H])        input gate
    f_t = sigmoid(a_t[:, 1H:2H])        forget gate
    g_t = tanh   (a_t[:, 2H:3H])        candidate cell
    o_t = sigmoid(a_t[:, 3H:4H])        output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

``LSTMCell`` writes exactly these lines with the engine's primitives (matmul, slicing, sigmoid,
tanh): unroll it over time and ``backward()`` does back-propagation through time by itself.
``LSTM`` runs each layer as ONE ``Function`` (``LSTMLayer``) with the backward written by hand:
the graph has one node per layer instead of ~15 per step, the input projection of all steps is
one matrix product, and the backward needs two small matrix products per step. Both give the
same numbers (the tests check values and every gradient).

Several outputs from one Function. A ``Function`` returns one array, but a layer has three
results (the output sequence, h_n, c_n). ``LSTMLayer`` returns them packed in one array of shape
(T + 1, B, H): rows 0..T-1 are h_1..h_T (the output sequence, whose last row is h_n) and row T is
c_T. ``lstm_layer`` slices it with ordinary indexing, and the gradients of the slices add up in
the packed array before ``LSTMLayer.backward`` sees them: dL/dh_t for every t and dL/dc_T.

Names, shapes and defaults follow PyTorch (``torch.nn.LSTM``, ``torch.nn.LSTMCell``):
weight_ih_l{k} (4H, in), weight_hh_l{k} (4H, H), bias_ih_l{k}, bias_hh_l{k} (4H,), input
(seq, batch, feature), every weight drawn from U(-1/sqrt(H), 1/sqrt(H)).
"""
from __future__ import annotations

import math
import warnings

from .. import backend
from ..errors import ShapeError
from ..function import Function
from ..ops import stack
from ..tensor import Tensor
from .layers import dropout as F_dropout
from .module import Module, Parameter

__all__ = ["LSTM", "LSTMCell", "LSTMLayer", "lstm", "lstm_layer"]


# -- the fused layer ---------------------------------------------------------------------------
class LSTMLayer(Function):
    r"""One LSTM layer over a whole sequence: inputs x (T, B, I), h0 (B, H), c0 (B, H),
    W_ih (4H, I), W_hh (4H, H) and optionally b_ih, b_hh (4H,); output the packed array
    (T + 1, B, H) = [h_1, ..., h_T, c_T] (see the module docstring).

    Forward. The input part of a_t does not depend on the recurrence, so it is computed for all
    steps at once, A = X W_ih^T + b_ih + b_hh, one (T*B, I) x (I, 4H) product; each step then
    adds h_{t-1} W_hh^T. The three sigmoids and the tanh of a step are ONE tanh over (B, 4H),
    using sigmoid(a) = (1 + tanh(a / 2)) / 2: the i, f, o rows of the weights are scaled by
    s = 1/2 up front (exact in floating point), and after the tanh the i, f, o columns are
    mapped u -> u/2 + 1/2. Gates are saved post-activation in G (T, B, 4H), cell states in
    C (T + 1, B, H) with C[0] = c0, tanh(c_t) in TC (T, B, H), hidden states in HH (T + 2, B, H)
    with HH[0] = h0, HH[t] = h_t, HH[T + 1] = c_T, so the output is the view HH[1:].

    Backward through time (BPTT). From the packed gradient: dh_t^out = dY[t - 1], dc_T = dY[T].
    Going back from t = T to 1, with dh^rec the gradient that h_t receives from step t + 1:

        dh_t   = dh_t^out + dh^rec                   (h_t feeds the output and the next step)
        dc_t  += dh_t * o_t * (1 - tanh(c_t)^2)      (dc_t arrives holding dc_{t+1} * f_{t+1})
        do_t   = dh_t * tanh(c_t)
        di_t   = dc_t * g_t,  df_t = dc_t * c_{t-1},  dg_t = dc_t * i_t
        da_t   = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]       (B, 4H)
        dh^rec = da_t W_hh                           (gradient for h_{t-1})
        dc_{t-1} = dc_t * f_t

    Then dh0 = dh^rec, dc0 = dc_0, and with dA (T*B, 4H) the stacked da_t:
        dX = dA W_ih,   dW_ih = dA^T X,   dW_hh = dA^T [h_0; ...; h_{T-1}] (the sum over the
        steps of da_t^T h_{t-1}, done as one product),   db_ih = db_hh = sum of the rows of dA.
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = self.xp
        T, B, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        # s: 1/2 on the sigmoid gates' rows (i, f, o), 1 on the tanh gate's rows (g)
        s = xp.full((4 * H,), 0.5, dtype=dt)
        s[2 * H:3 * H] = 1
        # all input projections at once: A = X (s W_ih)^T + s (b_ih + b_hh), shape (T, B, 4H)
        G = x.reshape(T * B, I) @ (w_ih * s[:, None]).T
        if b_ih is not None:
            G += (b_ih + b_hh) * s
        G = G.reshape(T, B, 4 * H)
        whh_t = (w_hh * s[:, None]).T                    # (H, 4H), rows already scaled
        HH = xp.empty((T + 2, B, H), dtype=dt)
        C = xp.empty((T + 1, B, H), dtype=dt)
        TC = xp.empty((T, B, H), dtype=dt)
        HH[0] = h0
        C[0] = c0
        rec = xp.empty((B, 4 * H), dtype=dt)             # scratch: h_{t-1} W_hh^T
        ig = xp.empty((B, H), dtype=dt)                  # scratch: i_t * g_t
        shift = 1 - s                                    # 1/2 on i, f, o; 0 on g
        for t in range(T):
            a = G[t]
            xp.matmul(HH[t], whh_t, out=rec)
            a += rec                                     # a_t (i, f, o rows halved)
            xp.tanh(a, out=a)
            a *= s                                       # i, f, o: (1 + tanh(a/2)) / 2
            a += shift                                   # g: tanh(a) unchanged
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            xp.multiply(f, C[t], out=C[t + 1])           # c_t = f_t * c_{t-1}
            xp.multiply(i, g, out=ig)
            C[t + 1] += ig                               #       + i_t * g_t
            xp.tanh(C[t + 1], out=TC[t])
            xp.multiply(o, TC[t], out=HH[t + 1])         # h_t = o_t * tanh(c_t)
        HH[T + 1] = C[T]
        self.G, self.C, self.TC, self.HH = G, C, TC, HH
        self.x, self.w_ih, self.w_hh = x, w_ih, w_hh
        return HH[1:]

    def backward(self, dY):
        xp = self.xp
        G, C, TC, HH = self.G, self.C, self.TC, self.HH
        T, B, H4 = G.shape
        H = H4 // 4
        w_hh = self.w_hh
        # local derivatives of the activations for all steps at once:
        # sigmoid' = y (1 - y) on i, f, o;  tanh' = 1 - y^2 on g
        D = G * (1 - G)
        g_all = G[:, :, 2 * H:3 * H]
        D[:, :, 2 * H:3 * H] = 1 - g_all * g_all
        # what dh_t contributes to dc_t: o_t * (1 - tanh(c_t)^2)
        Q = G[:, :, 3 * H:] * (1 - TC * TC)
        dA = xp.empty_like(G)
        dh = xp.empty((B, H), dtype=G.dtype)
        tmp = xp.empty((B, H), dtype=G.dtype)
        dh_rec = xp.zeros((B, H), dtype=G.dtype)         # gradient reaching h_t from step t+1
        dc = dY[T].copy()                                # dL/dc_T (then dc_{t} going back)
        for t in range(T - 1, -1, -1):                   # step t + 1 of the module docstring
            a, da = G[t], dA[t]
            xp.add(dY[t], dh_rec, out=dh)                # dh_t = dh_t^out + dh^rec
            xp.multiply(dh, Q[t], out=tmp)
            dc += tmp                                    # dc_t += dh_t o_t (1 - tanh(c_t)^2)
            xp.multiply(dc, a[:, 2 * H:3 * H], out=da[:, :H])          # di = dc * g
            xp.multiply(dc, C[t], out=da[:, H:2 * H])                  # df = dc * c_{t-1}
            xp.multiply(dc, a[:, :H], out=da[:, 2 * H:3 * H])          # dg = dc * i
            xp.multiply(dh, TC[t], out=da[:, 3 * H:])                  # do = dh * tanh(c_t)
            da *= D[t]                                   # through the activations: da_t
            xp.matmul(da, w_hh, out=dh_rec)              # dh^rec for h_{t-1} = da_t W_hh
            dc *= a[:, H:2 * H]                          # dc_{t-1} = dc_t * f_t
        dA2 = dA.reshape(T * B, H4)
        x = self.x
        dx = (dA2 @ self.w_ih).reshape(x.shape) if self.needs_grad(0) else None
        dh0 = dh_rec if self.needs_grad(1) else None
        dc0 = dc if self.needs_grad(2) else None
        dw_ih = dA2.T @ x.reshape(-1, x.shape[2]) if self.needs_grad(3) else None
        dw_hh = dA2.T @ HH[:T].reshape(T * B, H) if self.needs_grad(4) else None
        grads = (dx, dh0, dc0, dw_ih, dw_hh)
        if len(self.inputs) == 7:
            db = dA2.sum(axis=0)
            grads += (db if self.needs_grad(5) else None,
                      db.copy() if self.needs_grad(6) else None)
        return grads


def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None = None, b_hh: Tensor | None = None):
    """One fused LSTM layer: x (T, B, I), h0 and c0 (B, H), PyTorch-shaped weights.
    Returns (output (T, B, H), h_n (B, H), c_n (B, H))."""
    T = x.shape[0]
    if T < 1:
        raise ShapeError(f"LSTM: the input sequence is empty (shape {x.shape}); it needs at "
                         f"least one time step")
    biases = () if b_ih is None else (b_ih, b_hh)
    packed = LSTMLayer.apply(x, h0, c0, w_ih, w_hh, *biases)     # (T + 1, B, H)
    return packed[:T], packed[T - 1], packed[T]


def lstm(input: Tensor, hx, weights, dropout: float = 0.0, training: bool = False):
    """A stack of fused LSTM layers as a function (``LSTM.forward`` calls it).

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
            h, c = hx
            if not batched:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
        a = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias:
            a = a + self.bias_ih + self.bias_hh
        i = a[:, :H].sigmoid()                 # input gate
        f = a[:, H:2 * H].sigmoid()            # forget gate
        g = a[:, 2 * H:3 * H].tanh()           # candidate cell
        o = a[:, 3 * H:].sigmoid()             # output gate
        c = f * c + i * g
        h = o * c.tanh()
        if not batched:
            return h.squeeze(0), c.squeeze(0)
        return h, c

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
