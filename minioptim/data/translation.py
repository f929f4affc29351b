"""Translation data: a ``TranslationDataset`` of (source ids, target ids) pairs with length-grouped
padded batches, Multi30k (German -> English) in its published format, and an offline synthetic
task generated from a seed.

Both vocabularies start with ``<pad>`` (0), ``<unk>`` (1), ``<bos>`` (2), ``<eos>`` (3), then the
training split's words by decreasing count (ties: first appearance), those seen ``min_freq``
times or more. Pairs are stored without ``<bos>``/``<eos>``; ``batches`` adds them:
src (S, N) = source + ``<eos>``, tgt (T + 1, N) = ``<bos>`` + target + ``<eos>``, both padded
with ``<pad>``, so ``tgt[:-1]`` is the decoder input and ``tgt[1:]`` what it must predict.

The synthetic task (``synthetic_translation``): English-like source sentences from a small
grammar, and a made-up target language with Spanish-like words (no accents), Spanish noun
phrases and German-like verb-final subordinate clauses. Source grammar (4-15 words)::

    S      -> Clause | Clause Conj Clause | NP Vsay "that" Clause     Conj: because, while, when
    Clause -> NP Vi [PP] | NP Vt NP [PP]
    NP     -> Det [Adj] [Material] Noun        number sg/pl: Det, Noun and the verb agree
    PP     -> Prep NP

Translation rules, applied to the parse:
  (a) lexicon: each word has one translation; some take two words: materials ("wooden" ->
      "de madera"), prepositions ("near" -> "cerca de"), reflexive verbs ("sits" -> "se sienta").
  (b) reordering: adjectives and materials follow the noun ("Det Noun Adj de Material"); in a
      subordinate clause (after "que", "porque", "mientras", "cuando") the verb goes to the end.
  (c) agreement: every noun has a gender; determiners (el/la/los/las, un/una/unos/unas, ...)
      and adjectives (-o/-a/-os/-as; -e/-es) agree with the noun in gender and number, verbs
      with their subject in number (ve/ven); "de el" contracts to "del".

    src: the small cat thinks that my friends see a wooden table near the river
    tgt: el gato pequeno piensa que mis amigos una mesa de madera cerca del rio ven

Multi30k (Elliott et al., 2016; WMT'16 multimodal task 1): image captions, German -> English,
29,000 / 1,014 / 1,000 pairs, three archives checked by sha256 and extracted into
``<data folder>/multi30k/``; lower-cased, punctuation split off, ``min_freq=2``.
"""
from __future__ import annotations

import functools
import math
import os
import random
import re
import tarfile
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .files import DataError, RemoteFile, data_dir, fetch, safe_extract
from .text import Vocabulary

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
SPLITS = ("train", "valid", "test")
WINDOW = 100  # pairs sorted by length together: WINDOW * batch_size


def build_vocab(lines, min_freq: int = 1) -> Vocabulary:
    """``SPECIALS``, then words seen at least ``min_freq`` times by decreasing count."""
    counts = Counter(w for line in lines for w in line)  # first-appearance order for ties
    ranked = sorted((w for w, c in counts.items() if c >= min_freq and w not in SPECIALS),
                    key=lambda w: -counts[w])
    return Vocabulary(list(SPECIALS) + ranked)


def _pad(seqs, pad_id: int) -> np.ndarray:
    out = np.full((max(len(s) for s in seqs), len(seqs)), pad_id, dtype=np.int64)
    for j, s in enumerate(seqs):
        out[:len(s), j] = s
    return out


