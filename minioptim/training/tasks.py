"""The kinds of training the trainer knows: image classification, language modelling and
translation.

A task says what one epoch's batches are (from any batch on, for a resume in mid-epoch), how a
batch becomes a loss, and how the model is evaluated. The language task carries the LSTM's state
from one segment to the next (detached: truncated back-propagation through time) and starts
each epoch from zeros, as the papers' code does. The translation task feeds the decoder the
target shifted right (teacher forcing) and counts only real target tokens, not padding.

    loss(model, batch, carry) -> (loss, carry after the batch, how many examples or tokens)
    evaluate(model) -> {"loss": mean per example or token, "accuracy" | "perplexity": ...}
"""
from __future__ import annotations

import math

import numpy as np

from autodiff import backend, no_grad
from autodiff.nn import functional as F


class ImageTask:
    """Cross-entropy on (images, labels) batches; accuracy on the evaluation split."""

    kind, metric, higher_is_better = "image", "accuracy", True

    def __init__(self, train_loader, eval_loader, train_batches=None, eval_batches=None,
                 label_smoothing: float = 0.0):
        self.train_loader, self.eval_loader = train_loader, eval_loader
        self.train_cap, self.eval_cap = train_batches, eval_batches
        self.label_smoothing = label_smoothing

    def steps_in_epoch(self, epoch: int) -> int:
        n = len(self.train_loader)
        return n if self.train_cap is None else min(n, self.train_cap)

    def batches(self, epoch: int, start: int = 0):
        return _first(self.train_loader.batches(epoch, start), self.steps_in_epoch(epoch) - start)

    def initial_carry(self, model):
        return None

    def loss(self, model, batch, carry):
        x, y = batch
        loss = F.cross_entropy(model(x), y, label_smoothing=self.label_smoothing)
        return loss, None, int(y.shape[0])

    def evaluate(self, model) -> dict:
        total, correct, count = 0.0, 0, 0
        with no_grad():
            for x, y in _first(self.eval_loader.batches(0), self.eval_cap):
                logits = model(x)
                total += F.cross_entropy(logits, y, reduction="sum").item()
                correct += int(backend.python_scalar(
                    (logits.data.argmax(axis=1) == y.data).sum().item()))
                count += int(y.shape[0])
        return {"loss": total / count, "accuracy": correct / count}

    @staticmethod
    def carry_arrays(carry) -> dict:
        return {}

    @staticmethod
    def carry_from(arrays: dict, model):
        return None


class LanguageTask:
    """Next-token cross-entropy over BPTT segments; perplexity exp(loss) on the evaluation split.

    ``train``: a ``BPTTIterator`` over the batchified training tokens; ``eval_data``: the
    batchified evaluation tokens (T, eval batch), read in segments of ``bptt``."""

    kind, metric, higher_is_better = "text", "perplexity", False

    def __init__(self, train, eval_data, bptt: int, train_batches=None, eval_batches=None,
                 ar: float = 0.0, tar: float = 0.0, label_smoothing: float = 0.0):
        self.train, self.eval_data, self.bptt = train, np.asarray(eval_data), int(bptt)
        self.train_cap, self.eval_cap = train_batches, eval_batches
        self.ar, self.tar = ar, tar
        self.label_smoothing = label_smoothing

    def steps_in_epoch(self, epoch: int) -> int:
        n = len(self.train.lengths(epoch))
        return n if self.train_cap is None else min(n, self.train_cap)

    def batches(self, epoch: int, start: int = 0):
        return _first(self.train.segments(epoch, start), self.steps_in_epoch(epoch) - start)

    def initial_carry(self, model):
        return model.init_state(self.train.data.shape[1])

    def loss(self, model, batch, carry):
        """Cross-entropy per token (plus AWD-LSTM's AR/TAR terms when the run sets them: the
        training loss then includes them, as the AWD-LSTM code reports it)."""
        x, y = batch
        logits, carry = model(x, carry)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                               label_smoothing=self.label_smoothing)
        if self.ar or self.tar:
            loss = loss + model.activation_regularization(self.ar, self.tar)
        return loss, model.detach_state(carry), int(y.shape[0] * y.shape[1])

    def evaluate(self, model) -> dict:
        from minioptim.data import BPTTIterator

        segments = BPTTIterator(self.eval_data, self.bptt).segments(0)
        total, count = 0.0, 0
        state = model.init_state(self.eval_data.shape[1])
        with no_grad():
            for x, y in _first(segments, self.eval_cap):
                logits, state = model(x, state)
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                         reduction="sum").item()
                count += int(y.shape[0] * y.shape[1])
        loss = total / count
        return {"loss": loss, "perplexity": math.exp(min(loss, 700.0))}

    @staticmethod
    def carry_arrays(carry) -> dict:
        """The carried state's tensors by position ("0", "1", or "0.1" for nested pairs)."""
        return {k: backend.to_numpy(t.data) for k, t in _leaves(carry)}

    def carry_from(self, arrays: dict, model):
        """The carried state rebuilt from ``carry_arrays`` in the shape ``init_state`` has."""
        from autodiff import Tensor

        template = self.initial_carry(model)
        return _rebuild(template, lambda key: Tensor(arrays[key]))


