"""The offline text default: the English of Python's own documentation, tokenized like PTB.

Python ships the text of its reference-manual topics (``pydoc_data.topics``, what ``help("if")``
prints). Here it becomes a PTB-style corpus: topics in alphabetical order, split into sentences
(one per line), lower case, numbers as ``N``, punctuation dropped, ``<eos>`` at each sentence end.
Sentences go to the splits in blocks of 50: of every ten blocks, eight to train, one to valid,
one to test (contiguous text, 80 / 10 / 10). The vocabulary is the training split's 2,000 most
frequent words (with ``<unk>`` and ``<eos>``); the rest is ``<unk>``, as in PTB.
"""
from __future__ import annotations

import functools
import platform
import re

from .errors import DataError
from .text import EOS, Corpus

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
