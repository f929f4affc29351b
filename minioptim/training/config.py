"""``TrainConfig``: every setting of a training run, checked when made, to and from JSON.

The field names are the command's options with underscores (``--weight-decay`` is
``weight_decay``), so a sweep's spec, ``minioptim train`` and ``train(...)`` in Python speak the
same language. ``None`` for an optimizer hyperparameter means "the optimizer's own default".
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

SCHEDULES = ("constant", "cosine", "linear", "inverse-sqrt")
# For help texts, which must not import the engine (``minioptim --help`` works whatever the
# backend); builders.OPTIMIZERS and the data registry are the truth, and a test checks they agree.
OPTIMIZER_NAMES = ("sgd", "sgdnormalized", "sgdclipgrad", "sgdclipmomentum", "adagrad", "rmsprop",
                   "adam", "adamw", "adamprox", "lion", "generalizedsignsgd", "signsgd")
DATASET_NAMES = ("digits", "cifar10", "pydoc", "ptb", "synthetic-translation", "multi30k")
EVAL_SPLITS = ("test", "valid")


@dataclass
class TrainConfig:
    """The settings of one run (see ``minioptim train --help`` for each one's meaning)."""

    # what to train, on what
    model: str = "resnet20"             # "resnet<6n+2>", "lstm", "awd-lstm" or "transformer"
    dataset: str = "digits"             # a name of minioptim.data (DATASET_NAMES)
    batch_norm: bool = True             # ResNets: False removes every BN layer
    layers: int = 2                     # LSTM: layers, embedding and hidden sizes, dropout
    embedding: int = 200                # (transformer: d_model and the feed-forward width)
    hidden: int = 200
    heads: int = 4                      # transformer: attention heads (embedding % heads == 0)
    dropout: float | None = None        # None: the model's default (lstm 0, awd-lstm 0.4)
    tie_weights: bool = False
    # awd-lstm only (None: the AWD-LSTM paper's values, 0.25 / 0.4 / 0.1 / 0.5 / 2 / 1)
    dropout_hidden: float | None = None  # locked dropout between the LSTM layers
    dropout_input: float | None = None   # locked dropout after the embedding
    dropout_embedding: float | None = None   # whole words of the embedding matrix
    weight_drop: float | None = None     # DropConnect on the hidden-to-hidden weights
    ar: float | None = None              # activation regularization alpha
    tar: float | None = None             # temporal activation regularization beta
    bptt: int = 35                      # LSTM: tokens per truncated back-propagation segment
    variable_bptt: bool = False         # LSTM: AWD-LSTM's random segment lengths
    augment: bool = True                # images: random crops (and flips on CIFAR-10)
    # how
    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float | None = None
    weight_decay_mode: str | None = None
    weight_decay_per_step: bool = False  # weight_decay is the AdamW paper's lambda (see builders)
    betas: tuple | None = None
    momentum: float | None = None
    eps: float | None = None
    gamma: float | None = None           # clipping threshold of sgdclipgrad / sgdclipmomentum
    dampening: float | None = None       # SGD family: a number gives PyTorch's momentum form
    nesterov: bool | None = None         # SGD family: PyTorch's Nesterov look-ahead
    bias_correction: bool | None = None  # Adam family, generalized SignSGD
    schedule: str = "constant"
    warmup: int = 0                      # linear warmup steps before the schedule
    min_lr_ratio: float = 0.0            # cosine / linear decay end at this fraction of lr
    clip_grad_norm: float | None = None  # clip the global gradient norm before each step
    label_smoothing: float = 0.0         # training loss only; evaluation stays cross-entropy
    scale_lr_with_length: bool = False   # text: lr (and gamma) times segment length / bptt
    # how long, how much at once
    epochs: int = 2
    batch_size: int = 64
    eval_batch_size: int | None = None   # default: batch_size for images, 10 for text
    train_batches: int | None = None     # at most this many batches per epoch (quick runs)
    eval_batches: int | None = None      # at most this many batches per evaluation
    eval_split: str = "test"             # text only: "valid" evaluates on the validation split
    seed: int = 0
    log_steps: bool = False              # write steps.csv (loss, lr, gradient norm per step)
    probe_smoothness: int = 0            # every k steps: local smoothness -> smoothness.csv
    # where
    backend: str | None = None           # None: the active backend
    data_root: str | None = None
    extra: dict = field(default_factory=dict)   # what a caller wants recorded (not used here)

    def __post_init__(self):
        self.check()

    # -- checks ---------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ValueError naming the first setting that is out of range."""
        _text(self, "model")
        _text(self, "dataset")
        _text(self, "optimizer")
        for name in ("batch_norm", "tie_weights", "variable_bptt", "augment", "log_steps",
                     "weight_decay_per_step", "scale_lr_with_length"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{_opt(name)} must be True or False, got "
                                 f"{getattr(self, name)!r}")
        for name in ("layers", "embedding", "hidden", "heads", "bptt", "epochs", "batch_size"):
            _whole(self, name, 1)
        for name in ("eval_batch_size", "train_batches", "eval_batches"):
            if getattr(self, name) is not None:
                _whole(self, name, 1)
        _whole(self, "warmup", 0)
        _whole(self, "probe_smoothness", 0)
        for name in ("nesterov", "bias_correction"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise ValueError(f"{_opt(name)} must be True, False or None, got "
                                 f"{getattr(self, name)!r}")
        if self.dampening is not None:
            _real(self, "dampening", 0.0, 1.0, open_high=True)
        _whole(self, "seed", 0, 2 ** 32 - 1)
        for name in ("dropout", "dropout_hidden", "dropout_input", "dropout_embedding",
                     "weight_drop"):
            if getattr(self, name) is not None:
                _real(self, name, 0.0, 1.0, open_high=True)
        for name in ("ar", "tar"):
            if getattr(self, name) is not None:
                _real(self, name, 0.0, None)
        _real(self, "min_lr_ratio", 0.0, 1.0)
        _real(self, "label_smoothing", 0.0, 1.0)
        if self.lr is not None:
            _real(self, "lr", 0.0, None, open_low=True)
        for name in ("weight_decay", "eps", "momentum", "gamma", "clip_grad_norm"):
            if getattr(self, name) is not None:
                _real(self, name, 0.0, None, open_low=name in ("gamma", "clip_grad_norm"))
        if self.betas is not None:
            betas = self.betas
            if not isinstance(betas, (tuple, list)) or len(betas) != 2 or not all(
                    _is_real(b) and 0 <= b < 1 for b in betas):
                raise ValueError(f"{_opt('betas')} must be two numbers in [0, 1), got {betas!r}")
            self.betas = tuple(float(b) for b in betas)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"{_opt('schedule')} must be one of {', '.join(SCHEDULES)}, got "
                             f"{self.schedule!r}")
        if self.eval_split not in EVAL_SPLITS:
            raise ValueError(f"{_opt('eval_split')} must be 'test' or 'valid', got "
                             f"{self.eval_split!r}")
        if self.backend is not None and self.backend not in ("numpy", "cupy", "strict"):
            raise ValueError(f"{_opt('backend')} must be numpy, cupy or strict, got "
                             f"{self.backend!r}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {type(self.extra).__name__}")

    # -- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas) if self.betas is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "the settings") -> "TrainConfig":
        """A config from a dict (config.json's "train", a sweep spec), unknown keys named."""
        if not isinstance(d, dict):
            raise ValueError(f"{where} must be a JSON object of settings, got "
                             f"{type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(**d)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
DEFAULTS = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(TrainConfig)}


def _opt(name: str) -> str:
    """A setting by both its names: ``weight_decay (--weight-decay)``."""
    return f"{name} (--{name.replace('_', '-')})"


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _text(cfg, name: str) -> None:
    v = getattr(cfg, name)
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"{_opt(name)} must be a non-empty name, got {v!r}")


def _whole(cfg, name: str, low: int, high: int | None = None) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low \
            or (high is not None and v > high):
        limit = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{_opt(name)} must be a whole number {limit}, got {v!r}")
    setattr(cfg, name, int(v))


def _real(cfg, name: str, low: float, high: float | None, open_low: bool = False,
          open_high: bool = False) -> None:
    v = getattr(cfg, name)
    ok = _is_real(v) and math.isfinite(v) and (v > low if open_low else v >= low) and (
        high is None or (v < high if open_high else v <= high))
    if not ok:
        lo = f"> {low:g}" if open_low else f">= {low:g}"
        hi = "" if high is None else (f" and < {high:g}" if open_high else f" and <= {high:g}")
        raise ValueError(f"{_opt(name)} must be a finite number {lo}{hi}, got {v!r}")
    setattr(cfg, name, float(v))
