"""Translation data: the synthetic task's rules (checked by parsing pairs here), vocabularies,
length-grouped batches and exact resume, Multi30k from tiny archives written here in the real
layout (sha256-checked), and the sha256 path of files.py. No network."""
import hashlib
import io
import tarfile
import urllib.request

import numpy as np
import pytest

from minioptim import data
from minioptim.data import files
from minioptim.data import translation as T

pytestmark = pytest.mark.usefixtures("offline")

SMALL = (1000, 60, 60)


@pytest.fixture(scope="module")
def small():
    return data.synthetic_translation(seed=0, sizes=SMALL)


def words(ds, pairs):
    return [(ds.src_vocab.decode(s), ds.tgt_vocab.decode(t)) for s, t in pairs]


# -- the synthetic task ---------------------------------------------------------------------------
def test_synthetic_is_deterministic_per_seed_and_differs_across_seeds(small):
    T._synthetic_pairs.cache_clear()  # really generate again
    again = data.synthetic_translation(seed=0, sizes=SMALL)
    assert words(again, again.train) == words(small, small.train)
    assert again.src_vocab.itos == small.src_vocab.itos
    other = data.synthetic_translation(seed=1, sizes=SMALL)
    assert words(other, other.train[:50]) != words(small, small.train[:50])


def test_synthetic_default_sizes_lengths_and_vocabularies(monkeypatch):
    monkeypatch.setattr(files, "download", lambda *a, **k: pytest.fail("no download"))
    ds = data.load("synthetic-translation")
    assert isinstance(ds, data.TranslationDataset)
    assert [len(ds.train), len(ds.valid), len(ds.test)] == [8000, 500, 500]
    lengths = [len(s) for split in (ds.train, ds.valid, ds.test) for s, _ in split]
    assert min(lengths) == 4 and max(lengths) == 15
    assert 150 < len(ds.src_vocab) < 600 and 150 < len(ds.tgt_vocab) < 600
    srcs = [tuple(s) for split in (ds.train, ds.valid, ds.test) for s, _ in split]
    assert len(set(srcs)) == len(srcs)  # no source sentence twice, so none in two splits
    for s, t in ds.train[:20]:
        assert s.dtype == np.int64 and t.dtype == np.int64
        assert ds.eos_id not in s and ds.bos_id not in t  # stored without bos/eos
    desc = ds.describe()
    assert "8,000" in desc and "seed 0" in desc and "no download" in desc
    assert "\n" not in desc


# The test's own view of the target language: determiners with (gender, number).
TARGET_DETS = {"el": ("m", "sg"), "la": ("f", "sg"), "los": ("m", "pl"), "las": ("f", "pl"),
               "un": ("m", "sg"), "una": ("f", "sg"), "unos": ("m", "pl"), "unas": ("f", "pl"),
               "este": ("m", "sg"), "esta": ("f", "sg"), "estos": ("m", "pl"),
               "estas": ("f", "pl"), "mi": (None, "sg"), "mis": (None, "pl"),
               "tu": (None, "sg"), "tus": (None, "pl"), "dos": (None, "pl"),
               "muchos": ("m", "pl"), "muchas": ("f", "pl")}
SOURCE_DETS = {"the", "a", "an", "some", "this", "these", "my", "your", "two", "many"}
SUBORDINATORS = {"because": "porque", "while": "mientras", "when": "cuando", "that": "que"}
REFLEXIVE = {"sit", "sits", "fall", "falls", "leave", "leaves", "stop", "stops"}
TWO_WORD_PREPS = {"near", "behind", "under"}


def source_nps(src):
    """(det, adjective or None, material or None, noun, end index) of each noun phrase."""
    out, i = [], 0
    while i < len(src):
        if src[i] in SOURCE_DETS:
            j, adj, mat = i + 1, None, None
            if src[j] in T.ADJECTIVES:
                adj, j = src[j], j + 1
            if src[j] in T.MATERIALS:
                mat, j = src[j], j + 1
            out.append((src[i], adj, mat, src[j], j))
            i = j
        i += 1
    return out


