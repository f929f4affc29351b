"""The talk's training experiments at the smoke preset (files, summary keys, what can be asserted
at that size), and the paper presets' code paths end to end on small real-format stand-ins of
CIFAR-10, Penn Treebank and Multi30k (the real files cannot be downloaded here)."""
from __future__ import annotations

import csv
import hashlib
import json
import os

import numpy as np
import pytest

from minioptim.data import files, images
from minioptim.data import text as text_module
from minioptim.data import translation
from minioptim.experiments import EXPERIMENTS, adamw_depth, sign_sgd, smoothness, transformer
from test_data_cifar import make_tarball, md5
from test_data_translation import make_archive, sha256

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture(autouse=True)
def _once(backend_name):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("whole training runs; the trainer is checked on every backend elsewhere")


def _files(out, name):
    stem = name.replace("-", "_")
    paths = [out / f"{stem}.png", out / f"{stem}.csv", out / f"{stem}_summary.json"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(paths[1], newline="") as f:
        rows = list(csv.DictReader(f))
    return rows, json.loads(paths[2].read_text())


def test_adamw_depth_smoke(tmp_path):
    adamw_depth.reproduce(str(tmp_path), preset="smoke", progress=lambda *a: None)
    rows, summary = _files(tmp_path, "adamw-depth")
    assert set(summary["best_test_error"]) == {"Adam+L2", "AdamW", "AdamProx"}
    for method in summary["best_test_error"].values():
        assert set(method) == {"8", "14"}
        assert all(0 <= cell["mean"] <= 1 for cell in method.values())
    # lambda = 0 is one run shared by the three methods: the same numbers in all three
    at_zero = {r["method"]: r["test_error"] for r in rows if float(r["weight_decay"]) == 0
               and r["depth"] == "8" and float(r["lr"]) == 1e-3}
    assert len(at_zero) == 3 and len(set(at_zero.values())) == 1
    assert "caption" in summary and set(summary["gap_adam_l2_minus_adamw"]) == {"8", "14"}


def test_sign_sgd_smoke(tmp_path):
    sign_sgd.reproduce(str(tmp_path), preset="smoke", progress=lambda *a: None)
    rows, summary = _files(tmp_path, "sign-sgd")
    for model, metric in (("resnet", "test_accuracy"), ("lstm", "test_perplexity")):
        assert set(summary["final"][model]) == set(sign_sgd.OPTIMIZERS)
        assert all(v["metric"] == metric for v in summary["final"][model].values())
    sgd = summary["final"]["resnet"]["sgd"]["settings"]
    assert sgd == {"momentum": 0.9, "dampening": 0.0, "nesterov": True, "weight_decay": 1e-4,
                   "schedule": "constant"}
    assert summary["final"]["lstm"]["generalizedsignsgd"]["settings"]["bias_correction"] is True
    assert {r["optimizer"] for r in rows} == set(sign_sgd.OPTIMIZERS)


def test_smoothness_smoke(tmp_path):
    smoothness.reproduce(str(tmp_path), preset="smoke", progress=lambda *a: None)
    rows, summary = _files(tmp_path, "smoothness")
    corr = summary["corr_log_smoothness_log_gradnorm"]
    assert set(corr) == {"resnet", "lstm"} and corr["resnet"] > 0 and corr["lstm"] > 0
    for fit in summary["fit"].values():
        assert fit["L0"] >= 0 and fit["L1"] >= 0
    # the fitted line lies above every point
    for model, fit in summary["fit"].items():
        for r in rows:
            if r["model"] == model and r["group"] == "all":
                assert float(r["smoothness"]) <= fit["L0"] + fit["L1"] * float(
                    r["grad_norm"]) + 1e-9
    assert {"resnet.layer1", "resnet.linear", "lstm.rnn", "lstm.decoder"} <= \
        set(summary["per_layer"])


def test_transformer_smoke(tmp_path):
    transformer.reproduce(str(tmp_path), preset="smoke", progress=lambda *a: None)
    rows, summary = _files(tmp_path, "transformer")
    assert set(summary["final"]) == set(sign_sgd.OPTIMIZERS)
    assert all(v["metric"] == "valid_perplexity" and v["mean"] > 1
               for v in summary["final"].values())
    adam = summary["final"]["adam"]["settings"]
    assert adam["label_smoothing"] == 0.1 and adam["schedule"] == "inverse-sqrt"
    assert summary["final"]["generalizedsignsgd"]["settings"]["bias_correction"] is False
    # per-layer smoothness on the Transformer's own layers, each encoder and decoder layer apart
    assert {"src_embed", "tgt_embed", "encoder_layers.0", "decoder_layers.0", "generator"} <= \
        set(summary["per_layer"])
    medians = [v["median"] for v in summary["per_layer"].values()]
    assert summary["per_layer_spread"] == pytest.approx(max(medians) / min(medians))
    kinds = {r["kind"] for r in rows}
    assert kinds == {"training", "smoothness"}
    assert {r["group"] for r in rows if r["kind"] == "smoothness"} >= {"all", "generator"}


def test_every_figure_is_listed_with_its_claim_and_times():
    assert list(EXPERIMENTS) == ["scale-free", "adamw-depth", "sign-sgd", "smoothness",
                                 "transformer", "gd-lower-bound"]
    for e in EXPERIMENTS.values():
        assert e.claim and e.times and callable(e.load().reproduce)


# -- the paper presets on stand-ins of the real files ---------------------------------------------
@pytest.fixture
def paper_data(tmp_path, monkeypatch):
    """CIFAR-10 and PTB in their published formats (small), accepted by their own md5s."""
    served = tmp_path / "server" / "cifar-10-python.tar.gz"
    served.parent.mkdir()
    make_tarball(served)
    monkeypatch.setattr(images, "CIFAR10", files.RemoteFile(
        "cifar-10-python.tar.gz", served.as_uri(), md5(served)))
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)] + ["N", "<unk>"]
    folder = tmp_path / "cache" / "ptb"
    folder.mkdir(parents=True)
    specs = []
    for name, lines in (("ptb.train.txt", 300), ("ptb.valid.txt", 40), ("ptb.test.txt", 40)):
        text = "".join(" " + " ".join(rng.choice(words, 12)) + " \n" for _ in range(lines))
        (folder / name).write_text(text)
        specs.append(files.RemoteFile(name, "https://example.invalid/" + name,
                                      hashlib.md5(text.encode()).hexdigest()))
    monkeypatch.setattr(text_module, "PTB", tuple(specs))


