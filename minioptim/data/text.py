"""Word-level text: a ``Vocabulary`` (word <-> id) and a ``Corpus`` of train/valid/test ids, the
batches of truncated back-propagation through time, and the two corpora: Penn Treebank and
the offline default made of Python's documentation.

Text is tokenized as in Mikolov's Penn Treebank: one sentence per line, words separated by
spaces, ``<eos>`` appended at each line end, rare words replaced by ``<unk>``. The vocabulary is
built from the training split only: ``<unk>`` (id 0) and ``<eos>`` (id 1), then the other words
by decreasing frequency (ties: first appearance), at most ``max_size`` in all.

>>> v = Vocabulary.build([["the", "cat", "the"], ["a", "dog"]])
>>> v.itos
['<unk>', '<eos>', 'the', 'cat', 'a', 'dog']
>>> ids = v.encode(["the", "bird", "<eos>"]); ids
array([2, 0, 1])
>>> v.decode(ids)
['the', '<unk>', '<eos>']

Language-model batches: ``batchify(ids, batch_size)`` drops the last ``len(ids) % batch_size``
tokens and lays the rest out as ``batch_size`` contiguous streams, one per column: shape
(T, batch_size). ``BPTTIterator`` walks down the rows: each segment is ``data[i:i+L]`` with
target ``data[i+1:i+1+L]`` (the next token), both of shape (L, batch_size), as integer tensors
on the active backend. With ``variable_length=True`` the length L is drawn as in AWD-LSTM
(Merity et al., 2018): base = bptt with probability 0.95, else bptt / 2;
L = max(min_len, int(Normal(base, std))); L <= bptt + max_extra. AWD-LSTM then scales the step
size by L / bptt for that segment.

>>> data = batchify(np.arange(10), 2)
>>> data.T
array([[0, 1, 2, 3, 4],
       [5, 6, 7, 8, 9]])
>>> [(x.numpy()[:, 0].tolist(), y.numpy()[:, 0].tolist()) for x, y in BPTTIterator(data, bptt=3)]
[([0, 1, 2], [1, 2, 3]), ([3], [4])]
"""
from __future__ import annotations

import functools
import math
import os
import platform
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from autodiff import backend
from autodiff.tensor import Tensor

from .files import PTB, DataError, data_dir, fetch


UNK, EOS = "<unk>", "<eos>"


def tokenize_line(line: str) -> list[str]:
    """A line of PTB-format text as its words plus ``<eos>``."""
    return line.split() + [EOS]