@dataclass(eq=False)
class TranslationDataset:
    """(src_ids, tgt_ids) int64 pairs of ``train``, ``valid`` and ``test``, without bos/eos."""

    name: str
    src_vocab: Vocabulary
    tgt_vocab: Vocabulary
    train: list
    valid: list
    test: list
    source: str = ""
    languages: tuple = ("src", "tgt")

    pad_id = SPECIALS.index(PAD)
    unk_id = SPECIALS.index(UNK)
    bos_id = SPECIALS.index(BOS)
    eos_id = SPECIALS.index(EOS)

    @classmethod
    def from_tokens(cls, name, train, valid, test, min_freq: int = 1, source: str = "",
                    languages=("src", "tgt")) -> "TranslationDataset":
        """From tokenized (source words, target words) pairs; vocabularies from ``train``."""
        src_vocab = build_vocab((s for s, _ in train), min_freq)
        tgt_vocab = build_vocab((t for _, t in train), min_freq)
        enc = [[(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in pairs]
               for pairs in (train, valid, test)]
        return cls(name, src_vocab, tgt_vocab, *enc, source=source, languages=tuple(languages))

    def split(self, name: str) -> list:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use 'train', 'valid' or 'test'")
        return getattr(self, name)

    def num_batches(self, split: str, batch_size: int) -> int:
        """Batches in one pass: every window of WINDOW * batch_size pairs is cut into whole
        batches but the last, so this is ceil(pairs / batch_size)."""
        return math.ceil(len(self.split(split)) / _check_batch_size(batch_size))

    def batch_order(self, split: str, batch_size: int, seed: int = 0, epoch: int = 0,
                    shuffle: bool = True) -> list[np.ndarray]:
        """The pair indices of each batch of one pass, in order (what ``batches`` pads)."""
        pairs, batch_size = self.split(split), _check_batch_size(batch_size)
        rng = np.random.default_rng((int(seed), int(epoch)))
        order = rng.permutation(len(pairs)) if shuffle else np.arange(len(pairs))
        lengths = np.array([(len(s), len(t)) for s, t in pairs], dtype=np.int64).reshape(-1, 2)
        groups, window = [], WINDOW * batch_size
        for w in range(0, len(order), window):
            idx = order[w:w + window]
            # stable sort by source length, then target length: neighbours pad little
            idx = idx[np.lexsort((lengths[idx, 1], lengths[idx, 0]))]
            groups += [idx[b:b + batch_size] for b in range(0, len(idx), batch_size)]
        if shuffle:
            groups = [groups[i] for i in rng.permutation(len(groups))]
        return groups

    def batches(self, split: str, batch_size: int, seed: int = 0, epoch: int = 0,
                shuffle: bool = True, start: int = 0):
        """Host (src, tgt) int64 batches of one pass, from batch ``start`` on.

        src (S, N): source ids + eos; tgt (T + 1, N): bos + target ids + eos; both padded with
        ``pad_id``. Order: a permutation from ``default_rng((seed, epoch))`` (when ``shuffle``;
        otherwise the stored order), each window of 100 * batch_size pairs sorted by length and
        cut into batches, the batches shuffled by the same rng. Same (seed, epoch), same batches.
        """
        groups = self.batch_order(split, batch_size, seed, epoch, shuffle)
        if not isinstance(start, (int, np.integer)) or not 0 <= start <= len(groups):
            raise ValueError(f"start must be a batch index in 0..{len(groups)}, got {start!r}")
        pairs, eos, bos = self.split(split), [self.eos_id], [self.bos_id]
        for idx in groups[start:]:
            src = [np.concatenate([pairs[i][0], eos]) for i in idx]
            tgt = [np.concatenate([bos, pairs[i][1], eos]) for i in idx]
            yield _pad(src, self.pad_id), _pad(tgt, self.pad_id)

    def decode(self, ids, side: str = "tgt") -> list[str]:
        """Words of ``ids``, stopping at ``<eos>`` and skipping ``<pad>``/``<bos>``."""
        vocab = {"src": self.src_vocab, "tgt": self.tgt_vocab}[side]
        words = []
        for i in np.asarray(ids).ravel():
            if int(i) == self.eos_id:
                break
            if int(i) not in (self.pad_id, self.bos_id):
                words.append(vocab.itos[int(i)])
        return words

    def describe(self) -> str:
        sizes = " / ".join(f"{s} {len(self.split(s)):,}" for s in SPLITS)
        src, tgt = self.languages
        return (f"{self.name}: {sizes} pairs; vocabularies {src} {len(self.src_vocab):,} / "
                f"{tgt} {len(self.tgt_vocab):,} words; source: {self.source}")

    def __repr__(self):
        return (f"TranslationDataset({self.name!r}, train={len(self.train)}, "
                f"valid={len(self.valid)}, test={len(self.test)}, "
                f"vocab={len(self.src_vocab)}/{len(self.tgt_vocab)})")


def _check_batch_size(batch_size) -> int:
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


# -- Multi30k (WMT'16 multimodal task 1), German -> English ---------------------------------------
_MULTI30K_MIRROR = "https://raw.githubusercontent.com/neychev/small_DL_repo/master/datasets/Multi30k/"
MULTI30K = (
    RemoteFile("training.tar.gz", _MULTI30K_MIRROR + "training.tar.gz", sha256=(
        "20140d013d05dd9a72dfde46478663ba05737ce983f478f960c1123c6671be5e")),
    RemoteFile("validation.tar.gz", _MULTI30K_MIRROR + "validation.tar.gz", sha256=(
        "a7aa20e9ebd5ba5adce7909498b94410996040857154dab029851af3a866da8c")),
    RemoteFile("mmt16_task1_test.tar.gz", _MULTI30K_MIRROR + "mmt16_task1_test.tar.gz", sha256=(
        "0681be16a532912288a91ddd573594fbdd57c0fbb81486eff7c55247e35326c2")),
)
MULTI30K_FOLDER = "multi30k"
MULTI30K_MEMBERS = (("train.de", "train.en"), ("val.de", "val.en"), ("test.de", "test.en"))
MULTI30K_SOURCE = ("Multi30k (Elliott et al., 2016), WMT'16 multimodal task 1 image captions, "
                   "German -> English, archives as published by torchtext's mirror")
_PUNCT = re.compile(r"""([.,!?;:"'()])""")


def tokenize(line: str) -> list[str]:
    """Lower case, the punctuation . , ! ? ; : " ' ( ) split off, whitespace split."""
    return _PUNCT.sub(r" \1 ", line.lower()).split()


def _member(archive: str, name: str) -> str:
    """The archive member called ``name`` (at the top or in one folder)."""
    with tarfile.open(archive, "r:*") as tar:
        found = [m.name for m in tar.getmembers()
                 if m.isfile() and os.path.basename(m.name) == name]
    if not found:
        raise DataError(f"{archive} has no member {name!r}; it is not the published Multi30k "
                        f"archive (delete it to download it again)")
    return min(found, key=len)


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc}); it is not a Multi30k file") from None
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def multi30k(root=None, download: bool = True, progress: bool = True, timeout: float = 60.0,
             deadline: float | None = None, min_freq: int = 2) -> TranslationDataset:
    """Multi30k German -> English as a ``TranslationDataset`` (vocabularies: training words seen
    ``min_freq`` times or more). The three archives (``MULTI30K``) live in
    ``<data folder>/multi30k/``, are downloaded when missing and ``download`` is true, always
    checked by sha256, and extracted there safely."""
    folder = os.path.join(data_dir(root), MULTI30K_FOLDER)
    archives = fetch(MULTI30K, folder, "Multi30k", download, progress, timeout, deadline)
    splits = []
    for archive, (de, en) in zip(archives, MULTI30K_MEMBERS, strict=True):
        members = [_member(archive, de), _member(archive, en)]
        safe_extract(archive, folder)
        src, tgt = (_read_lines(os.path.join(folder, m)) for m in members)
        if len(src) != len(tgt):
            raise DataError(
                f"Multi30k: {members[0]} has {len(src):,} lines but {members[1]} has "
                f"{len(tgt):,} (from {archive}); the two sides of a split must match line by line")
        splits.append([(tokenize(s), tokenize(t)) for s, t in zip(src, tgt, strict=True)])
    return TranslationDataset.from_tokens("multi30k", *splits, min_freq=min_freq,
                                          source=MULTI30K_SOURCE, languages=("de", "en"))


