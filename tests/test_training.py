"""The trainer: what it writes, exact resume (also in mid-epoch, with augmentation and dropout),
faults found before or during a run, callbacks that measure without changing the run, and the
loop checked against a hand-written one. Runs on every backend of the suite."""
from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from autodiff import nn
from autodiff.nn import functional as F
from minioptim import data
from minioptim.training import Callback, Smoothness, StepStatistics, TrainConfig, Trainer, train
from minioptim.training import builders, checkpoint

IMAGE = dict(model="resnet8", dataset="digits", optimizer="adamw", lr=2e-3, weight_decay=0.01,
             epochs=2, batch_size=32, train_batches=5, eval_batches=2, log_steps=True)
TEXT = dict(model="lstm", dataset="pydoc", optimizer="adam", lr=3e-3, epochs=2, batch_size=8,
            embedding=16, hidden=16, layers=2, dropout=0.3, bptt=12, variable_bptt=True,
            train_batches=6, eval_batches=3, clip_grad_norm=1.0, schedule="cosine", warmup=3,
            log_steps=True)

AWD = dict(TEXT, model="awd-lstm", layers=2, tie_weights=True, weight_drop=0.3)
TRANSFORMER = dict(TEXT, model="transformer", embedding=16, hidden=32, heads=2, dropout=0.1)
TRANSLATION = dict(model="transformer", dataset="synthetic-translation", optimizer="adam",
                   lr=3e-3, epochs=2, batch_size=16, embedding=16, hidden=32, heads=2, layers=1,
                   dropout=0.1, label_smoothing=0.1, train_batches=6, eval_batches=3,
                   eval_split="valid", log_steps=True)


class StopAt(Callback):
    """Asks the trainer to stop once ``step`` steps are done (as Ctrl-C does)."""

    def __init__(self, step):
        self.step = step

    def after_step(self, trainer, batch, record):
        if record["step"] + 1 == self.step:
            trainer.request_stop("test")


def _run(out, settings, callbacks=(), resume=False, **changes):
    config = TrainConfig(**{**settings, **changes})
    return Trainer(config, out, callbacks=callbacks, progress=False, resume=resume).fit()


def _weights(result):
    return {k: ad.backend.to_numpy(v).copy() for k, v in result.model.state_dict().items()}


def _without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# -- what a run writes ---------------------------------------------------------------------------
def test_a_run_writes_config_metrics_curves_and_a_checkpoint_without_pickle(tmp_path):
    result = _run(tmp_path, IMAGE)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "config.json", "curves.png",
                                            "metrics.csv", "steps.csv"]
    rows = _read(tmp_path / "metrics.csv")
    assert list(rows[0]) == ["epoch", "train_loss", "test_loss", "test_accuracy", "lr",
                             "grad_norm", "seconds"]
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r, kept in zip(rows, result.history):          # every digit, as the run computed it
        assert float(r["train_loss"]) == kept["train_loss"]
    steps = _read(tmp_path / "steps.csv")
    assert len(steps) == 10 and [int(s["step"]) for s in steps] == list(range(10))
    described = json.loads((tmp_path / "config.json").read_text())
    assert described["train"]["lr"] == 2e-3 and described["versions"]["backend"] == \
        ad.get_backend()
    assert described["optimizer_hyperparameters"]["betas"] == [0.9, 0.999]  # the defaults
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as f:   # no pickle inside
        assert "meta" in f.files and any(k.startswith("model/") for k in f.files)


def test_train_takes_objects_and_resumes_them(tmp_path):
    def objects():
        model = mo.models.resnet(8, in_channels=1)
        return model, mo.SGD(model.parameters(), lr=0.05, momentum=0.9)
    settings = dict(train_batches=3, eval_batches=1, out=tmp_path, progress=False)
    model, opt = objects()
    first = train(model, "digits", opt, epochs=1, **settings)
    assert first.model is model and first.optimizer is opt
    described = json.loads((tmp_path / "config.json").read_text())
    assert described["train"]["model"] == "<ResNet>" and "SGD" in described["objects"]["optimizer"]
    model2, opt2 = objects()
    second = train(model2, "digits", opt2, epochs=2, resume=True, **settings)
    assert [r["epoch"] for r in second.history] == [1, 2]
    assert second.history[0] == first.history[0]


