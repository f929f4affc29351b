r"""The LSTM kernel: replaces ``autodiff.nn.recurrent.lstm_layer`` (a loop over ``lstm_cell``,
with backpropagation through time done by the engine).

One ``Function`` per layer (``LSTMLayer``) instead of ~15 nodes per time step, the input
projection of all steps as one matrix product, and a backward through time written by hand that
needs two small matrix products per step. Both paths give the same numbers (tests/test_kernels.py
checks values and every gradient).

Several outputs from one Function. A ``Function`` returns one array, but a layer has three
results (the output sequence, h_n, c_n). ``LSTMLayer`` returns them packed in one array of shape
(T + 1, B, H): rows 0..T-1 are h_1..h_T (the output sequence, whose last row is h_n) and row T is
c_T. ``lstm_layer`` slices it with ordinary indexing, and the gradients of the slices add up in
the packed array before ``LSTMLayer.backward`` sees them: dL/dh_t for every t and dL/dc_T.
"""
from __future__ import annotations

from ..function import Function
from . import threads

# batch rows per piece at the least: a piece runs every time step, so it must be worth a thread
MIN_ROWS = 4


class LSTMLayer(Function):
    r"""One LSTM layer over a whole sequence: inputs x (T, B, I), h0 (B, H), c0 (B, H),
    W_ih (4H, I), W_hh (4H, H) and optionally b_ih, b_hh (4H,); output the packed array
    (T + 1, B, H) = [h_1, ..., h_T, c_T] (see the module docstring).

    Forward. The input part of a_t does not depend on the recurrence, so it is computed for all
    steps at once, A = X W_ih^T + b_ih + b_hh, one (T*B, I) x (I, 4H) product; each step then
    adds h_{t-1} W_hh^T. The rows of a batch never interact (h_t of row b depends only on row
    b's past), so the batch is cut into pieces that run the whole sequence on all cores, with no
    meeting point between the steps (forward and backward alike). The three sigmoids and the
    tanh of a step are ONE tanh over (B, 4H), using sigmoid(a) = (1 + tanh(a / 2)) / 2: the i,
    f, o rows of the weights are scaled by s = 1/2 up front (exact in floating point), and after
    the tanh the i, f, o columns are mapped u -> u/2 + 1/2. Gates are saved post-activation in G
    (T, B, 4H), cell states in C (T + 1, B, H) with C[0] = c0, tanh(c_t) in TC (T, B, H), hidden
    states in HH (T + 2, B, H) with HH[0] = h0, HH[t] = h_t, HH[T + 1] = c_T, so the output is
    the view HH[1:].

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
        G = threads.matmul(x.reshape(T * B, I), (w_ih * s[:, None]).T)
        if b_ih is not None:
            G += (b_ih + b_hh) * s
        G = G.reshape(T, B, 4 * H)
        whh_t = (w_hh * s[:, None]).T                    # (H, 4H), rows already scaled
        HH = xp.empty((T + 2, B, H), dtype=dt)
        C = xp.empty((T + 1, B, H), dtype=dt)
        TC = xp.empty((T, B, H), dtype=dt)
        HH[0] = h0
        C[0] = c0
        shift = 1 - s                                    # 1/2 on i, f, o; 0 on g

        def rows(r):         # the whole sequence for batch rows lo:hi (rows never interact)
            lo, hi = r
            rec = xp.empty((hi - lo, 4 * H), dtype=dt)   # scratch: h_{t-1} W_hh^T
            ig = xp.empty((hi - lo, H), dtype=dt)        # scratch: i_t * g_t
            for t in range(T):
                a = G[t, lo:hi]
                xp.matmul(HH[t, lo:hi], whh_t, out=rec)
                a += rec                                 # a_t (i, f, o rows halved)
                xp.tanh(a, out=a)
                a *= s                                   # i, f, o: (1 + tanh(a/2)) / 2
                a += shift                               # g: tanh(a) unchanged
                i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
                c_prev, c = C[t, lo:hi], C[t + 1, lo:hi]
                xp.multiply(f, c_prev, out=c)            # c_t = f_t * c_{t-1}
                xp.multiply(i, g, out=ig)
                c += ig                                  #       + i_t * g_t
                xp.tanh(c, out=TC[t, lo:hi])
                xp.multiply(o, TC[t, lo:hi], out=HH[t + 1, lo:hi])   # h_t = o_t * tanh(c_t)
        self.batch = threads.batch_pieces(x, B, min_rows=MIN_ROWS)
        threads.map_chunks(rows, self.batch)
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
        dA = xp.empty_like(G)
        dh_rec = xp.empty((B, H), dtype=G.dtype)         # gradient reaching h_t from step t+1
        dc = dY[T].copy()                                # dL/dc_T (then dc_{t} going back)

        def rows(r):         # back through time for batch rows lo:hi
            lo, hi = r
            g_rows = G[:, lo:hi]
            # local derivatives of the activations for all steps at once:
            # sigmoid' = y (1 - y) on i, f, o;  tanh' = 1 - y^2 on g
            D = g_rows * (1 - g_rows)
            g_all = g_rows[:, :, 2 * H:3 * H]
            D[:, :, 2 * H:3 * H] = 1 - g_all * g_all
            # what dh_t contributes to dc_t: o_t * (1 - tanh(c_t)^2)
            Q = g_rows[:, :, 3 * H:] * (1 - TC[:, lo:hi] * TC[:, lo:hi])
            dh = xp.empty((hi - lo, H), dtype=G.dtype)
            tmp = xp.empty((hi - lo, H), dtype=G.dtype)
            rec, dc_r = dh_rec[lo:hi], dc[lo:hi]
            rec[...] = 0
            for t in range(T - 1, -1, -1):               # step t + 1 of the class docstring
                a, da = g_rows[t], dA[t, lo:hi]
                xp.add(dY[t, lo:hi], rec, out=dh)        # dh_t = dh_t^out + dh^rec
                xp.multiply(dh, Q[t], out=tmp)
                dc_r += tmp                              # dc_t += dh_t o_t (1 - tanh(c_t)^2)
                xp.multiply(dc_r, a[:, 2 * H:3 * H], out=da[:, :H])          # di = dc * g
                xp.multiply(dc_r, C[t, lo:hi], out=da[:, H:2 * H])           # df = dc * c_{t-1}
                xp.multiply(dc_r, a[:, :H], out=da[:, 2 * H:3 * H])          # dg = dc * i
                xp.multiply(dh, TC[t, lo:hi], out=da[:, 3 * H:])             # do = dh tanh(c_t)
                da *= D[t]                               # through the activations: da_t
                xp.matmul(da, w_hh, out=rec)             # dh^rec for h_{t-1} = da_t W_hh
                dc_r *= a[:, H:2 * H]                    # dc_{t-1} = dc_t * f_t
        threads.map_chunks(rows, self.batch)
        dA2 = dA.reshape(T * B, H4)
        x = self.x
        dx = threads.matmul(dA2, self.w_ih).reshape(x.shape) if self.needs_grad(0) else None
        dh0 = dh_rec if self.needs_grad(1) else None
        dc0 = dc if self.needs_grad(2) else None
        dw_ih = threads.matmul(dA2.T, x.reshape(-1, x.shape[2])) if self.needs_grad(3) else None
        dw_hh = threads.matmul(dA2.T, HH[:T].reshape(T * B, H)) if self.needs_grad(4) else None
        grads = (dx, dh0, dc0, dw_ih, dw_hh)
        if len(self.inputs) == 7:
            db = dA2.sum(axis=0)
            grads += (db if self.needs_grad(5) else None,
                      db.copy() if self.needs_grad(6) else None)
        return grads


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """The kernel's entry point (arguments checked by ``autodiff.nn.recurrent.lstm_layer``):
    (output (T, B, H), h_n (B, H), c_n (B, H))."""
    T = x.shape[0]
    biases = () if b_ih is None else (b_ih, b_hh)
    packed = LSTMLayer.apply(x, h0, c0, w_ih, w_hh, *biases)     # (T + 1, B, H)
    return packed[:T], packed[T - 1], packed[T]
