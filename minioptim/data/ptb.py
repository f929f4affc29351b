"""Penn Treebank, word level, as Mikolov preprocessed it (``simple-examples/data/ptb.*.txt``).

One sentence per line, lower case, numbers as ``N``, punctuation removed, rare words already
``<unk>``: a 10,000-word vocabulary. 42,068 / 3,370 / 3,761 lines; with ``<eos>`` at each line
end, 929,589 / 73,760 / 82,430 tokens. The three files live in ``<data folder>/ptb/``.
"""
from __future__ import annotations

import os

from . import sources
from .cache import data_dir
from .downloads import fetch
from .text import Corpus, tokenize_text

FOLDER = "ptb"
SOURCE = ("Penn Treebank (Marcus et al., 1993), Wall Street Journal text as preprocessed by "
          "Mikolov et al. (2010), files ptb.train/valid/test.txt of simple-examples.")


def read_lines(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as f:
        return tokenize_text(f.read())


def ptb(root=None, download: bool = True, progress: bool = True) -> Corpus:
    """The word-level Penn Treebank as a ``Corpus`` (vocabulary from the training file).

    Files: ``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt`` in ``<data folder>/ptb/``
    (data folder: ``root``, else ``$MINIOPTIM_DATA``, else ``~/.cache/minioptim``); downloaded
    when missing and ``download`` is true, always checked by md5.
    """
    folder = os.path.join(data_dir(root), FOLDER)
    train, valid, test = (read_lines(p) for p in
                          fetch(sources.PTB, folder, "Penn Treebank", download, progress))
    return Corpus.from_lines("ptb", train, valid, test, max_vocab=None, source=SOURCE, differs="")
