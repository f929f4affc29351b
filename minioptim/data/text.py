"""Word-level text: a ``Vocabulary`` (word <-> id) and a ``Corpus`` of train/valid/test ids.

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
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .bptt import BPTTIterator, batchify

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