def test_the_paper_presets_run_end_to_end_on_stand_ins(tmp_path, paper_data):
    quick = dict(epochs=1, train_batches=2, eval_batches=1)
    adamw_depth.reproduce(str(tmp_path / "a"), preset="paper", workers=0, depths=(20,),
                          lrs=(5e-4,), lambdas=(0.0, 5e-5), progress=lambda *a: None, **quick)
    _, summary = _files(tmp_path / "a", "adamw-depth")
    assert summary["dataset"] == "cifar10" and summary["grid"]["lr"] == [5e-4]
    run = json.loads((tmp_path / "a" / "adamw_depth_runs" / "runs" /
                      "method-AdamW_depth-20_lr-0.0005_lambda-5e-05_seed-0" /
                      "config.json").read_text())["train"]
    assert run["batch_norm"] is False and run["weight_decay_per_step"] is True
    assert run["eval_batch_size"] == 100 and run["dataset"] == "cifar10"

    small_lm = dict(embedding=16, hidden=16, batch_size=4, bptt=10)
    sign_sgd.reproduce(str(tmp_path / "s"), preset="paper", workers=0,
                       progress=lambda *a: None, **quick, **small_lm)
    _, summary = _files(tmp_path / "s", "sign-sgd")
    lstm = summary["final"]["lstm"]
    assert lstm["sgdclipmomentum"]["lr"] == 20.0 and lstm["adam"]["lr"] == 2e-3
    cfg = json.loads(next((tmp_path / "s" / "sign_sgd_runs" / "runs").glob(
        "model-lstm_optimizer-adam*")).joinpath("config.json").read_text())["train"]
    assert cfg["model"] == "awd-lstm" and cfg["dataset"] == "ptb" and cfg["variable_bptt"]
    assert cfg["scale_lr_with_length"] and cfg["weight_drop"] == 0.5 and cfg["ar"] == 2.0

    smoothness.reproduce(str(tmp_path / "m"), preset="paper", workers=0,
                         progress=lambda *a: None, **quick)
    _, summary = _files(tmp_path / "m", "smoothness")
    assert summary["settings"]["lstm"]["lr"] == 30.0 and \
        summary["settings"]["lstm"]["clip_grad_norm"] == 0.25


def test_the_transformer_paper_preset_runs_on_a_multi30k_stand_in(tmp_path, monkeypatch):
    """Multi30k's three archives in their published layout (random sentences), accepted by their
    own sha256s and 'downloaded' from file:// URLs; the paper's model settings, tiny sizes."""
    rng = np.random.default_rng(0)
    de, en = [f"wort{i}" for i in range(30)], [f"word{i}" for i in range(30)]

    def lines(n, words):
        return [" ".join(rng.choice(words, rng.integers(3, 9))) + " ." for _ in range(n)]
    specs = []
    for name, (a, b), n in (("training.tar.gz", ("train.de", "train.en"), 120),
                            ("validation.tar.gz", ("val.de", "val.en"), 20),
                            ("mmt16_task1_test.tar.gz", ("test.de", "test.en"), 20)):
        path = make_archive(tmp_path / name, {a: lines(n, de), b: lines(n, en)})
        specs.append(files.RemoteFile(name, path.as_uri(), sha256=sha256(path)))
    monkeypatch.setattr(translation, "MULTI30K", tuple(specs))
    tiny = dict(epochs=1, train_batches=2, eval_batches=1, embedding=16, hidden=32, heads=2,
                layers=1, batch_size=8, warmup=1)
    transformer.reproduce(str(tmp_path / "t"), preset="paper", workers=0,
                          progress=lambda *a: None, **tiny)
    _, summary = _files(tmp_path / "t", "transformer")
    assert summary["settings"]["dataset"] == "multi30k" and summary["probe"]["every"] == 50
    assert set(summary["final"]) == set(sign_sgd.OPTIMIZERS)
    cfg = json.loads(next((tmp_path / "t" / "transformer_runs" / "runs").glob(
        "model-transformer_optimizer-adam*")).joinpath("config.json").read_text())["train"]
    assert cfg["dataset"] == "multi30k" and cfg["label_smoothing"] == 0.1
    assert cfg["schedule"] == "inverse-sqrt" and cfg["dropout"] == 0.1
    paper = transformer.PRESETS["paper"]["models"]["transformer"]
    assert (paper["layers"], paper["embedding"], paper["heads"], paper["hidden"],
            paper["warmup"]) == (6, 512, 8, 2048, 128_000)