def test_the_loop_is_the_hand_written_loop(tmp_path):
    """Same seed, same batches: the trainer's weights equal a plain loop's."""
    settings = dict(IMAGE, epochs=1, train_batches=4, log_steps=False)
    result = _run(tmp_path, settings)
    ad.manual_seed(settings["seed"] if "seed" in settings else 0)
    ds = data.load("digits")
    model = mo.models.resnet(8, num_classes=10, in_channels=1)
    opt = mo.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    train_loader, _ = ds.loaders(batch_size=32, seed=0)
    for i, (x, y) in enumerate(train_loader):
        if i == 4:
            break
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(ad.backend.to_numpy(v), _weights(result)[k], err_msg=k)


def test_the_evaluation_is_computed_as_by_hand(tmp_path):
    result = _run(tmp_path, dict(IMAGE, epochs=1, eval_batches=None))
    model = result.model.eval()
    test = data.load("digits").loaders(batch_size=32)[1]
    total, correct, n = 0.0, 0, 0
    with ad.no_grad():
        for x, y in test:
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.numpy().argmax(1) == y.numpy()).sum())
            n += len(y.numpy())
    assert n == 297
    assert result.final["test_loss"] == pytest.approx(total / n, rel=1e-6)
    assert result.final["test_accuracy"] == correct / n


def test_the_awd_lstm_trains_with_its_regularizers_in_the_loss(tmp_path):
    """Its training loss is cross-entropy + AR + TAR (the defaults 2 and 1); its evaluation is
    cross-entropy alone."""
    with_reg = _run(tmp_path / "a", dict(AWD, epochs=1, log_steps=True))
    _run(tmp_path / "b", dict(AWD, epochs=1, ar=0.0, tar=0.0, log_steps=True))
    first = [float(_read(tmp_path / d / "steps.csv")[0]["loss"]) for d in ("a", "b")]
    assert first[0] > first[1]                         # same weights, same batch, same masks
    model = with_reg.model
    assert model.weight_drop == 0.3 and model.dropout_hidden == 0.25
    assert with_reg.final["test_perplexity"] == pytest.approx(math.exp(
        with_reg.final["test_loss"]))


def test_the_transformer_language_model_trains_from_the_trainer(tmp_path):
    result = _run(tmp_path, dict(TRANSFORMER, epochs=2, variable_bptt=False, schedule="constant",
                                 warmup=0, train_batches=10))
    model = result.model
    assert type(model).__name__ == "TransformerLanguageModel" and model.d_model == 16
    assert model.layers[0].self_attn.num_heads == 2
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    with pytest.raises(ValueError, match="d_model, 16.*divisible by heads \\(--heads\\) \\(3\\)"):
        _run(tmp_path / "bad", dict(TRANSFORMER, heads=3))


def test_the_transformer_translates_from_the_trainer(tmp_path):
    """On translation pairs ``--model transformer`` is the encoder-decoder; the loss counts real
    target tokens only (padding ignored), and its evaluation is per-token cross-entropy."""
    from minioptim.data.translation import synthetic_translation
    result = _run(tmp_path, dict(TRANSLATION, epochs=3, train_batches=20, label_smoothing=0.0))
    model = result.model
    assert type(model).__name__ == "Seq2SeqTransformer" and model.pad_index == 0
    assert result.history[-1]["valid_loss"] < result.history[0]["valid_loss"]
    row = result.final
    assert row["valid_perplexity"] == pytest.approx(math.exp(row["valid_loss"]))
    # the evaluation, recomputed here: sum of token losses over non-padding targets
    data = synthetic_translation()
    total, count = 0.0, 0
    model.eval()
    with ad.no_grad():
        for src, tgt in list(data.batches("valid", 16, shuffle=False))[:3]:
            logits = model(ad.Tensor(src), ad.Tensor(tgt[:-1]))
            y = tgt[1:].reshape(-1)
            keep = y != data.pad_id
            logp = ad.backend.to_numpy(logits.reshape(-1, logits.shape[-1]).log_softmax(1).data)
            total -= logp[np.arange(len(y)), y][keep].sum()
            count += int(keep.sum())
    assert row["valid_loss"] == pytest.approx(total / count, rel=1e-4)


