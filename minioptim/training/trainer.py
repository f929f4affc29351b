"""``Trainer``: the loop every lesson, script, sweep and ``minioptim train`` runs.

One step is the loop a student writes by hand, with the bookkeeping around it:

    loss = task.loss(model, batch)           forward (the LSTM's state carried, detached)
    loss.backward()                          gradients
    norm = clip_grad_norm(...) or the norm   the global gradient norm, clipped if asked
    optimizer.step(); scheduler.step()       the update, then the next step's lr

After each epoch the model is evaluated, a row goes to ``metrics.csv``, the curves are drawn and
``checkpoint.npz`` is written (model, optimizer, schedule, random state, position, metrics), so
``resume`` continues exactly where the run stopped: the same batches, augmentations, dropout
masks and updates as a run made in one go. Ctrl-C (or SIGTERM) stops after the current step and
writes a checkpoint in mid-epoch; a loss or gradient that is not finite stops the run with
``NonFiniteLossError`` (metrics so far are kept). The output folder is checked (writable, room
for checkpoints) before the first step.
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import autodiff as ad

from ..clipping import clip_grad_norm, global_norm
from ..errors import NonFiniteLossError
from ..schedules import LRScheduler
from . import builders, checkpoint, records
from .config import TrainConfig
from .tasks import build_task

PLOT_EVERY_S = 60.0


@dataclass
class TrainResult:
    """What ``fit`` returns: the metrics rows, the last and the best, and where it all is."""

    out: str | None
    config: TrainConfig
    history: list = field(default_factory=list)      # metrics.csv's rows, as dicts
    interrupted: bool = False                         # stopped by Ctrl-C / SIGTERM / request
    model: object = None
    optimizer: object = None
    metric: str = ""                                  # e.g. "test_accuracy"
    higher_is_better: bool = True

    @property
    def final(self) -> dict:
        return dict(self.history[-1]) if self.history else {}

    @property
    def best(self) -> dict:
        """The row with the best evaluation metric (highest accuracy, lowest perplexity)."""
        if not self.history:
            return {}
        pick = max if self.higher_is_better else min
        return dict(pick(self.history, key=lambda r: r[self.metric]))


class Trainer:
    """Train ``model`` with ``optimizer`` on ``data`` as ``config`` says (see ``train``).

    ``model``, ``optimizer``, ``data`` and ``schedule`` are built from the config's names when
    not given; given objects are used as they are (then ``config.json`` records their repr, and
    a resume needs the same objects passed again). ``task`` replaces the data and the loss with
    your own (an object like ``tasks.ImageTask``: ``steps_in_epoch``, ``batches``,
    ``initial_carry``, ``loss``, ``evaluate``, ``metric``, ``higher_is_better``)."""

    def __init__(self, config: TrainConfig, out: str | None = None, *, model=None,
                 optimizer=None, data=None, schedule=None, task=None, callbacks=(),
                 progress: bool = True, resume: bool = False, printer=print):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config, self.callbacks, self.progress = config, list(callbacks), progress
        self.resume, self.print = resume, printer
        self.out = None if out is None else os.path.abspath(os.path.expanduser(os.fspath(out)))
        self._given = {"model": model, "optimizer": optimizer, "data": data,
                       "schedule": schedule, "task": task}
        self._stop_reason = None
        self.last_loss = None
        self._plotted = time.perf_counter()

    # -- set-up --------------------------------------------------------------------------------
    def _build(self) -> None:
        cfg, given = self.config, self._given
        if cfg.backend is not None and cfg.backend != ad.get_backend():
            ad.set_backend(cfg.backend)
        ad.manual_seed(cfg.seed)                   # the initial weights come from the seed
        data = given["data"]
        if given["task"] is not None:
            data = None
        elif data is None or isinstance(data, str):
            cfg = self.config = cfg.replace(dataset=data) if isinstance(data, str) else cfg
            data = builders.load_data(cfg, progress=self.progress,
                                      check_model=given["model"] is None)
        elif getattr(data, "name", None):
            cfg = self.config = cfg.replace(dataset=data.name)
        self.model = given["model"] if given["model"] is not None else \
            builders.build_model(cfg, data)
        self.task = given["task"] if given["task"] is not None else \
            build_task(cfg, data, self.model)
        self.optimizer = given["optimizer"] if given["optimizer"] is not None else \
            builders.build_optimizer(cfg, self.model.parameters())
        self.steps_per_epoch = [self.task.steps_in_epoch(e) for e in range(cfg.epochs)]
        schedule = given["schedule"]
        if schedule is None:
            lr = self.optimizer.param_groups[0]["lr"]
            schedule = builders.build_schedule(cfg, lr, sum(self.steps_per_epoch))
        self.scheduler = LRScheduler(self.optimizer, schedule)
        self.columns = records.metric_columns(self.task.metric, self._split())

    def _split(self) -> str:
        return self.config.eval_split if self.task.kind in ("text", "translation") else "test"

    def _describe(self) -> dict:
        cfg = self.config
        described = {"train": cfg.to_dict(), "versions": records.versions()}
        objects = {k: repr(v) for k, v in self._given.items()
                   if v is not None and not isinstance(v, str)}
        if objects:
            described["objects"] = objects          # the run cannot be rebuilt from names alone
        else:
            described["optimizer_hyperparameters"] = builders.optimizer_defaults(cfg)
        described["steps_per_epoch"] = self.steps_per_epoch
        return described

    def _check_folder(self) -> None:
        """Writable, and room for two checkpoints (the new one is written beside the old)."""
        os.makedirs(self.out, exist_ok=True)
        probe = os.path.join(self.out, f".write-check-{os.getpid()}")
        with open(probe, "wb") as f:
            f.write(b"x")
        os.remove(probe)
        model_bytes = sum(int(a.nbytes) for a in self.model.state_dict().values())
        need = 2 * 4 * model_bytes + (16 << 20)   # weights + up to 3 state arrays each, twice
        free = shutil.disk_usage(self.out).free
        if free < need:
            raise OSError(f"{self.out}: only {free / 2 ** 20:.1f} MiB free on that disk; a run "
                          f"of this model needs about {need / 2 ** 20:.1f} MiB for its "
                          f"checkpoints. Free some space or give another output folder")

    # -- the run -------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        self._build()
        cfg = self.config
        self.history, self.epoch, self.batch, self.step = [], 0, 0, 0
        self._sums = _EpochSums()
        carry_arrays = {}
        if self.out is not None:
            self._check_folder()
            if self.resume:
                carry_arrays = self._load_checkpoint()
            records.write_json(os.path.join(self.out, records.CONFIG), self._describe())
        elif self.resume:
            raise ValueError("resume needs the run's output folder (out=...)")
        self.steps_log = records.StepLog(os.path.join(self.out, records.STEPS), self.step) \
            if cfg.log_steps and self.out is not None else None
        if cfg.probe_smoothness:
            self.callbacks.append(_SmoothnessLog(cfg.probe_smoothness, self.out, self.step))
        result = TrainResult(self.out, cfg, self.history, model=self.model,
                             optimizer=self.optimizer,
                             metric=f"{self._split()}_{self.task.metric}",
                             higher_is_better=self.task.higher_is_better)
        for cb in self.callbacks:
            _call(cb, "on_train_begin", self)
        try:
            with self._stop_on_signals():
                while self.epoch < cfg.epochs:
                    carry = (self.task.carry_from(carry_arrays, self.model) if carry_arrays
                             else self.task.initial_carry(self.model))
                    carry_arrays = {}
                    finished = self._train_epoch(carry)
                    if not finished:
                        result.interrupted = True
                        break
                    self._end_epoch()
                    if self._stop_reason is not None and self.epoch < cfg.epochs:
                        result.interrupted = True
                        break
        finally:
            if self.steps_log is not None:
                self.steps_log.close()
        if result.interrupted and self.progress:
            where = f" to {self.out}; continue with --resume {self.out}" if self.out else ""
            self.print(f"stopped ({self._stop_reason}) at epoch {self.epoch + 1}, batch "
                       f"{self.batch}; checkpoint written{where}")
        for cb in self.callbacks:
            _call(cb, "on_train_end", self, result)
        return result

    def _train_epoch(self, carry) -> bool:
        """Train from (self.epoch, self.batch) to the end of the epoch; False when stopped."""
        cfg, model, task = self.config, self.model, self.task
        total = self.steps_per_epoch[self.epoch]
        bar = self._bar(total)
        model.train()
        started = time.perf_counter()
        try:
            for batch in task.batches(self.epoch, self.batch):
                self.optimizer.zero_grad()
                if self.callbacks:                   # gradient_again draws the same masks
                    self._rng_at_forward = ad.get_rng_state()
                loss, next_carry, count = task.loss(model, batch, carry)
                value = loss.item()
                if not math.isfinite(value):
                    self._non_finite("loss", value)
                loss.backward()
                self.last_loss, self._carry_in = value, carry
                for cb in self.callbacks:                # the gradient before any clipping
                    _call(cb, "after_backward", self, batch)
                if cfg.clip_grad_norm is not None:
                    norm = clip_grad_norm(self._params(), cfg.clip_grad_norm)
                else:
                    norm = global_norm(p.grad for p in self._params() if p.grad is not None)
                if not math.isfinite(norm):
                    self._non_finite("gradient norm", norm)
                scaled = self._scale_for_length(batch)
                lr = self.optimizer.param_groups[0]["lr"]
                for cb in self.callbacks:
                    _call(cb, "before_step", self, batch)
                self.optimizer.step()
                for group, saved in zip(self.optimizer.param_groups, scaled):
                    group.update(saved)
                record = {"step": self.step, "epoch": self.epoch + 1, "batch": self.batch,
                          "loss": value, "lr": lr, "grad_norm": norm}
                for cb in self.callbacks:
                    _call(cb, "after_step", self, batch, record)
                self.scheduler.step()
                carry = next_carry
                self._sums.add(value, count, norm, lr)
                self.step += 1
                self.batch += 1
                if self.steps_log is not None:
                    self.steps_log.write(record)
                if bar is not None:
                    bar.update(1)
                    if bar.n == total or time.perf_counter() - self._shown > 0.5:
                        bar.set_postfix(loss=f"{self._sums.mean_loss():.4f}", lr=f"{lr:.3g}",
                                        refresh=False)
                        self._shown = time.perf_counter()
                if self._stop_reason is not None and self.batch < total:
                    self._sums.seconds += time.perf_counter() - started
                    self._save_checkpoint(task.carry_arrays(carry))
                    return False
        finally:
            if bar is not None:
                bar.close()
            if self.steps_log is not None:
                self.steps_log.flush()
        self._sums.seconds += time.perf_counter() - started
        return True

    def _end_epoch(self) -> None:
        started = time.perf_counter()
        self.model.eval()
        evaluation = self.task.evaluate(self.model)
        self.model.train()
        split, metric = self._split(), self.task.metric
        self._sums.seconds += time.perf_counter() - started
        row = {"epoch": self.epoch + 1, "train_loss": self._sums.mean_loss(),
               f"{split}_loss": evaluation["loss"], f"{split}_{metric}": evaluation[metric],
               "lr": self._sums.last_lr, "grad_norm": self._sums.mean_grad_norm(),
               "seconds": round(self._sums.seconds, 3)}
        self.history.append(row)
        self.epoch, self.batch, self._sums = self.epoch + 1, 0, _EpochSums()
        if self.progress:
            self.print(f"epoch {row['epoch']}/{self.config.epochs}: train loss "
                       f"{row['train_loss']:.4f}, {split} loss {row[f'{split}_loss']:.4f}, "
                       f"{split} {metric} {row[f'{split}_{metric}']:.4f} "
                       f"({row['seconds']:.1f} s)")
        for cb in self.callbacks:
            _call(cb, "on_epoch_end", self, row)
        if self.out is not None:
            records.write_csv(os.path.join(self.out, records.METRICS), self.columns, self.history)
            # Drawing takes ~0.3 s: after the last epoch, when stopping, and at most every
            # PLOT_EVERY_S seconds in between (a short epoch would otherwise pay several %).
            if self.epoch == self.config.epochs or self._stop_reason is not None or \
                    time.perf_counter() - self._plotted >= PLOT_EVERY_S:
                self.draw_curves()
            self._save_checkpoint({})

    def draw_curves(self) -> None:
        """Write curves.png from the metrics so far."""
        if self.out is None or not self.history:
            return
        records.plot_curves(os.path.join(self.out, records.CURVES), self.history,
                            self.task.metric, self._split(), self._title(), self._lr_curve())
        self._plotted = time.perf_counter()

    def _lr_curve(self):
        """(epoch as a fraction, lr) of every step so far, from the schedule itself."""
        schedule, xs, ys, t = self.scheduler.schedules[0], [], [], 0
        for e, n in enumerate(self.steps_per_epoch[:self.epoch]):
            for b in range(n):
                xs.append(e + (b + 1) / n)
                ys.append(schedule(t))
                t += 1
        return xs, ys

    def _title(self) -> str:
        cfg = self.config
        hyper = ", ".join(f"{k}={v}" for k, v in builders.optimizer_settings(cfg).items()) \
            if "optimizer" not in {k for k, v in self._given.items() if v is not None} else ""
        return f"{cfg.model} on {cfg.dataset}, {cfg.optimizer}" + (f" ({hyper})" if hyper else "")

    def _scale_for_length(self, batch) -> list:
        """AWD-LSTM's rule for random segment lengths: the step's lr (and a clipping gamma)
        times length / bptt. Returns what to put back after the step."""
        if not (self.config.scale_lr_with_length and self.task.kind == "text"):
            return []
        factor = batch[0].shape[0] / self.config.bptt
        saved = []
        for group in self.optimizer.param_groups:
            keep = {k: group[k] for k in ("lr", "gamma") if group.get(k) is not None}
            group.update({k: v * factor for k, v in keep.items()})
            saved.append(keep)
        return saved

    def _params(self):
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def _non_finite(self, what: str, value: float):
        lr = self.optimizer.param_groups[0]["lr"]
        self.draw_curves()
        raise NonFiniteLossError(
            self.step, value,
            f"{what} at epoch {self.epoch + 1}, batch {self.batch + 1} with lr {lr:g}; the step "
            f"size is probably too large (metrics of finished epochs are kept)"
            + (f" in {self.out}" if self.out else ""))

    def _bar(self, total: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        self._shown = 0.0
        # a terminal shows each epoch's summary line in place of its bar; a notebook keeps every
        # epoch's bar (a lesson's record of the run)
        in_notebook = "ipykernel" in sys.modules
        return tqdm(total=total, initial=self.batch, leave=in_notebook, dynamic_ncols=True,
                    desc=f"epoch {self.epoch + 1}/{self.config.epochs}", unit="step")

    # -- measuring without changing the run ------------------------------------------------------
    def gradient_again(self, batch) -> float:
        """Forward and backward of the current step's batch at the current weights, from the
        same input state and with the same dropout masks; the batch-norm statistics and the
        random generator are put back afterwards. Returns the loss; gradients are in .grad."""
        rng = ad.get_rng_state()
        buffers = {k: v.copy() for k, v in self.model.named_buffers()}
        ad.set_rng_state(self._rng_at_forward)
        try:
            self.optimizer.zero_grad()
            loss, _, _ = self.task.loss(self.model, batch, self._carry_in)
            loss.backward()
            return loss.item()
        finally:
            ad.set_rng_state(rng)
            self.model.load_state_dict(buffers, strict=False)

    # -- checkpoints ---------------------------------------------------------------------------
    def _save_checkpoint(self, carry_arrays: dict) -> None:
        if self.out is None:
            return
        meta = {"epoch": self.epoch, "batch": self.batch, "step": self.step,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": ad.get_rng_state(),
                "sums": self._sums.__dict__, "history": self.history,
                "train": self.config.to_dict()}
        checkpoint.save(os.path.join(self.out, checkpoint.FILENAME), self.model, meta,
                        carry_arrays)

    def _load_checkpoint(self) -> dict:
        path = os.path.join(self.out, checkpoint.FILENAME)
        meta, carry = checkpoint.load(path, self.model)
        saved = TrainConfig.from_dict(meta["train"], where=path)
        changed = [k for k, v in saved.to_dict().items()
                   if k not in ("epochs", "extra") and v != self.config.to_dict()[k]]
        if changed:
            raise ValueError(f"{path} was written by a run with other settings "
                             f"({', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)}); "
                             f"resume it with the same settings (only epochs may change)")
        self.optimizer.load_state_dict(meta["optimizer"])
        self.scheduler.load_state_dict(meta["scheduler"])
        ad.set_rng_state(meta["rng"])
        self.epoch, self.batch, self.step = int(meta["epoch"]), int(meta["batch"]), \
            int(meta["step"])
        self._sums = _EpochSums(**meta["sums"])
        self.history[:] = meta["history"][:self.epoch]
        if saved.epochs != self.config.epochs and self.config.schedule != "constant" \
                and self.progress:
            self.print(f"note: the {self.config.schedule} schedule now spans {self.config.epochs}"
                       f" epochs instead of {saved.epochs}; from here on the run differs from one "
                       f"made with {self.config.epochs} epochs in one go")
        if self.epoch > self.config.epochs:
            raise ValueError(f"{path} has finished {self.epoch} epochs; ask for at least that "
                             f"many (epochs={self.config.epochs})")
        return carry

    # -- stopping ------------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop after the current step, writing a checkpoint (callbacks and signals use it)."""
        self._stop_reason = reason

    @contextlib.contextmanager
    def _stop_on_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield                                   # signals are only seen on the main thread
            return

        def handler(signum, frame):
            if self._stop_reason is not None:       # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.request_stop(signal.Signals(signum).name)

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class _SmoothnessLog:
    """``probe_smoothness = k``: the ``Smoothness`` callback every k steps, its records written
    to ``smoothness.csv`` at every epoch's end and when the run stops (a resumed run keeps the
    rows of the steps before its checkpoint)."""

    COLUMNS = ("step", "group", "loss", "grad_norm", "smoothness")

    def __init__(self, every: int, out: str | None, first_step: int):
        from .callbacks import Smoothness
        self.callback, self.out = Smoothness(every), out
        self.path = None if out is None else os.path.join(out, "smoothness.csv")
        self.rows = [r for r in records.read_csv(self.path) if int(r["step"]) < first_step] \
            if self.path and first_step and os.path.exists(self.path) else []

    def on_train_begin(self, trainer):
        self.callback.on_train_begin(trainer)
        self.callback.probe.t = trainer.step

    def after_backward(self, trainer, batch):
        self.callback.after_backward(trainer, batch)

    def after_step(self, trainer, batch, record):
        self.callback.after_step(trainer, batch, record)
        rec = self.callback.probe.records[-1] if self.callback.probe.records else None
        if rec is not None and rec.step == record["step"]:
            self.rows.extend({"step": rec.step, "group": g, "loss": rec.loss,
                              "grad_norm": rec.grad_norm[g], "smoothness": rec.smoothness[g]}
                             for g in rec.smoothness)
            if trainer._stop_reason is not None:
                self.write()

    def on_epoch_end(self, trainer, row):
        self.write()

    def on_train_end(self, trainer, result):
        self.write()

    def write(self):
        if self.path is not None:
            records.write_csv(self.path, self.COLUMNS, self.rows)