def target_nps(tgt):
    """(det, noun, following words) of each noun phrase; "del" read as "de el"."""
    tgt = [w for x in tgt for w in (["de", "el"] if x == "del" else [x])]
    return [(w, tgt[i + 1], tgt[i + 2:i + 5]) for i, w in enumerate(tgt) if w in TARGET_DETS], tgt


def noun_translation(noun):
    """The source noun (either number) as (target word it must be, gender, number)."""
    for sg, (tgt, gender) in T.NOUNS.items():
        if noun == sg:
            return tgt, gender, "sg"
        if noun == T.english_plural(sg):
            return tgt + ("s" if tgt[-1] in "aeiou" else "es"), gender, "pl"
    raise AssertionError(f"{noun!r} is not a noun")


def test_synthetic_pairs_follow_the_reordering_and_agreement_rules(small):
    checked_sub = 0
    for src, tgt in words(small, small.train[:400]):
        snps, (tnps, flat) = source_nps(src), target_nps(tgt)
        assert len(snps) == len(tnps), (src, tgt)  # NP order is kept; one det per NP
        for (sdet, adj, mat, noun, _), (tdet, tnoun, after) in zip(snps, tnps, strict=True):
            want, gender, number = noun_translation(noun)
            assert tnoun == want, (src, tgt)  # (a) lexical, determiner right before the noun
            dg, dn = TARGET_DETS[tdet]
            assert dn == number and dg in (None, gender), (src, tgt)  # (c) agreement
            assert (sdet in ("some", "these", "two", "many")) <= (number == "pl")
            rest = list(after)
            if adj:  # (b) the adjective follows the noun, inflected
                form = rest.pop(0)
                base = T.ADJECTIVES[adj]
                stem = base[:-1]
                ending = ("a" if gender == "f" else "o") if base.endswith("o") else "e"
                assert form == stem + ending + ("s" if number == "pl" else ""), (src, tgt)
            if mat:
                assert rest[:2] == ["de", T.MATERIALS[mat]], (src, tgt)
        # verb-final subordinate clause: its verb is the word after the clause's subject NP
        sub = [i for i, w in enumerate(src) if w in SUBORDINATORS]
        if sub:
            c = sub[0]
            assert SUBORDINATORS[src[c]] in flat
            subj_end = next(end for *_, end in snps if end > c)
            verb = src[subj_end + 1]
            base = verb if verb in {**T.TRANSITIVE, **T.INTRANSITIVE} else next(
                b for b in {**T.TRANSITIVE, **T.INTRANSITIVE} if T.english_third_person(b) == verb)
            want = {**T.TRANSITIVE, **T.INTRANSITIVE}[base] + ("" if verb != base else "n")
            assert " ".join(flat[-len(want.split()):]) == want, (src, tgt)
            checked_sub += 1
        # (a) one-to-two words: reflexive verbs, materials, two-word prepositions; "del" joins
        extra = sum(w in REFLEXIVE or w in T.MATERIALS or w in TWO_WORD_PREPS for w in src)
        assert len(tgt) == len(src) + extra - tgt.count("del"), (src, tgt)
    assert checked_sub > 100


def test_every_noun_has_one_gender_across_the_corpus(small):
    genders = {}
    for _, tgt in words(small, small.train):
        for det, noun, _ in target_nps(tgt)[0]:
            g = TARGET_DETS[det][0]
            if g:
                genders.setdefault(noun, set()).add(g)
    assert all(len(g) == 1 for g in genders.values())
    assert genders["mano"] == {"f"} and genders["mapa"] == {"m"}  # gender is lexical


