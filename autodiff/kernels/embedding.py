"""The embedding kernel: replaces ``autodiff.nn.layers.embedding`` (``weight[ids]``).

The reference is indexing, whose backward scatter-adds every output row into a (V, D) zero
array (``add.at``); this node sorts the ids once and copies the rows of distinct ids, adding only
the repeats (see ``EmbeddingFunction``).
"""
from __future__ import annotations

from ..function import Function


class EmbeddingFunction(Function):
    """y[..., :] = W[ids[...], :] for W of shape (V, D).

    Backward: row v of dL/dW is the sum of the output gradients of every position holding id v,
    a scatter-add (ids repeat: "the" appears many times in a batch).

    How, measured on NumPy 2.4 (V=10,000, D=200, 700 ids, float32; the scatter alone):
    ``add.at`` on the (V, D) gradient 1.7 ms, sort + ``add.reduceat`` 1.0 ms, ``bincount`` on
    flat indices 2.6 ms (and a float64 (V, D) result), ``add.at`` on the flattened gradient
    0.3-0.5 ms, and what is done here 0.12 ms (0.4 ms for Zipf-distributed ids): sort the ids,
    *assign* the gradient row of one occurrence of each id (distinct rows: a plain copy) and
    scatter-add only the remaining repeats with the flat ``add.at``. Only one (V, D) array is
    allocated."""

    saved_inputs = ()

    def __init__(self, ids):
        self.ids = ids

    def forward(self, weight):
        self.num_rows = weight.shape[0]
        return weight[self.ids]

    def backward(self, g):
        xp = self.xp
        dim = g.shape[-1]
        ids = self.ids.reshape(-1)
        g = g.reshape(-1, dim)
        gw = xp.zeros((self.num_rows, dim), dtype=g.dtype)
        if ids.size == 0:
            return (gw,)
        order = xp.argsort(ids)
        sorted_ids = ids[order]
        first = xp.empty(ids.shape, dtype=bool)
        first[0] = True
        xp.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
        gw[sorted_ids[first]] = g[order[first]]
        repeats = order[~first]
        if repeats.size:
            flat = ids[repeats][:, None] * dim + xp.arange(dim)
            xp.add.at(gw.reshape(-1), flat.reshape(-1), g[repeats].reshape(-1))
        return (gw,)


def embedding(weight, ids):
    """The kernel's entry point (``ids`` checked by ``autodiff.nn.layers.embedding``)."""
    return EmbeddingFunction.apply(weight, ids=ids)