class TranslationTask:
    """Cross-entropy per target token (padding ignored) on length-grouped (src, tgt) batches of a
    ``TranslationDataset``; on the evaluation split the loss, perplexity exp(loss) and the
    accuracy of the most likely next token (teacher forced)."""

    kind, metric, higher_is_better = "translation", "perplexity", False

    def __init__(self, data, batch_size: int, seed: int, eval_split: str = "test",
                 eval_batch_size=None, train_batches=None, eval_batches=None,
                 label_smoothing: float = 0.0):
        self.data, self.batch_size, self.seed = data, int(batch_size), seed
        self.eval_split, self.eval_batch_size = eval_split, int(eval_batch_size or batch_size)
        self.train_cap, self.eval_cap = train_batches, eval_batches
        self.label_smoothing = label_smoothing

    def steps_in_epoch(self, epoch: int) -> int:
        n = self.data.num_batches("train", self.batch_size)
        return n if self.train_cap is None else min(n, self.train_cap)

    def batches(self, epoch: int, start: int = 0):
        from autodiff import Tensor

        pairs = self.data.batches("train", self.batch_size, seed=self.seed, epoch=epoch,
                                  start=start)
        return ((Tensor(src), Tensor(tgt)) for src, tgt in
                _first(pairs, self.steps_in_epoch(epoch) - start))

    def initial_carry(self, model):
        return None

    def _logits(self, model, src, tgt):
        logits = model(src, tgt[:-1])                       # the decoder sees tgt shifted right
        return logits.reshape(-1, logits.shape[-1]), tgt[1:].reshape(-1)

    def loss(self, model, batch, carry):
        src, tgt = batch
        logits, target = self._logits(model, src, tgt)
        loss = F.cross_entropy(logits, target, ignore_index=self.data.pad_id,
                               label_smoothing=self.label_smoothing)
        return loss, None, int((tgt.data[1:] != self.data.pad_id).sum())

    def evaluate(self, model) -> dict:
        from autodiff import Tensor

        total, correct, count = 0.0, 0, 0
        pairs = self.data.batches(self.eval_split, self.eval_batch_size, shuffle=False)
        with no_grad():
            for src, tgt in _first(pairs, self.eval_cap):
                logits, target = self._logits(model, Tensor(src), Tensor(tgt))
                total += F.cross_entropy(logits, target, ignore_index=self.data.pad_id,
                                         reduction="sum").item()
                real = target.data != self.data.pad_id
                correct += int(backend.python_scalar(
                    ((logits.data.argmax(axis=1) == target.data) & real).sum().item()))
                count += int(backend.python_scalar(real.sum().item()))
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)),
                "accuracy": correct / max(count, 1)}

    # nothing is carried from batch to batch, as for images
    carry_arrays = staticmethod(ImageTask.carry_arrays)
    carry_from = staticmethod(ImageTask.carry_from)


def _leaves(state, prefix=""):
    if isinstance(state, (tuple, list)):
        for i, part in enumerate(state):
            yield from _leaves(part, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), state


def _rebuild(template, leaf, prefix=""):
    if isinstance(template, (tuple, list)):
        return type(template)(_rebuild(t, leaf, f"{prefix}{i}.") for i, t in enumerate(template))
    return leaf(prefix.rstrip("."))


def _first(iterable, n):
    """At most ``n`` items of ``iterable`` (all when n is None), closing it when stopped early
    (a prefetching loader's thread ends with it)."""
    if n is None:
        yield from iterable
        return
    try:
        for i, item in enumerate(iterable):
            if i >= n:
                break
            yield item
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()


def build_task(config, data, model=None):
    """The task of ``config`` on ``data``: an ImageDataset, a Corpus or a TranslationDataset
    (see builders.load_data),
    or a pair (train, eval) of DataLoaders or of (BPTTIterator, batchified eval tokens)."""
    from minioptim.data import (BPTTIterator, Corpus, DataLoader, ImageDataset,
                                TranslationDataset, batchify)

    if isinstance(data, ImageDataset):
        train, test = data.loaders(config.batch_size, seed=config.seed, augment=config.augment,
                                   prefetch=True, eval_batch_size=config.eval_batch_size)
        return ImageTask(train, test, config.train_batches, config.eval_batches,
                         config.label_smoothing)
    if isinstance(data, Corpus):
        split = config.eval_split
        train = BPTTIterator(batchify(data.train, config.batch_size), config.bptt,
                             variable_length=config.variable_bptt, seed=config.seed)
        evaluation = batchify(data.split(split), config.eval_batch_size or 10)
        awd = config.model.lower() == "awd-lstm"
        from .builders import awd_setting
        return LanguageTask(train, evaluation, config.bptt, config.train_batches,
                            config.eval_batches, ar=awd_setting(config, "ar") if awd else 0.0,
                            tar=awd_setting(config, "tar") if awd else 0.0,
                            label_smoothing=config.label_smoothing)
    if isinstance(data, TranslationDataset):
        return TranslationTask(data, config.batch_size, config.seed, config.eval_split,
                               config.eval_batch_size, config.train_batches, config.eval_batches,
                               config.label_smoothing)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        train, evaluation = data
        if isinstance(train, DataLoader) and isinstance(evaluation, DataLoader):
            return ImageTask(train, evaluation, config.train_batches, config.eval_batches)
        if isinstance(train, BPTTIterator):
            return LanguageTask(train, evaluation, config.bptt, config.train_batches,
                                config.eval_batches)
    raise TypeError(f"data must be a dataset name, an ImageDataset, a Corpus, or a pair (train, "
                    f"eval) of DataLoaders or of (BPTTIterator, batchified eval tokens); got "
                    f"{type(data).__name__}")