# -- the offline synthetic task --------------------------------------------------------------------
# Nouns: English singular -> (target singular, gender). Gender is lexical (la mano, el mapa).
ANIMATE = {
    "man": ("hombre", "m"), "woman": ("mujer", "f"), "boy": ("nino", "m"), "girl": ("nina", "f"),
    "teacher": ("maestra", "f"), "doctor": ("medico", "m"), "friend": ("amigo", "m"),
    "sister": ("hermana", "f"), "brother": ("hermano", "m"), "king": ("rey", "m"),
    "queen": ("reina", "f"), "farmer": ("granjero", "m"), "nurse": ("enfermera", "f"),
    "baker": ("panadera", "f"), "cat": ("gato", "m"), "dog": ("perro", "m"),
    "bird": ("pajaro", "m"), "horse": ("caballo", "m"), "cow": ("vaca", "f"),
    "mouse": ("raton", "m"), "duck": ("pato", "m"), "goat": ("cabra", "f"),
    "rabbit": ("conejo", "m"), "frog": ("rana", "f"), "bear": ("oso", "m"),
}
THINGS = {
    "ball": ("pelota", "f"), "book": ("libro", "m"), "apple": ("manzana", "f"),
    "table": ("mesa", "f"), "chair": ("silla", "f"), "car": ("coche", "m"),
    "flower": ("flor", "f"), "letter": ("carta", "f"), "cup": ("taza", "f"),
    "key": ("llave", "f"), "box": ("caja", "f"), "hat": ("sombrero", "m"),
    "bread": ("pan", "m"), "cake": ("pastel", "m"), "bottle": ("botella", "f"),
    "map": ("mapa", "m"), "hand": ("mano", "f"), "picture": ("cuadro", "m"),
    "boat": ("barco", "m"), "bed": ("cama", "f"), "shoe": ("zapato", "m"),
    "bag": ("bolsa", "f"), "toy": ("juguete", "m"), "spoon": ("cuchara", "f"),
}
PLACES = {
    "garden": ("jardin", "m"), "park": ("parque", "m"), "street": ("calle", "f"),
    "kitchen": ("cocina", "f"), "river": ("rio", "m"), "city": ("ciudad", "f"),
    "school": ("escuela", "f"), "forest": ("bosque", "m"), "house": ("casa", "f"),
    "market": ("mercado", "m"), "beach": ("playa", "f"), "bridge": ("puente", "m"),
    "field": ("campo", "m"), "lake": ("lago", "m"), "station": ("estacion", "f"),
    "tree": ("arbol", "m"), "train": ("tren", "m"), "window": ("ventana", "f"),
}
# Adjectives: target masculine singular; -o inflects for gender and number, -e for number.
ADJECTIVES = {
    "small": "pequeno", "big": "grande", "old": "viejo", "new": "nuevo", "red": "rojo",
    "black": "negro", "white": "blanco", "green": "verde", "yellow": "amarillo",
    "happy": "alegre", "sad": "triste", "tall": "alto", "short": "bajo", "pretty": "bonito",
    "ugly": "feo", "clean": "limpio", "dirty": "sucio", "poor": "pobre", "rich": "rico",
    "strong": "fuerte", "cheap": "barato", "quiet": "tranquilo",
}
MATERIALS = {"wooden": "madera", "golden": "oro", "woolen": "lana", "paper": "papel",
             "stone": "piedra", "glass": "vidrio"}
