"""Fast paths: fused, chunked and threaded versions of layers whose plain version is in
``autodiff.nn``.

``autodiff/nn/`` holds the reference implementations a student reads: a convolution is an
unfold and one matrix product, batch norm is a few primitives, the LSTM is a loop over a cell,
and backpropagation through them is the engine's own. Each kernel here computes the same thing
as the reference it names, as one ``Function`` with a hand-derived backward, cut into batch
chunks that run on all CPU cores (``threads.py``):

    kernel            replaces (reference in autodiff.nn)           what makes it faster
    conv2d.py         conv.conv2d (unfold + matmul)                 chunks in cache, on all cores;
                                                                    rows of patches copied whole;
                                                                    input gradient as a convolution
    batch_norm.py     normalization.batch_norm (primitives)         two passes over x, all cores
    cross_entropy.py  losses.cross_entropy (log_softmax, pick)      one node, softmax kept once
    linear.py         layers.linear (x @ W.T + b)                   one node, rows on all cores
    embedding.py      layers.embedding (weight[ids])                sorted scatter of repeats
    dropout.py        layers.dropout (x * mask / (1 - p))           a boolean mask in memory
    relu.py           layers.relu (Tensor.relu)                     slices on all cores
    lstm.py           recurrent.lstm_layer (a loop over lstm_cell)  one node per layer, hand-
                                                                    written backward through time

One switch picks the path for a whole model:

    ad.use_kernels(False)             # from now on, every layer runs its reference
    with ad.use_kernels(False): ...   # only inside the block
    MINIOPTIM_KERNELS=0               # the reference path for a whole process

``tests/test_kernels.py`` checks every kernel of ``KERNELS`` against its reference (values and
gradients, on shapes drawn by Hypothesis); ResNet-20 and the LSTM language model give the same
loss and gradients both ways.
"""
from __future__ import annotations

import os
import threading

ENV_VAR = "MINIOPTIM_KERNELS"

# kernel module -> the reference function (module.function in autodiff.nn) it replaces
KERNELS = {
    "conv2d": "conv.conv2d",
    "batch_norm": "normalization.batch_norm",
    "cross_entropy": "losses.cross_entropy",
    "linear": "layers.linear",
    "embedding": "layers.embedding",
    "dropout": "layers.dropout",
    "relu": "layers.relu",
    "lstm": "recurrent.lstm_layer",
}


def _from_environment() -> bool:
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in ("", "1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{ENV_VAR} must be 1 (use the kernels, the default) or 0 (the reference "
                     f"path), got {value!r}")


class _Switch(threading.local):
    def __init__(self):
        self.on = _DEFAULT


_DEFAULT = _from_environment()
_switch = _Switch()


def kernels_enabled() -> bool:
    """Whether layers run their kernel (True) or their reference implementation (False)."""
    return _switch.on


class use_kernels:
    """``use_kernels(False)`` runs every layer on its reference implementation from now on (in
    this thread); ``with use_kernels(False):`` only inside the block, restoring the previous
    choice afterwards. ``use_kernels(True)`` (the default) turns the kernels back on."""

    def __init__(self, enabled: bool = True):
        if not isinstance(enabled, bool):
            raise TypeError(f"use_kernels expects True or False, got {enabled!r}")
        self.previous = _switch.on
        _switch.on = enabled

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _switch.on = self.previous
        return False


__all__ = ["ENV_VAR", "KERNELS", "kernels_enabled", "use_kernels"]