def tokenize_text(text: str) -> list[list[str]]:
    """Every line of PTB-format text (``\\n``-separated), as ``tokenize_line`` gives it. A final
    newline does not make an extra line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [tokenize_line(line) for line in lines]


class Vocabulary:
    """Words and their ids: ``itos`` (list), ``stoi`` (dict), ``unk_id``, ``eos_id``."""

    def __init__(self, words):
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            dup = [w for w, c in Counter(self.itos).items() if c > 1]
            raise ValueError(f"a vocabulary lists each word once; repeated: {dup[:5]}")
        self.unk_id = self.stoi.get(UNK)
        self.eos_id = self.stoi.get(EOS)

    @classmethod
    def build(cls, lines, max_size: int | None = None, specials=(UNK, EOS)) -> "Vocabulary":
        """From tokenized lines: ``specials`` first, then words by decreasing count (ties by first
        appearance), ``max_size`` words in all (None: every word)."""
        counts = Counter(w for line in lines for w in line)  # keeps first-appearance order
        ranked = sorted((w for w in counts if w not in specials), key=lambda w: -counts[w])
        if max_size is not None:
            if max_size < len(specials):
                raise ValueError(f"max_size {max_size} is smaller than the specials {specials}")
            ranked = ranked[:max_size - len(specials)]
        return cls(list(specials) + ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word) -> bool:
        return word in self.stoi

    def encode(self, tokens) -> np.ndarray:
        """Ids (int64) of the tokens; unknown words become ``<unk>``."""
        get, unk = self.stoi.get, self.unk_id
        ids = [get(t, unk) for t in tokens]
        if unk is None and None in ids:
            bad = next(t for t, i in zip(tokens, ids, strict=True) if i is None)
            raise KeyError(f"{bad!r} is not in the vocabulary, which has no {UNK} to stand for it")
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids) -> list[str]:
        """The words of the ids (any integer array or list)."""
        return [self.itos[int(i)] for i in np.asarray(ids).ravel()]

    def to_text(self, ids) -> str:
        """The ids as PTB-format text: words joined by spaces, a newline for each ``<eos>``."""
        out, line = [], []
        for w in self.decode(ids):
            if w == EOS:
                out.append(" ".join(line) + "\n")
                line = []
            else:
                line.append(w)
        return "".join(out) + " ".join(line)

    def __repr__(self):
        return f"Vocabulary({len(self)} words)"


@dataclass(eq=False)
class Corpus:
    """Token ids (int64, 1-d) of ``train``, ``valid`` and ``test`` over one ``vocab``."""

    name: str
    vocab: Vocabulary
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    source: str = ""
    differs: str = ""

    @classmethod
    def from_lines(cls, name, train_lines, valid_lines, test_lines, max_vocab=None,
                   source="", differs="") -> "Corpus":
        """Build the vocabulary from the training lines and encode the three splits."""
        vocab = Vocabulary.build(train_lines, max_size=max_vocab)
        enc = [vocab.encode([w for line in lines for w in line])
               for lines in (train_lines, valid_lines, test_lines)]
        return cls(name, vocab, *enc, source=source, differs=differs)

    def split(self, name: str) -> np.ndarray:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {name!r}; use 'train', 'valid' or 'test'")
        return getattr(self, name)

    def batches(self, split: str = "train", batch_size: int = 20, bptt: int = 35,
                variable_length: bool = False, seed: int = 0) -> BPTTIterator:
        """``BPTTIterator(batchify(split, batch_size), bptt, ...)``: (input, target) pairs."""
        return BPTTIterator(batchify(self.split(split), batch_size), bptt,
                            variable_length=variable_length, seed=seed)

    def describe(self) -> str:
        def count(ids, word_id):
            return int(np.count_nonzero(ids == word_id)) if word_id is not None else 0
        sizes = " / ".join(f"{s} {len(getattr(self, s)):,} tokens "
                           f"({count(getattr(self, s), self.vocab.eos_id):,} lines)"
                           for s in ("train", "valid", "test"))
        unk = count(self.train, self.vocab.unk_id) / max(len(self.train), 1)
        lines = [f"{self.name}: {sizes}; vocabulary {len(self.vocab):,} words "
                 f"(<unk> is {unk:.1%} of training tokens)."]
        if self.source:
            lines.append(f"Source: {self.source}")
        lines.append(f"Compared with the paper-scale dataset: {self.differs}" if self.differs
                     else "This is the paper-scale dataset of the talk's language-model "
                          "experiments.")
        return "\n".join(lines)

    def __repr__(self):
        return (f"Corpus({self.name!r}, train={len(self.train)}, valid={len(self.valid)}, "
                f"test={len(self.test)}, vocab={len(self.vocab)})")


# -- batches for truncated back-propagation through time -----------------------------------------
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

    def segments(self, epoch: int | None = None, start: int = 0):
        """The (input, target) pairs of ``epoch`` (default: the next one) from segment ``start``
        on, exactly those of a whole pass; it does not advance ``epoch`` (iterating does)."""
        lengths = self.lengths(epoch)
        if not isinstance(start, (int, np.integer)) or not 0 <= start <= len(lengths):
            raise ValueError(f"start must be a segment index in 0..{len(lengths)}, got {start!r}")
        i = sum(lengths[:start])
        for length in lengths[start:]:
            yield (Tensor._make(backend.asarray(self.data[i:i + length])),
                   Tensor._make(backend.asarray(self.data[i + 1:i + 1 + length])))
            i += length

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.segments(epoch)


# -- Penn Treebank, word level, as Mikolov preprocessed it (simple-examples/data/ptb.*.txt) ------
# One sentence per line, lower case, numbers as N, punctuation removed, rare words already <unk>:
# a 10,000-word vocabulary. 42,068 / 3,370 / 3,761 lines; with <eos> at each line end,
# 929,589 / 73,760 / 82,430 tokens. The three files live in <data folder>/ptb/.
PTB_FOLDER = "ptb"
PTB_SOURCE = ("Penn Treebank (Marcus et al., 1993), Wall Street Journal text as preprocessed by "
          "Mikolov et al. (2010), files ptb.train/valid/test.txt of simple-examples.")


def read_lines(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8") as f:
            return tokenize_text(f.read())
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc}); it is not a Penn Treebank "
                        f"file") from None


def ptb(root=None, download: bool = True, progress: bool = True, timeout: float = 60.0,
        deadline: float | None = None) -> Corpus:
    """The word-level Penn Treebank as a ``Corpus`` (vocabulary from the training file).
    ``timeout`` and ``deadline`` bound a download (see ``minioptim.data.download``).

    Files: ``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt`` in ``<data folder>/ptb/``
    (data folder: ``root``, else ``$MINIOPTIM_DATA``, else ``~/.cache/minioptim``); downloaded
    when missing and ``download`` is true, always checked by md5.
    """
    folder = os.path.join(data_dir(root), PTB_FOLDER)
    paths = fetch(PTB, folder, "Penn Treebank", download, progress, timeout, deadline)
    train, valid, test = (read_lines(p) for p in paths)
    return Corpus.from_lines("ptb", train, valid, test, max_vocab=None, source=PTB_SOURCE,
                             differs="")


# -- the offline default: the English of Python's own documentation, tokenized like PTB --------
# Python ships the text of its reference-manual topics (pydoc_data.topics, what help("if")
# prints). Here it becomes a PTB-style corpus: topics in alphabetical order, split into sentences
# (one per line), lower case, numbers as N, punctuation dropped, <eos> at each sentence end.
# Sentences go to the splits in blocks of 50: of every ten blocks, eight to train, one to valid,
# one to test (contiguous text, 80 / 10 / 10). The vocabulary is the training split's 2,000 most
# frequent words (with <unk> and <eos>); the rest is <unk>, as in PTB.
MAX_VOCAB, BLOCK = 2000, 50
_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|N")


def tokenize_sentence(sentence: str) -> list[str]:
    """PTB-like words of one sentence: lower case, numbers -> N, punctuation dropped."""
    return _TOKEN.findall(_NUMBER.sub(" N ", sentence.lower()))


@functools.lru_cache(maxsize=1)
def sentences() -> tuple[tuple[str, ...], ...]:
    """Every sentence of the pydoc topics, tokenized (without ``<eos>``)."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise DataError("the 'pydoc' dataset is the text of Python's pydoc_data package, which "
                        "this Python installation lacks (some Linux distributions split it "
                        "out); install the full standard library or use another dataset") from None
    out = []
    for name in sorted(topics):
        for paragraph in _PARAGRAPH.split(topics[name]):
            for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                words = tokenize_sentence(sentence)
                if words:
                    out.append(tuple(words))
    return tuple(out)


