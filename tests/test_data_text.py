"""Penn Treebank in its published format (tiny ptb.*.txt files made here), the vocabulary,
batchify and the BPTT iterator, and the offline text default. No network."""
import hashlib

import numpy as np
import pytest

from minioptim import data
from minioptim.data import files
from minioptim.data import text as text_module

TRAIN = (" the cat sat on the mat \n the dog ate N <unk> \n a cat and a dog \n"
         " the <unk> sat \n")
VALID = " the cat ate the <unk> \n a dog sat \n"
TEST = " a mat on the dog \n"


pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def tiny_ptb(tmp_path, monkeypatch):
    """ptb.{train,valid,test}.txt in the data folder, accepted by their own md5s."""
    folder = tmp_path / "cache" / "ptb"
    folder.mkdir(parents=True)
    specs = []
    for name, text in (("ptb.train.txt", TRAIN), ("ptb.valid.txt", VALID),
                       ("ptb.test.txt", TEST)):
        (folder / name).write_text(text)
        specs.append(files.RemoteFile(name, "https://example.invalid/" + name,
                                        hashlib.md5(text.encode()).hexdigest()))
    monkeypatch.setattr(text_module, "PTB", tuple(specs))
    return folder


def words(text):
    return [w for line in text.strip("\n").split("\n") for w in line.split() + ["<eos>"]]


def test_ptb_files_round_trip_to_ids_and_back(tiny_ptb):
    corpus = data.ptb(download=False)
    for split, text in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        ids = corpus.split(split)
        assert ids.dtype == np.int64 and ids.ndim == 1
        assert corpus.vocab.decode(ids) == words(text)
        assert corpus.vocab.to_text(ids) == "".join(" ".join(line.split()) + "\n"
                                                    for line in text.strip("\n").split("\n"))
    v = corpus.vocab
    assert v.itos[:2] == ["<unk>", "<eos>"] and v.unk_id == 0 and v.eos_id == 1
    assert v.itos[2] == "the"  # the most frequent word comes next
    assert len(v) == len(set(words(TRAIN)))  # every training word, the specials once
    assert np.count_nonzero(corpus.train == v.eos_id) == 4  # one <eos> per line
    assert "ptb" in corpus.describe() and "4 lines" in corpus.describe()


def test_ptb_checksums_are_enforced(tiny_ptb):
    (tiny_ptb / "ptb.valid.txt").write_text(VALID + " tampered \n")
    with pytest.raises(data.DataNotFoundError) as err:
        data.ptb(download=False)
    assert "ptb.valid.txt" in str(err.value) and text_module.PTB[1].md5 in str(err.value)
    assert "ptb.train.txt" not in str(err.value).split("Put")[1]  # only the wrong file listed


def test_ptb_offline_error_lists_the_three_files(tmp_path):
    with pytest.raises(data.DataNotFoundError) as err:
        data.load("ptb", progress=False)
    msg = str(err.value)
    assert str(tmp_path / "cache" / "ptb") in msg
    for name, md5 in (("ptb.train.txt", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
                      ("ptb.valid.txt", "aa0affc06ff7c36e977d7cd49e3839bf"),
                      ("ptb.test.txt", "8b80168b89c18661a38ef683c0dc3721")):
        assert name in msg and md5 in msg


def test_vocabulary_cap_maps_rare_words_to_unk():
    lines = [["a", "a", "a", "b", "b", "c", "<eos>"]]
    v = data.Vocabulary.build(lines, max_size=4)
    assert v.itos == ["<unk>", "<eos>", "a", "b"]
    assert v.encode(["c", "a", "zebra"]).tolist() == [0, 2, 0]
    with pytest.raises(ValueError, match="specials"):
        data.Vocabulary.build(lines, max_size=1)


def test_batchify_lays_out_contiguous_columns():
    ids = np.arange(23)
    b = data.batchify(ids, 4)
    assert b.shape == (5, 4) and b.dtype == ids.dtype
    np.testing.assert_array_equal(b[:, 1], np.arange(5, 10))  # column j: the j-th stretch
    with pytest.raises(ValueError, match="too few"):
        data.batchify(np.arange(5), 4)


def test_bptt_segments_have_the_right_shapes_and_shifted_targets():
    stream = np.arange(103)
    batched = data.batchify(stream, 4)  # (25, 4)
    it = data.BPTTIterator(batched, bptt=7)
    pairs = [(x.numpy(), y.numpy()) for x, y in it]
    assert len(pairs) == len(it) == 4  # 24 target rows: 7 + 7 + 7 + 3
    assert [x.shape for x, _ in pairs] == [(7, 4), (7, 4), (7, 4), (3, 4)]
    for x, y in pairs:
        assert x.shape == y.shape and x.dtype == np.int64
        np.testing.assert_array_equal(y, x + 1)  # the next token of each column's stream
    np.testing.assert_array_equal(np.concatenate([x for x, _ in pairs]), batched[:-1])
    np.testing.assert_array_equal(np.concatenate([y for _, y in pairs]), batched[1:])


def test_variable_length_bptt_is_seeded_and_bounded():
    batched = data.batchify(np.arange(20_000), 2)
    a = data.BPTTIterator(batched, bptt=70, variable_length=True, seed=3)
    b = data.BPTTIterator(batched, bptt=70, variable_length=True, seed=3)
    la, lb = a.lengths(), b.lengths()
    assert la == lb and sum(la) == len(batched) - 1
    assert min(la[:-1]) >= 5 and max(la) <= 70 + 40
    assert any(n < 50 for n in la) and any(n > 70 for n in la)  # halved and jittered lengths
    assert a.lengths(epoch=1) != la  # a new draw each epoch
    seen = [x.shape[0] for x, _ in a]
    assert seen == la and a.epoch == 1
    with pytest.raises(TypeError, match="random"):
        len(a)


def test_corpus_batches_feed_an_lm(tiny_ptb):
    corpus = data.ptb(download=False)
    x, y = next(iter(corpus.batches("train", batch_size=2, bptt=3)))
    x, y = x.numpy(), y.numpy()
    assert x.shape == (3, 2)
    stream = corpus.train[:len(corpus.train) // 2]
    np.testing.assert_array_equal(x[:, 0], stream[:3])
    np.testing.assert_array_equal(y[:, 0], stream[1:4])


def test_pydoc_default_loads_offline(monkeypatch):
    from minioptim.data import files as downloads
    monkeypatch.setattr(downloads, "download", lambda *a, **k: pytest.fail("no download"))
    corpus = data.load("pydoc")
    v = corpus.vocab
    assert len(v) == 2000 and v.itos[:2] == ["<unk>", "<eos>"]
    n = [len(corpus.train), len(corpus.valid), len(corpus.test)]
    assert 30_000 < n[0] < 150_000 and 0.05 < n[1] / sum(n) < 0.2 and 0.05 < n[2] / sum(n) < 0.2
    assert all(w in ("<unk>", "<eos>", "N") or (w.replace("'", "").isalpha() and w.islower())
               for w in v.itos)  # PTB-like: lower case, numbers as N, no punctuation
    assert {"the", "of", "function", "N"} <= set(v.itos)
    desc = corpus.describe()
    assert "PTB" in desc and "Python" in desc and "tokens" in desc
    again = data.pydoc()
    np.testing.assert_array_equal(again.train, corpus.train)  # deterministic