# Verbs: English plural (base) form -> target singular; the target plural adds "n".
TRANSITIVE = {
    "see": "ve", "eat": "come", "read": "lee", "find": "encuentra", "buy": "compra",
    "carry": "lleva", "watch": "mira", "draw": "dibuja", "open": "abre", "wash": "lava",
    "paint": "pinta", "follow": "sigue", "push": "empuja", "catch": "atrapa", "need": "necesita",
    "want": "quiere", "have": "tiene", "break": "rompe", "clean": "limpia", "sell": "vende",
    "throw": "lanza", "bring": "trae", "hide": "esconde", "love": "ama", "help": "ayuda",
}
INTRANSITIVE = {
    "sleep": "duerme", "run": "corre", "sing": "canta", "dance": "baila", "wait": "espera",
    "swim": "nada", "laugh": "rie", "cry": "llora", "work": "trabaja", "play": "juega",
    "walk": "camina", "shout": "grita", "smile": "sonrie", "talk": "habla",
    "sit": "se sienta", "fall": "se cae", "leave": "se va", "stop": "se para",
}
SAYING = {"say": "dice", "think": "piensa", "know": "sabe", "believe": "cree", "hear": "oye"}
CONJUNCTIONS = {"because": "porque", "while": "mientras", "when": "cuando", "that": "que"}
# Prepositions: English -> (target words, the kind of noun they take).
PREPOSITIONS = {
    "in": ("en", PLACES), "near": ("cerca de", PLACES), "behind": ("detras de", PLACES),
    "under": ("debajo de", THINGS), "on": ("sobre", THINGS), "with": ("con", THINGS),
    "without": ("sin", THINGS), "for": ("para", ANIMATE),
}
# Determiners: English (singular, plural) -> target (m sg, f sg, m pl, f pl); None: no such form.
DETERMINERS = {
    "the": (("the", "the"), ("el", "la", "los", "las")),
    "a": (("a", "some"), ("un", "una", "unos", "unas")),
    "this": (("this", "these"), ("este", "esta", "estos", "estas")),
    "my": (("my", "my"), ("mi", "mi", "mis", "mis")),
    "your": (("your", "your"), ("tu", "tu", "tus", "tus")),
    "two": ((None, "two"), (None, None, "dos", "dos")),
    "many": ((None, "many"), (None, None, "muchos", "muchas")),
}
_IRREGULAR_PLURALS = {"man": "men", "woman": "women", "mouse": "mice"}
NOUNS = {**ANIMATE, **THINGS, **PLACES}