@pytest.mark.parametrize("settings", [IMAGE, TRANSFORMER], ids=["image", "text"])
def test_label_smoothing_is_the_training_loss_and_not_the_evaluation_loss(tmp_path, settings):
    """At the first step the trainer's loss is the smoothed cross-entropy of the batch, computed
    here from the same weights; the evaluation is plain cross-entropy (perplexity = exp)."""
    seen = []

    class Check(Callback):
        def after_backward(self, trainer, batch):
            x, y = batch
            with ad.no_grad():
                logits = trainer.model(x, trainer.task.initial_carry(trainer.model))[0] \
                    if settings is TRANSFORMER else trainer.model(x)
                logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
                seen.append((float(trainer.last_loss),
                             F.cross_entropy(logits, y, label_smoothing=0.2).item(),
                             F.cross_entropy(logits, y).item()))

    result = _run(tmp_path, dict(settings, epochs=1, train_batches=1, label_smoothing=0.2,
                                 schedule="constant", warmup=0, variable_bptt=False,
                                 dropout=0.0 if settings is TRANSFORMER else None),
                  callbacks=[Check()])
    loss, smoothed, plain = seen[0]
    assert loss == pytest.approx(smoothed, rel=1e-5) and abs(smoothed - plain) > 1e-3
    if settings is TRANSFORMER:
        assert result.final["test_perplexity"] == pytest.approx(math.exp(
            result.final["test_loss"]))
    with pytest.raises(ValueError, match="label_smoothing .* must be a finite number >= 0"):
        TrainConfig(**dict(settings, label_smoothing=1.5))


def test_a_language_model_reports_perplexity_and_can_evaluate_on_valid(tmp_path):
    result = _run(tmp_path, dict(TEXT, eval_split="valid", epochs=1))
    row = result.final
    assert row["valid_perplexity"] == pytest.approx(math.exp(row["valid_loss"]))
    assert list(_read(tmp_path / "metrics.csv")[0])[2:4] == ["valid_loss", "valid_perplexity"]


# -- exact resume --------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, stop", [(IMAGE, 3), (IMAGE, 5), (TEXT, 4), (TEXT, 8),
                                             (AWD, 4), (TRANSFORMER, 4), (TRANSLATION, 8)],
                         ids=["image-mid-epoch", "image-epoch-end", "text-mid-epoch",
                              "text-second-epoch", "awd-lstm-mid-epoch",
                              "transformer-mid-epoch", "translation-second-epoch"])
def test_a_stopped_and_resumed_run_ends_bit_identical(tmp_path, settings, stop):
    straight = _run(tmp_path / "straight", settings)
    first = _run(tmp_path / "resumed", settings, callbacks=[StopAt(stop)])
    assert first.interrupted
    resumed = _run(tmp_path / "resumed", settings, resume=True)
    assert not resumed.interrupted
    assert _without_seconds(resumed.history) == _without_seconds(straight.history)
    a, b = _weights(straight), _weights(resumed)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    sa, sb = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for i in sa["state"]:
        for key, v in sa["state"][i].items():
            np.testing.assert_array_equal(ad.backend.to_numpy(v) if ad.backend.is_array(v)
                                          else v, ad.backend.to_numpy(sb["state"][i][key])
                                          if ad.backend.is_array(v) else sb["state"][i][key])
    assert _read(tmp_path / "straight" / "steps.csv") == _read(tmp_path / "resumed" /
                                                               "steps.csv")


def test_a_finished_run_extended_equals_a_longer_run(tmp_path):
    settings = dict(IMAGE, log_steps=False)
    longer = _run(tmp_path / "long", dict(settings, epochs=3))
    _run(tmp_path / "ext", dict(settings, epochs=1))
    extended = _run(tmp_path / "ext", dict(settings, epochs=3), resume=True)
    assert _without_seconds(extended.history) == _without_seconds(longer.history)


