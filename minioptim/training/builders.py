"""From names to objects: a model, an optimizer, a schedule and the data of a ``TrainConfig``.

Optimizers go by their lowercase class names (``adamw``, ``sgdclipmomentum``, ...). Only the
hyperparameters a run sets are passed, so an unset one keeps the optimizer's default; a
hyperparameter that the optimizer does not take is an error that says which ones it does take
(``--momentum`` means nothing to Adam, whose momentum is ``--betas``).
"""
from __future__ import annotations

import inspect
import re

from .. import optimizers as optim
from .. import schedules
from .config import TrainConfig, _opt

# lowercase name -> class; PreconditionedGD is left out: it needs one preconditioner array per
# parameter, which only the lessons' quadratics have.
OPTIMIZERS = {cls.__name__.lower(): cls for cls in (
    optim.SGD, optim.SGDNormalized, optim.SGDClipGrad, optim.SGDClipMomentum, optim.AdaGrad,
    optim.RMSprop, optim.Adam, optim.AdamW, optim.AdamProx, optim.Lion, optim.GeneralizedSignSGD,
    optim.SignSGD)}
HYPERPARAMETERS = ("lr", "weight_decay", "weight_decay_mode", "betas", "momentum", "eps", "gamma",
                   "dampening", "nesterov", "bias_correction")

_RESNET = re.compile(r"^resnet(\d+)$")


def optimizer_class(name: str):
    key = name.lower().replace("-", "").replace("_", "")
    if key == "preconditionedgd":
        raise ValueError("preconditionedgd needs a preconditioner array for every parameter; it "
                         "is for the lessons' quadratics, not for training a model")
    try:
        return OPTIMIZERS[key]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)}") from None


def accepted(cls) -> tuple[str, ...]:
    """The hyperparameters of ``HYPERPARAMETERS`` that ``cls``'s constructor takes."""
    params = inspect.signature(cls.__init__).parameters
    return tuple(h for h in HYPERPARAMETERS if h in params)


def optimizer_settings(config: TrainConfig) -> dict:
    """The hyperparameters this run sets, checked against what its optimizer takes.

    With ``weight_decay_per_step``, ``weight_decay`` is lambda as the AdamW paper's code uses it:
    the weights shrink by lambda * eta_t / eta_0 per step (1 - lambda with a constant lr), where
    minioptim's decoupled and proximal modes shrink by eta_t * weight_decay; the optimizer gets
    weight_decay = lambda / eta_0, which is the same update at every step of any schedule."""
    cls = optimizer_class(config.optimizer)
    takes = accepted(cls)
    given = {h: getattr(config, h) for h in HYPERPARAMETERS if getattr(config, h) is not None}
    refused = [h for h in given if h not in takes]
    if refused:
        raise ValueError(f"{config.optimizer} takes no {', '.join(_opt(h) for h in refused)}; its "
                         f"hyperparameters are {', '.join(takes)}")
    if config.weight_decay_per_step and given.get("weight_decay"):
        mode = given.get("weight_decay_mode") or cls.default_decay_mode
        if mode == "l2":
            raise ValueError(f"{_opt('weight_decay_per_step')} reads weight_decay as a shrinking "
                             f"of the weights per step; {config.optimizer} decays in l2 mode "
                             f"here (a gradient term), so give weight_decay_mode decoupled or "
                             f"proximal")
        lr0 = given.get("lr", inspect.signature(cls.__init__).parameters["lr"].default)
        given["weight_decay"] = given["weight_decay"] / lr0
    return given


def check(config: TrainConfig) -> None:
    """The names of ``config`` (model, optimizer and its hyperparameters, dataset and its kind)
    refer to things that exist and fit together; raises ValueError naming the setting."""
    from .. import data

    kinds = model_kinds(config.model)
    optimizer_settings(config)
    try:                      # the constructor's own checks (gamma needed, betas in range, ...)
        build_optimizer(config, [optim.Point([0.0])])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{_opt('optimizer')} {config.optimizer}: {exc}") from None
    info = data.info(config.dataset)
    if info.kind not in kinds:
        raise ValueError(f"{_opt('model')} {config.model} trains on {' or '.join(kinds)} data, "
                         f"but {_opt('dataset')} {config.dataset} is {info.kind} data; use one "
                         f"of {', '.join(n for k in kinds for n in data.names(kind=k))}")
    given = [n for n in AWD_ONLY if getattr(config, n) is not None]
    if given and config.model.lower() != "awd-lstm":
        raise ValueError(f"{', '.join(_opt(n) for n in given)} belong to the awd-lstm model, "
                         f"not {config.model}")
    if kinds == ("image",) and config.dropout:
        raise ValueError(f"{_opt('dropout')} belongs to the language models, not "
                         f"{config.model}")
    if config.model.lower() == "transformer" and config.embedding % config.heads:
        raise ValueError(f"{_opt('embedding')} (the transformer's d_model, {config.embedding}) "
                         f"must be divisible by {_opt('heads')} ({config.heads})")
    if config.model.lower() == "lstm" and config.tie_weights and \
            config.embedding != config.hidden:
        raise ValueError(f"{_opt('tie_weights')} needs embedding == hidden, got "
                         f"{config.embedding} and {config.hidden}")


def build_optimizer(config: TrainConfig, params):
    return optimizer_class(config.optimizer)(params, **optimizer_settings(config))