def test_hand_derived_noun_phrases_and_the_docstring_example():
    np_ = T._NP
    assert np_("a", None, None, "apple", "sg").source() == ["an", "apple"]
    assert np_("a", "old", None, "man", "pl").source() == ["some", "old", "men"]
    assert np_("a", "pretty", "wooden", "table", "pl").target() == \
        ["unas", "mesas", "bonitas", "de", "madera"]
    assert np_("many", "big", None, "flower", "pl").target() == ["muchas", "flores", "grandes"]
    assert np_("the", None, None, "hand", "sg").target() == ["la", "mano"]
    assert np_("my", None, None, "friend", "pl").target() == ["mis", "amigos"]
    assert T.contract(["cerca", "de", "el", "rio", "de", "la", "casa"]) == \
        ["cerca", "del", "rio", "de", "la", "casa"]
    # the docstring's example, assembled from its parts by the rules
    subj, obj = np_("the", "small", None, "cat", "sg"), np_("a", None, "wooden", "table", "sg")
    pp = np_("the", None, None, "river", "sg")
    src = subj.source() + ["thinks", "that"] + np_("my", None, None, "friend", "pl").source() \
        + ["see"] + obj.source() + ["near"] + pp.source()
    tgt = T.contract(subj.target() + ["piensa", "que", "mis", "amigos"] + obj.target()
                     + ["cerca", "de"] + pp.target() + ["ven"])
    doc = T.__doc__
    assert "src: " + " ".join(src) in doc and "tgt: " + " ".join(tgt) in doc


# -- vocabularies ---------------------------------------------------------------------------------
def test_vocabularies_have_the_specials_first_and_come_from_training_only():
    train = [("a b a".split(), "x y".split()), ("a c".split(), "x z x".split())]
    valid, test = [("d a".split(), "w x".split())], [("b".split(), "y".split())]
    ds = data.TranslationDataset.from_tokens("toy", train, valid, test, min_freq=2)
    for v in (ds.src_vocab, ds.tgt_vocab):
        assert v.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (ds.pad_id, ds.unk_id, ds.bos_id, ds.eos_id) == (0, 1, 2, 3)
    assert ds.src_vocab.itos[4:] == ["a"] and ds.tgt_vocab.itos[4:] == ["x"]
    assert ds.valid[0][0].tolist() == [1, 4] and ds.test[0][1].tolist() == [1]
    ones = data.TranslationDataset.from_tokens("toy", train, valid, test, min_freq=1)
    assert ones.src_vocab.itos[4:] == ["a", "b", "c"]  # by count, ties by first appearance
    assert "d" not in ones.src_vocab  # valid words never enter


# -- batches --------------------------------------------------------------------------------------
def unpack(ds, src, tgt):
    """Check one batch's layout; return its (source, target) id tuples."""
    assert src.dtype == np.int64 and tgt.dtype == np.int64 and src.shape[1] == tgt.shape[1]
    out = []
    for j in range(src.shape[1]):
        s, t = src[:, j], tgt[:, j]
        ns, nt = int(np.argmax(s == ds.eos_id)), int(np.argmax(t == ds.eos_id))
        assert s[ns] == ds.eos_id and (s[ns + 1:] == ds.pad_id).all()
        assert t[0] == ds.bos_id and t[nt] == ds.eos_id and (t[nt + 1:] == ds.pad_id).all()
        body_s, body_t = s[:ns], t[1:nt]
        assert not np.isin(body_s, [0, 2, 3]).any() and not np.isin(body_t, [0, 2, 3]).any()
        out.append((tuple(body_s.tolist()), tuple(body_t.tolist())))
    # the longest sentence fills the batch: no all-pad row
    assert (src[-1] != ds.pad_id).any() and (tgt[-1] != ds.pad_id).any()
    return out