def test_a_resume_with_other_settings_is_refused(tmp_path):
    _run(tmp_path, dict(IMAGE, epochs=1))
    with pytest.raises(ValueError, match="other settings.*lr=0.002"):
        _run(tmp_path, dict(IMAGE, epochs=2, lr=0.1), resume=True)


def test_results_do_not_depend_on_the_number_of_threads(tmp_path):
    before = ad.num_threads()
    try:
        ad.set_num_threads(1)
        one = _run(tmp_path / "one", dict(IMAGE, epochs=1))
        ad.set_num_threads(2)
        two = _run(tmp_path / "two", dict(IMAGE, epochs=1))
    finally:
        ad.set_num_threads(before)
    assert _without_seconds(one.history) == _without_seconds(two.history)
    for k, v in _weights(one).items():
        np.testing.assert_array_equal(v, _weights(two)[k], err_msg=k)


# -- faults --------------------------------------------------------------------------------------
def test_a_non_finite_loss_stops_with_the_step_and_keeps_the_metrics(tmp_path):
    settings = dict(IMAGE, optimizer="sgd", lr=1e6, weight_decay=None, epochs=3, batch_norm=False)
    with pytest.raises(mo.NonFiniteLossError, match=r"at step \d+.*epoch \d, batch \d+ with lr "
                                                    r"1e\+06") as info:
        _run(tmp_path, settings)
    assert info.value.step >= 1
    rows = _read(tmp_path / "metrics.csv") if (tmp_path / "metrics.csv").exists() else []
    assert len(rows) == (info.value.step // 5)           # the epochs finished before it


def test_a_disk_without_room_is_found_before_the_first_step(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 9, 10 ** 9, 4096))
    seen = []

    class Count(Callback):
        def before_step(self, trainer, batch):
            seen.append(1)
    with pytest.raises(OSError, match="MiB free on that disk"):
        _run(tmp_path, IMAGE, callbacks=[Count()])
    assert seen == []


def test_an_output_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        _run(tmp_path / "file" / "run", IMAGE)


@pytest.mark.parametrize("changes, words", [
    (dict(optimizer="adam", momentum=0.9), "adam takes no momentum"),
    (dict(optimizer="sgd", betas=(0.9, 0.99)), "sgd takes no betas"),
    (dict(optimizer="nadam"), "unknown optimizer 'nadam'"),
    (dict(optimizer="preconditionedgd"), "lessons' quadratics"),
    (dict(model="resnet10"), "depth 6n \\+ 2"),
    (dict(model="lstm"), "trains on text data"),
    (dict(model="transformer"), "trains on text or translation data.*synthetic-translation"),
    (dict(model="vit"), "unknown model 'vit'.*lstm, awd-lstm or transformer"),
    (dict(weight_drop=0.5), "belong to the awd-lstm model, not resnet8"),
    (dict(dropout=0.5), "dropout \\(--dropout\\) belongs to the language models"),
    (dict(schedule="cosine", warmup=100), "warmup .* is 100 steps but the run has 10"),
])
def test_settings_that_do_not_fit_together_are_named(tmp_path, changes, words):
    with pytest.raises(ValueError, match=words):
        _run(tmp_path, dict(IMAGE, **changes))


@pytest.mark.parametrize("changes, words", [
    (dict(lr=-1.0), "lr \\(--lr\\) must be a finite number > 0"),
    (dict(lr=float("inf")), "lr \\(--lr\\) must be a finite"),
    (dict(epochs=0), "epochs \\(--epochs\\) must be a whole number >= 1"),
    (dict(betas=(0.9, 1.0)), "betas \\(--betas\\) must be two numbers in \\[0, 1\\)"),
    (dict(dropout=1.0), "dropout"),
    (dict(schedule="step"), "schedule \\(--schedule\\) must be one of"),
    (dict(batch_norm="yes"), "True or False"),
])
def test_out_of_range_settings_are_named(changes, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**{**IMAGE, **changes})


def test_help_lists_agree_with_the_registries():
    from minioptim.training import config
    assert config.OPTIMIZER_NAMES == tuple(builders.OPTIMIZERS)
    assert set(config.DATASET_NAMES) == set(data.names())