def optimizer_defaults(config: TrainConfig) -> dict:
    """Every hyperparameter the run's optimizer uses, the defaults filled in (for records)."""
    cls = optimizer_class(config.optimizer)
    params = inspect.signature(cls.__init__).parameters
    values = {h: params[h].default for h in accepted(cls)}
    values.update(optimizer_settings(config))
    if values.get("weight_decay_mode") is None and "weight_decay_mode" in values:
        values["weight_decay_mode"] = cls.default_decay_mode
    return values


def build_schedule(config: TrainConfig, lr: float, total_steps: int):
    """The lr of each step: ``config.schedule`` after ``config.warmup`` warmup steps."""
    w = config.warmup
    if w >= total_steps and config.schedule != "constant":
        raise ValueError(f"{_opt('warmup')} is {w} steps but the run has {total_steps}; a "
                         f"{config.schedule} schedule needs steps after the warmup")
    rest = max(total_steps - w, 1)
    if config.schedule == "constant":
        main = schedules.constant(lr)
    elif config.schedule == "cosine":
        main = schedules.cosine_decay(lr, rest, floor_ratio=config.min_lr_ratio)
    elif config.schedule == "linear":
        main = schedules.linear_decay(lr, rest, floor_ratio=config.min_lr_ratio)
    else:
        main = schedules.inverse_sqrt(lr, max(w, 1))
        return main if w == 0 else schedules.sequence(
            [(schedules.linear_warmup(lr, w), w), (main, None)])
    if w == 0:
        return main
    return schedules.sequence([(schedules.linear_warmup(lr, w), w), (main, None)])


def model_kinds(name: str) -> tuple:
    """The kinds of data a model trains on: ("image",) for ``resnet<6n+2>``, ("text",) for
    ``lstm`` and ``awd-lstm``, ("text", "translation") for ``transformer`` (a decoder-only
    language model on text, an encoder-decoder on translation pairs)."""
    match = _RESNET.match(name.lower())
    if match:
        from ..models.resnet import DEPTHS
        depth = int(match.group(1))
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"{_opt('model')} {name}: a CIFAR ResNet has depth 6n + 2 "
                             f"({', '.join(map(str, DEPTHS))}, ...), not {depth}")
        return ("image",)
    if name.lower() in ("lstm", "awd-lstm"):
        return ("text",)
    if name.lower() == "transformer":
        return ("text", "translation")
    raise ValueError(f"unknown model {name!r}; use resnet<depth> with depth = 6n + 2 (resnet20, "
                     f"resnet32, resnet44, resnet56, resnet110, ...), lstm, awd-lstm or "
                     f"transformer")


AWD_ONLY = ("dropout_hidden", "dropout_input", "dropout_embedding", "weight_drop", "ar", "tar")
AWD_DEFAULTS = dict(dropout=0.4, dropout_hidden=0.25, dropout_input=0.4, dropout_embedding=0.1,
                    weight_drop=0.5, ar=2.0, tar=1.0)


def awd_setting(config: TrainConfig, name: str) -> float:
    """An AWD-LSTM setting of the run: given, else the paper's value."""
    value = getattr(config, name)
    return AWD_DEFAULTS[name] if value is None else value


def build_model(config: TrainConfig, data):
    """The model of ``config.model`` shaped for ``data`` (an ImageDataset or a Corpus)."""
    from ..data import TranslationDataset
    from ..models import (AWDLSTMLanguageModel, LSTMLanguageModel, Seq2SeqTransformer,
                          TransformerLanguageModel, resnet)

    if model_kinds(config.model) == ("image",):
        depth = int(_RESNET.match(config.model.lower()).group(1))
        return resnet(depth, num_classes=data.num_classes, batch_norm=config.batch_norm,
                      in_channels=data.image_shape[0])
    if isinstance(data, TranslationDataset):
        return Seq2SeqTransformer(
            len(data.src_vocab), len(data.tgt_vocab), d_model=config.embedding,
            nhead=config.heads, num_encoder_layers=config.layers,
            num_decoder_layers=config.layers, dim_feedforward=config.hidden,
            dropout=0.1 if config.dropout is None else config.dropout, max_len=512,
            pad_index=data.pad_id)
    if config.model.lower() == "transformer":
        return TransformerLanguageModel(
            len(data.vocab), d_model=config.embedding, nhead=config.heads,
            num_layers=config.layers, dim_feedforward=config.hidden,
            dropout=0.1 if config.dropout is None else config.dropout,
            max_len=max(512, 4 * config.bptt),          # variable BPTT draws longer segments
            tie_weights=config.tie_weights)
    if config.model.lower() == "awd-lstm":
        return AWDLSTMLanguageModel(
            len(data.vocab), config.embedding, config.hidden, config.layers,
            dropout=awd_setting(config, "dropout"),
            **{n: awd_setting(config, n) for n in AWD_ONLY if n not in ("ar", "tar")},
            tie_weights=config.tie_weights)
    return LSTMLanguageModel(len(data.vocab), config.embedding, config.hidden, config.layers,
                             dropout=config.dropout or 0.0, tie_weights=config.tie_weights)


def load_data(config: TrainConfig, progress: bool = True, check_model: bool = True):
    """The dataset of ``config.dataset`` (checked against ``config.model`` first)."""
    from .. import data

    if check_model:
        check(config)
    return data.load(config.dataset, root=config.data_root, progress=progress)