@pytest.mark.parametrize("batch_size", [16, 3])
def test_batches_cover_every_pair_once_with_bos_eos_and_padding(small, batch_size):
    batches = list(small.batches("train", batch_size, seed=4, epoch=2))
    assert len(batches) == small.num_batches("train", batch_size) == -(-1000 // batch_size)
    seen = [p for src, tgt in batches for p in unpack(small, src, tgt)]
    assert all(src.shape[1] <= batch_size for src, _ in batches)
    expected = [(tuple(s.tolist()), tuple(t.tolist())) for s, t in small.train]
    assert sorted(seen) == sorted(expected)  # every pair exactly once
    pads = sum(int((a == small.pad_id).sum()) for b in batches for a in b)
    cells = sum(a.size for b in batches for a in b)
    assert pads / cells < 0.05  # length grouping: random batches of 16 pad about 30 %


def test_length_grouping_beats_random_batches(small):
    def pad_fraction(batches):
        return sum(int((s == 0).sum()) for s, _ in batches) / sum(s.size for s, _ in batches)
    grouped = pad_fraction(list(small.batches("train", 32)))
    rng, pairs = np.random.default_rng(0), small.train
    order = rng.permutation(len(pairs))
    plain = [T._pad([pairs[i][0] for i in order[k:k + 32]], 0) for k in range(0, 1000, 32)]
    assert grouped < pad_fraction([(p, None) for p in plain]) / 4


def test_same_seed_and_epoch_same_batches_and_start_resumes_exactly(small):
    a = list(small.batches("train", 8, seed=1, epoch=3))
    b = list(small.batches("train", 8, seed=1, epoch=3))
    assert all((x == y).all() and (u == v).all() for (x, u), (y, v) in zip(a, b, strict=True))
    c = list(small.batches("train", 8, seed=1, epoch=4))
    assert any(x.shape != y.shape or (x != y).any() for (x, _), (y, _) in zip(a, c, strict=True))
    for start in (0, 1, 57, len(a) - 1, len(a)):
        rest = list(small.batches("train", 8, seed=1, epoch=3, start=start))
        assert len(rest) == len(a) - start
        assert all((x == y).all() and (u == v).all()
                   for (x, u), (y, v) in zip(a[start:], rest, strict=True))


def test_unshuffled_batches_ignore_the_seed_and_cover_the_split(small):
    a = list(small.batches("valid", 7, seed=0, shuffle=False))
    b = list(small.batches("valid", 7, seed=9, epoch=5, shuffle=False))
    assert all((x == y).all() for (x, _), (y, _) in zip(a, b, strict=True))
    seen = sorted(p for s, t in a for p in unpack(small, s, t))
    assert seen == sorted((tuple(s.tolist()), tuple(t.tolist())) for s, t in small.valid)


def test_batch_arguments_are_checked(small):
    with pytest.raises(ValueError, match="batch_size"):
        next(small.batches("train", 0))
    with pytest.raises(ValueError, match="split"):
        next(small.batches("dev", 4))
    with pytest.raises(ValueError, match="start"):
        next(small.batches("valid", 4, start=100))
    with pytest.raises(ValueError, match="sizes"):
        data.synthetic_translation(sizes=(10, 0, 5))


# -- Multi30k in its published layout -------------------------------------------------------------
TRAIN_DE = ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Park.",
            "Ein Mann (mit Hut) läuft!", "Zwei Frauen sitzen, lachen; \"schön\"."]
TRAIN_EN = ["A man rides a bike.", "Two dogs play in the park.",
            "A man (with a hat) runs!", "Two women sit, laugh; \"nice\"."]
VAL = (["Ein Hund läuft."], ["A dog runs."])
TEST = (["Zwei Männer."], ["Two men."])