def test_a_weights_file_is_not_taken_for_a_training_checkpoint(tmp_path):
    model = mo.models.resnet(8, in_channels=1)
    nn.save(model, tmp_path / checkpoint.FILENAME)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        checkpoint.load(str(tmp_path / checkpoint.FILENAME), model)


def test_a_checkpoint_array_of_a_shape_no_parameter_has_is_refused_before_reading(tmp_path):
    model = nn.Linear(3, 2)
    opt = mo.Adam(model.parameters())
    meta = {"optimizer": opt.state_dict(), "forged": np.zeros((1000, 7))}
    checkpoint.save(tmp_path / "c.npz", model, meta)
    with pytest.raises(ValueError, match=r"shape \(1000, 7\), the shape of no parameter"):
        checkpoint.load(str(tmp_path / "c.npz"), model)


def test_the_checkpoint_tree_round_trips():
    arrays = {}
    tree = {0: {"m": np.arange(3.0), "t": 4}, "betas": (0.9, 0.99), "x": [1, None, "s"]}
    encoded = json.loads(json.dumps(checkpoint.encode(tree, arrays)))
    back = checkpoint.decode(encoded, arrays)
    assert back[0]["t"] == 4 and back["betas"] == (0.9, 0.99) and back["x"] == [1, None, "s"]
    np.testing.assert_array_equal(back[0]["m"], np.arange(3.0))
    with pytest.raises(TypeError, match="a set cannot be written"):
        checkpoint.encode({"s": {1, 2}}, {})


# -- callbacks -----------------------------------------------------------------------------------
def test_measuring_callbacks_do_not_change_the_run(tmp_path):
    """The smoothness probe re-runs forward and backward on each step's batch (batch norm
    statistics, dropout draws) and puts everything back: the run is bit-identical."""
    for settings in (dict(IMAGE, epochs=1), dict(TEXT, epochs=1)):
        plain = _run(tmp_path / "plain", settings)
        probe, steps = Smoothness(every=2), StepStatistics()
        measured = _run(tmp_path / "measured", settings, callbacks=[probe, steps])
        assert _without_seconds(measured.history) == _without_seconds(plain.history)
        for k, v in _weights(plain).items():
            np.testing.assert_array_equal(v, _weights(measured)[k], err_msg=k)
        lrs = [float(r["lr"]) for r in _read(tmp_path / "plain" / "steps.csv")]
        assert len(steps.recorder.records) == len(lrs)
        assert len(probe.probe.records) == math.ceil(len(lrs) / 2)
        g, L = probe.probe.pairs("all")                  # a step of lr 0 (warmup) has no L_t
        assert len(L) == sum(lr > 0 for lr in lrs[::2]) and (L > 0).all() and (g > 0).all()


def test_the_smoothness_callback_measures_what_the_talk_defines():
    """On least squares, F(x) = ||Xw - t||^2 / 2n, the local smoothness along any segment lies
    between the smallest and the largest eigenvalue of the Hessian X^T X / n; a task of one's
    own plugs into the trainer."""
    from minioptim.training import tasks
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(64, 5)) * np.array([1, 2, 3, 4, 5])).astype(np.float32)
    t = rng.normal(size=64).astype(np.float32)
    eig = np.linalg.eigvalsh(X.astype(np.float64).T @ X / 64)

    class LeastSquares(tasks.ImageTask):
        metric, higher_is_better = "half_mse", False

        def loss(self, model, batch, carry):
            x, target = batch
            return ((model(x).reshape(-1) - target) ** 2).mean() / 2, None, int(x.shape[0])

        def evaluate(self, model):
            with ad.no_grad():
                value = sum(self.loss(model, b, None)[0].item() for b in
                            self.eval_loader.batches(0))
            return {"loss": value, "half_mse": value}

    loader = data.DataLoader((X, t), batch_size=64)
    probe = Smoothness()
    config = TrainConfig(model="<Linear>", dataset="<least squares>", optimizer="sgd", lr=0.01,
                         epochs=3)
    result = Trainer(config, None, model=nn.Linear(5, 1, bias=False),
                     task=LeastSquares(loader, loader), callbacks=[probe],
                     progress=False).fit()
    assert result.metric == "test_half_mse" and result.best["epoch"] == 3
    _, L = probe.probe.pairs("all")
    assert len(L) == 3
    assert ((L >= eig[0] * (1 - 1e-3)) & (L <= eig[-1] * (1 + 1e-3))).all()