class _EpochSums:
    """The running sums of one epoch's metrics (saved in a mid-epoch checkpoint)."""

    def __init__(self, loss=0.0, count=0, grad_norm=0.0, steps=0, last_lr=math.nan,
                 seconds=0.0):
        self.loss, self.count, self.grad_norm, self.steps = loss, count, grad_norm, steps
        self.last_lr, self.seconds = last_lr, seconds

    def add(self, loss: float, count: int, grad_norm: float, lr: float) -> None:
        self.loss += loss * count
        self.count += count
        self.grad_norm += grad_norm
        self.steps += 1
        self.last_lr = lr

    def mean_loss(self) -> float:
        return self.loss / self.count if self.count else math.nan

    def mean_grad_norm(self) -> float:
        return self.grad_norm / self.steps if self.steps else math.nan


def _call(callback, hook: str, *args):
    method = getattr(callback, hook, None)
    if method is not None:
        method(*args)


def train(model="resnet20", dataset="digits", optimizer="adamw", *, out=None, data=None,
          schedule=None, callbacks=(), progress: bool = True, resume: bool = False,
          **settings) -> TrainResult:
    """Train a model and return a ``TrainResult`` (see ``TrainConfig`` for every setting).

    ``model`` and ``optimizer`` are names (``"resnet20"``, ``"lstm"``; ``"adamw"``, ...) or
    objects (a Module; an Optimizer over its parameters); ``dataset`` a registry name, or pass
    ``data=`` an ImageDataset, a Corpus or a pair of loaders. ``out`` is the run folder
    (config.json, metrics.csv, curves.png, checkpoint.npz; nothing is written without it);
    ``resume=True`` continues the run in ``out`` from its checkpoint. ``schedule`` is a name
    (``"cosine"``, with ``warmup=`` steps) or a schedule object (``minioptim.schedules``).

    >>> result = train("resnet8", "digits", "adamw", lr=1e-3, epochs=1, train_batches=2,
    ...                eval_batches=1, progress=False)
    >>> sorted(result.final)
    ['epoch', 'grad_norm', 'lr', 'seconds', 'test_accuracy', 'test_loss', 'train_loss']
    """
    names = {"model": model, "dataset": dataset, "optimizer": optimizer}
    objects = {}
    for key, value in names.items():
        if not isinstance(value, str):
            objects[key] = value
            names[key] = f"<{type(value).__name__}>"
    if isinstance(schedule, str):                     # a name: built from the config
        settings["schedule"], schedule = schedule, None
    config = TrainConfig(**names, **settings)
    return Trainer(config, out, model=objects.get("model"), optimizer=objects.get("optimizer"),
                   data=data, schedule=schedule, callbacks=callbacks, progress=progress,
                   resume=resume).fit()


__all__ = ["TrainResult", "Trainer", "train"]
