"""Language-model batches: ``batchify`` a token stream into columns, then cut it into
(input, target) segments for truncated back-propagation through time.

``batchify(ids, batch_size)`` drops the last ``len(ids) % batch_size`` tokens and lays the rest
out as ``batch_size`` contiguous streams, one per column: shape (T, batch_size). ``BPTTIterator``
walks down the rows: each segment is ``data[i:i+L]`` with target ``data[i+1:i+1+L]`` (the next
token), both of shape (L, batch_size), as integer tensors on the active backend.

With ``variable_length=True`` the length L is drawn as in AWD-LSTM (Merity et al., 2018):
base = bptt with probability 0.95, else bptt / 2; L = max(min_len, int(Normal(base, std)));
L <= bptt + max_extra. AWD-LSTM then scales the step size by L / bptt for that segment.

>>> import numpy as np
>>> data = batchify(np.arange(10), 2)
>>> data.T
array([[0, 1, 2, 3, 4],
       [5, 6, 7, 8, 9]])
>>> [(x.numpy()[:, 0].tolist(), y.numpy()[:, 0].tolist()) for x, y in BPTTIterator(data, bptt=3)]
[([0, 1, 2], [1, 2, 3]), ([3], [4])]
"""
from __future__ import annotations

import math

import numpy as np

from autodiff import backend
from autodiff.tensor import Tensor


def batchify(ids, batch_size: int) -> np.ndarray:
    """The token ids as a host array of shape (len(ids) // batch_size, batch_size), column j
    holding the j-th contiguous stretch of the stream (the tail that does not fit is dropped)."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"batchify expects a 1-d array of token ids, got shape {ids.shape}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    steps = len(ids) // batch_size
    if steps < 2:
        raise ValueError(f"{len(ids)} tokens are too few for batch_size {batch_size}: each "
                         f"column needs at least 2 tokens (an input and its target)")
    return np.ascontiguousarray(ids[:steps * batch_size].reshape(batch_size, steps).T)


class BPTTIterator:
    """(input, target) segments of shape (L, batch) from a batchified array (T, batch).

    Fixed length ``bptt`` by default (the last segment may be shorter); ``variable_length``
    draws L per segment as AWD-LSTM does, from ``np.random.default_rng([seed, epoch])``, a new
    epoch on each pass (``set_epoch`` sets it). ``len()`` is the number of segments of a pass
    with fixed length (with variable lengths it is only known after drawing, and ``len`` raises).
    """

    def __init__(self, data, bptt: int = 35, variable_length: bool = False, seed: int = 0,
                 p_full: float = 0.95, std: float = 5.0, min_len: int = 5, max_extra: int = 40):
        data = np.asarray(data)
        if data.ndim != 2 or len(data) < 2:
            raise ValueError(f"BPTTIterator expects batchify's output, shape (T >= 2, batch); got "
                             f"shape {data.shape}")
        if not isinstance(bptt, (int, np.integer)) or bptt < 1:
            raise ValueError(f"bptt must be a positive integer, got {bptt!r}")
        self.data, self.bptt, self.variable_length, self.seed = data, int(bptt), \
            bool(variable_length), seed
        self.p_full, self.std, self.min_len, self.max_extra = p_full, std, min_len, max_extra
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.variable_length:
            raise TypeError("the number of segments of a variable-length pass is random; "
                            "use lengths() to draw them")
        return math.ceil((len(self.data) - 1) / self.bptt)

    def _length(self, rng) -> int:
        if not self.variable_length:
            return self.bptt
        base = self.bptt if rng.random() < self.p_full else self.bptt / 2
        length = max(self.min_len, int(rng.normal(base, self.std)))
        return max(1, min(length, self.bptt + self.max_extra))

    def lengths(self, epoch: int | None = None) -> list[int]:
        """The segment lengths of a pass (of ``epoch``, default the next one)."""
        rng = np.random.default_rng([int(self.seed), self.epoch if epoch is None else epoch])
        out, i, last = [], 0, len(self.data) - 1
        while i < last:
            out.append(min(self._length(rng), last - i))
            i += out[-1]
        return out

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        i = 0
        for length in self.lengths(epoch):
            yield (Tensor._make(backend.asarray(self.data[i:i + length])),
                   Tensor._make(backend.asarray(self.data[i + 1:i + 1 + length])))
            i += length