@pytest.mark.parametrize("name", ["minioptim.training", "minioptim.training.trainer"])
def test_the_docstring_examples_run(name, backend_name):
    import doctest
    import importlib
    if backend_name != "numpy":
        pytest.skip("checked once")
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_the_papers_weight_decay_per_step_is_lambda_over_the_initial_lr():
    """With weight_decay_per_step, a decoupled step with zero gradient shrinks w by exactly
    1 - lambda (constant lr), as the AdamW paper's code does; l2 mode refuses the option."""
    config = TrainConfig(optimizer="adamw", lr=5e-4, weight_decay=5e-5, weight_decay_per_step=True)
    assert builders.optimizer_settings(config)["weight_decay"] == pytest.approx(5e-5 / 5e-4)
    opt = builders.build_optimizer(config, [mo.Point([2.0])])
    p = opt.param_groups[0]["params"][0]
    p.grad = p.data * 0
    opt.step()
    assert ad.backend.to_numpy(p.data)[0] == pytest.approx(2.0 * (1 - 5e-5), rel=1e-12)
    with pytest.raises(ValueError, match="l2 mode"):
        builders.optimizer_settings(TrainConfig(optimizer="adam", lr=1e-3, weight_decay=1e-4,
                                                weight_decay_per_step=True))


def test_probing_smoothness_writes_every_kth_step_and_resumes_exactly(tmp_path):
    settings = dict(IMAGE, probe_smoothness=2)
    straight = _run(tmp_path / "straight", settings)
    rows = _read(tmp_path / "straight" / "smoothness.csv")
    assert sorted({int(r["step"]) for r in rows}) == [0, 2, 4, 6, 8]
    assert {r["group"] for r in rows} == {"all", "conv1", "bn1", "layer1", "layer2", "layer3",
                                          "linear"}
    assert all(float(r["smoothness"]) > 0 for r in rows)
    _run(tmp_path / "resumed", settings, callbacks=[StopAt(3)])
    resumed = _run(tmp_path / "resumed", settings, resume=True)
    assert _without_seconds(resumed.history) == _without_seconds(straight.history)
    assert _read(tmp_path / "resumed" / "smoothness.csv") == rows


def test_the_lr_follows_the_segment_length_when_asked(tmp_path):
    settings = dict(TEXT, schedule="constant", warmup=0, scale_lr_with_length=True, epochs=1)
    _run(tmp_path, settings)
    from minioptim.data import BPTTIterator
    steps = _read(tmp_path / "steps.csv")
    corpus = data.load("pydoc")
    expected = BPTTIterator(data.batchify(corpus.train, 8), 12, variable_length=True,
                            seed=0).lengths(0)[:len(steps)]
    assert len(set(expected)) > 1
    for row, length in zip(steps, expected):
        assert float(row["lr"]) == pytest.approx(3e-3 * length / 12, rel=1e-12)


def test_the_smoothness_probe_sees_the_gradient_before_clipping(tmp_path):
    """L_t compares grad F(x_mid) with grad F(x_t), both as backward gives them: with clipping
    on, the probe's gradient norm is the unclipped one (steps.csv's, which is also before
    clipping), not the clipping threshold."""
    _run(tmp_path, dict(TEXT, epochs=1, clip_grad_norm=1e-3, probe_smoothness=1))
    steps = {int(r["step"]): float(r["grad_norm"]) for r in _read(tmp_path / "steps.csv")}
    probed = {int(r["step"]): float(r["grad_norm"]) for r in
              _read(tmp_path / "smoothness.csv") if r["group"] == "all"}
    assert len(probed) == len(steps) and all(v > 1e-2 for v in probed.values())
    for step, norm in probed.items():
        assert norm == pytest.approx(steps[step], rel=1e-6)