def english_plural(noun: str) -> str:
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def english_third_person(verb: str) -> str:
    if verb == "have":
        return "has"
    if verb.endswith(("s", "x", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def target_plural(word: str) -> str:
    return word + ("s" if word[-1] in "aeiou" else "es")


def target_adjective(base: str, gender: str, number: str) -> str:
    form = base[:-1] + "a" if base.endswith("o") and gender == "f" else base
    return form + "s" if number == "pl" else form


@dataclass(frozen=True)
class _NP:
    det: str
    adj: str | None
    material: str | None
    noun: str
    number: str

    def source(self) -> list[str]:
        det = DETERMINERS[self.det][0][self.number == "pl"]
        rest = [w for w in (self.adj, self.material) if w]
        rest.append(english_plural(self.noun) if self.number == "pl" else self.noun)
        if det == "a" and rest[0][0] in "aeiou":
            det = "an"
        return [det] + rest

    def target(self) -> list[str]:
        noun, gender = NOUNS[self.noun]
        det = DETERMINERS[self.det][1][2 * (self.number == "pl") + (gender == "f")]
        words = [det, target_plural(noun) if self.number == "pl" else noun]
        if self.adj:
            words.append(target_adjective(ADJECTIVES[self.adj], gender, self.number))
        if self.material:
            words += ["de", MATERIALS[self.material]]
        return words


def _verb(verb: str, table: dict, number: str) -> tuple[list[str], list[str]]:
    src = english_third_person(verb) if number == "sg" else verb
    tgt = table[verb] + ("n" if number == "pl" else "")
    return [src], tgt.split()


class _Grammar:
    """Draws parses from ``random.Random(seed)`` (fast, and the same on every platform)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lists = {id(t): sorted(t) for t in (ANIMATE, THINGS, PLACES)}
        self.dets = {n: [d for d, ((s, p), _) in DETERMINERS.items() if (s, p)[n == "pl"]]
                     for n in ("sg", "pl")}

    def np(self, kind) -> _NP:
        r = self.rng
        number = "pl" if r.random() < 0.35 else "sg"
        adj = r.choice(sorted(ADJECTIVES)) if r.random() < 0.35 else None
        material = r.choice(sorted(MATERIALS)) if kind is THINGS and r.random() < 0.25 else None
        return _NP(r.choice(self.dets[number]), adj, material, r.choice(self.lists[id(kind)]),
                   number)

    def clause(self, subordinate: bool) -> tuple[list[str], list[str]]:
        r = self.rng
        subj = self.np(ANIMATE)
        src, tgt = subj.source(), subj.target()
        if r.random() < 0.55:
            verb = _verb(r.choice(sorted(TRANSITIVE)), TRANSITIVE, subj.number)
            obj = self.np(ANIMATE if r.random() < 0.3 else THINGS)
            rest_src, rest_tgt = obj.source(), obj.target()
        else:
            verb = _verb(r.choice(sorted(INTRANSITIVE)), INTRANSITIVE, subj.number)
            rest_src, rest_tgt = [], []
        if r.random() < 0.4:
            prep = r.choice(sorted(PREPOSITIONS))
            words, kind = PREPOSITIONS[prep]
            pp = self.np(kind)
            rest_src, rest_tgt = rest_src + [prep] + pp.source(), \
                rest_tgt + words.split() + pp.target()
        src += verb[0] + rest_src
        tgt += rest_tgt + verb[1] if subordinate else verb[1] + rest_tgt
        return src, tgt

    def sentence(self) -> tuple[list[str], list[str]]:
        r = self.rng
        u = r.random()
        if u < 0.5:
            src, tgt = self.clause(False)
        elif u < 0.8:
            conj = r.choice(["because", "while", "when"])
            (s1, t1), (s2, t2) = self.clause(False), self.clause(True)
            src, tgt = s1 + [conj] + s2, t1 + [CONJUNCTIONS[conj]] + t2
        else:
            subj = self.np(ANIMATE)
            verb = _verb(r.choice(sorted(SAYING)), SAYING, subj.number)
            s2, t2 = self.clause(True)
            src = subj.source() + verb[0] + ["that"] + s2
            tgt = subj.target() + verb[1] + ["que"] + t2
        return src, contract(tgt)


def contract(words: list[str]) -> list[str]:
    """"de el" -> "del"."""
    out = []
    for w in words:
        if w == "el" and out and out[-1] == "de":
            out[-1] = "del"
        else:
            out.append(w)
    return out


@functools.lru_cache(maxsize=4)
def _synthetic_pairs(seed: int, total: int) -> tuple:
    grammar, seen, pairs = _Grammar(seed), set(), []
    while len(pairs) < total:
        src, tgt = grammar.sentence()
        key = " ".join(src)
        if 4 <= len(src) <= 15 and key not in seen:  # no source sentence in two splits
            seen.add(key)
            pairs.append((tuple(src), tuple(tgt)))
    return tuple(pairs)


def synthetic_translation(seed: int = 0, sizes=(8000, 500, 500), root=None, download=True,
                          progress=True, min_freq: int = 1) -> TranslationDataset:
    """The offline translation task of this module's docstring: ``sizes`` = (train, valid,
    test) distinct pairs generated from ``seed``. ``root``, ``download`` and ``progress`` are
    accepted so every dataset loads alike, and unused (nothing is read or downloaded)."""
    if len(sizes) != 3 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
        raise ValueError(f"sizes must be three positive integers (train, valid, test), "
                         f"got {sizes!r}")
    pairs = _synthetic_pairs(int(seed), int(sum(sizes)))
    a, b = int(sizes[0]), int(sizes[0] + sizes[1])
    split = [[(list(s), list(t)) for s, t in part] for part in (pairs[:a], pairs[a:b], pairs[b:])]
    return TranslationDataset.from_tokens(
        "synthetic-translation", *split, min_freq=min_freq, languages=("src", "tgt"),
        source=f"generated from seed {seed} by minioptim.data.translation (a small grammar, "
               f"English-like -> Spanish-like with verb-final subordinate clauses): no download")