def pydoc(root=None, download: bool = True, progress: bool = True,
          max_vocab: int = MAX_VOCAB, block: int = BLOCK) -> Corpus:
    """Python's documentation text as a PTB-style ``Corpus`` (about 70,000 tokens).

    ``root``, ``download`` and ``progress`` are accepted so every dataset is loaded alike, and
    unused: the text comes from the running Python, no file is read or downloaded.
    """
    splits = {"train": [], "valid": [], "test": []}
    for i, words in enumerate(sentences()):
        part = (i // block) % 10
        splits["valid" if part == 8 else "test" if part == 9 else "train"].append(
            list(words) + [EOS])
    version = platform.python_version()
    n_train = sum(len(s) for s in splits["train"])
    return Corpus.from_lines(
        "pydoc", splits["train"], splits["valid"], splits["test"], max_vocab=max_vocab,
        source=(f"the reference-manual topics of Python {version} (pydoc_data.topics), "
                f"shipped with Python: no download."),
        differs=(f"PTB has Wall Street Journal news, 929,589 / 73,760 / 82,430 tokens and a "
                 f"10,000-word vocabulary; this is technical English with code fragments, "
                 f"about 1/{max(1, round(929_589 / max(n_train, 1)))} of PTB's training size, "
                 f"with a {max_vocab:,}-word vocabulary, and its text changes with the Python "
                 f"version (this is {version})."))