def make_archive(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, lines in members.items():
            blob = ("\n".join(lines) + "\n").encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_multi30k(tmp_path, monkeypatch):
    """The three archives with their real names and members, served at file:// URLs and
    accepted by their own sha256s."""
    server = tmp_path / "server"
    server.mkdir()
    contents = {"training.tar.gz": {"train.de": TRAIN_DE, "train.en": TRAIN_EN},
                "validation.tar.gz": {"val.de": VAL[0], "val.en": VAL[1]},
                "mmt16_task1_test.tar.gz": {"test.de": TEST[0], "test.en": TEST[1]}}
    specs = []
    for name, members in contents.items():
        path = make_archive(server / name, members)
        specs.append(files.RemoteFile(name, path.as_uri(), sha256=sha256(path)))
    monkeypatch.setattr(T, "MULTI30K", tuple(specs))
    return server, contents


def test_multi30k_loads_from_the_published_layout(tmp_path, fake_multi30k):
    ds = data.load("multi30k", progress=False, min_freq=1)
    folder = tmp_path / "cache" / "multi30k"
    for name in ("training.tar.gz", "validation.tar.gz", "mmt16_task1_test.tar.gz",
                 "train.de", "train.en", "val.de", "val.en", "test.de", "test.en"):
        assert (folder / name).is_file(), name
    assert [len(ds.train), len(ds.valid), len(ds.test)] == [4, 1, 1]
    src, tgt = words(ds, ds.train[:1])[0]
    assert src == ["ein", "mann", "fährt", "fahrrad", "."]
    assert tgt == ["a", "man", "rides", "a", "bike", "."]
    src, tgt = words(ds, ds.train[2:4])[1]
    assert src == ["zwei", "frauen", "sitzen", ",", "lachen", ";", '"', "schön", '"', "."]
    assert words(ds, ds.train[2:3])[0][1] == ["a", "man", "(", "with", "a", "hat", ")", "runs",
                                              "!"]
    assert ds.languages == ("de", "en") and "multi30k" in ds.describe()
    two = data.multi30k(download=False)  # default min_freq=2; the files are there now
    assert two.src_vocab.itos[4:] == [".", "ein", "mann", "zwei", '"']  # seen twice or more
    assert two.valid[0][0].tolist() == [5, 1, 1, 4]  # ein <unk> <unk> .


def test_multi30k_in_a_subfolder_and_a_wrong_archive_is_refused(tmp_path, fake_multi30k):
    folder = tmp_path / "cache" / "multi30k"
    folder.mkdir(parents=True)
    wrong = make_archive(folder / "training.tar.gz", {"train.de": ["x"], "train.en": ["y"]})
    bad = sha256(wrong)
    with pytest.raises(data.DataNotFoundError) as err:
        data.multi30k(download=False)
    msg = str(err.value)
    assert bad in msg and T.MULTI30K[0].sha256 in msg and "sha256" in msg
    assert "validation.tar.gz" in msg and "sha256sum" in msg
    assert "md5" not in msg.split("Check a copy")[0]


def test_a_download_with_the_wrong_sha256_is_discarded(tmp_path, fake_multi30k, monkeypatch):
    spec = T.MULTI30K[1]
    monkeypatch.setattr(T, "MULTI30K", (T.MULTI30K[0], files.RemoteFile(
        spec.filename, spec.url, sha256="0" * 64), T.MULTI30K[2]))
    with pytest.raises(data.DataNotFoundError) as err:
        data.multi30k(progress=False)
    msg = str(err.value)
    assert "ChecksumError" in msg and "0" * 64 in msg and spec.sha256 in msg
    assert not (tmp_path / "cache" / "multi30k" / "validation.tar.gz").exists()


def test_mismatched_line_counts_are_a_clear_error(fake_multi30k, monkeypatch):
    server, _ = fake_multi30k
    path = make_archive(server / "validation.tar.gz",
                        {"val.de": VAL[0] + ["Noch ein Satz."], "val.en": VAL[1]})
    monkeypatch.setattr(T, "MULTI30K", (T.MULTI30K[0], files.RemoteFile(
        "validation.tar.gz", path.as_uri(), sha256=sha256(path)), T.MULTI30K[2]))
    with pytest.raises(data.DataError, match=r"val\.de has 2 lines but val\.en has 1"):
        data.multi30k(progress=False)


def test_an_archive_without_its_members_is_a_clear_error(fake_multi30k, monkeypatch):
    server, _ = fake_multi30k
    path = make_archive(server / "mmt16_task1_test.tar.gz", {"test2016.de": ["x"]})
    monkeypatch.setattr(T, "MULTI30K", T.MULTI30K[:2] + (files.RemoteFile(
        "mmt16_task1_test.tar.gz", path.as_uri(), sha256=sha256(path)),))
    with pytest.raises(data.DataError, match="no member 'test.de'"):
        data.multi30k(progress=False)


class Response(io.BytesIO):
    def __init__(self, blob):
        super().__init__(blob)
        self.headers = {"Content-Length": str(len(blob))}


def test_multi30k_downloads_through_urlopen(tmp_path, fake_multi30k, monkeypatch):
    server, _ = fake_multi30k
    blobs = {f"https://example.invalid/{f.filename}": (server / f.filename).read_bytes()
             for f in T.MULTI30K}
    monkeypatch.setattr(T, "MULTI30K", tuple(files.RemoteFile(
        f.filename, f"https://example.invalid/{f.filename}", sha256=f.sha256) for f in T.MULTI30K))
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return Response(blobs[url])
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    ds = data.multi30k(progress=False, min_freq=1)
    assert sorted(asked) == sorted(blobs) and len(ds.train) == 4
    data.multi30k(progress=False)  # verified copies on disk: no second download
    assert len(asked) == 3


def test_multi30k_offline_error_names_archives_folder_sha256_and_urls(tmp_path):
    with pytest.raises(data.DataNotFoundError) as err:
        data.load("multi30k", progress=False)
    msg = str(err.value)
    assert str(tmp_path / "cache" / "multi30k") in msg and "network disabled" in msg
    for name, digest in (
            ("training.tar.gz", "20140d013d05dd9a72dfde46478663ba05737ce983f478f960c1123c6671be5e"),
            ("validation.tar.gz", "a7aa20e9ebd5ba5adce7909498b94410996040857154dab029851af3a866da8c"),
            ("mmt16_task1_test.tar.gz",
             "0681be16a532912288a91ddd573594fbdd57c0fbb81486eff7c55247e35326c2")):
        url = ("https://raw.githubusercontent.com/neychev/small_DL_repo/master/datasets/Multi30k/"
               + name)
        assert name in msg and f"sha256: {digest}" in msg and url in msg


# -- files.py: sha256 beside md5 ------------------------------------------------------------------
def test_remote_file_takes_exactly_one_checksum():
    assert files.RemoteFile("a", "u", "0" * 32).algorithm == "md5"
    s = files.RemoteFile("a", "u", sha256="AB" * 32)
    assert s.algorithm == "sha256" and s.checksum == "ab" * 32
    with pytest.raises(ValueError, match="exactly one checksum"):
        files.RemoteFile("a", "u")
    with pytest.raises(ValueError, match="exactly one checksum"):
        files.RemoteFile("a", "u", "0" * 32, sha256="0" * 64)


def test_download_and_fetch_check_sha256(tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"payload" * 1000)
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert data.sha256sum(str(blob)) == digest
    dest = tmp_path / "dl" / "blob.bin"
    assert data.download(blob.as_uri(), str(dest), sha256=digest, progress=False) == str(dest)
    with pytest.raises(data.ChecksumError, match=f"sha256 {digest}, expected {'1' * 64}"):
        data.download(blob.as_uri(), str(tmp_path / "x"), sha256="1" * 64, progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        data.download(blob.as_uri(), str(tmp_path / "x"), progress=False)
    spec = files.RemoteFile("blob.bin", blob.as_uri(), sha256=digest)
    assert files.fetch([spec], str(tmp_path / "dl"), "Blob") == [str(dest)]


# -- the registry ---------------------------------------------------------------------------------
def test_registry_lists_translation_datasets_after_the_others():
    names = data.names()
    assert names[:4] == ["digits", "cifar10", "pydoc", "ptb"]
    assert names.index("synthetic-translation") > 3 and names.index("multi30k") > 3
    assert data.names(kind="translation") == ["synthetic-translation", "multi30k"]
    assert data.info("synthetic-translation").offline and not data.info("multi30k").offline
    assert "multi30k" in data.describe_all()
    with pytest.raises(ValueError, match="'translation'"):
        data.register("x", lambda **k: None, "audio", True, "")
