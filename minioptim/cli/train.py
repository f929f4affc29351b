"""``minioptim train``: one training run into a folder, or ``--resume DIR`` to continue one.

Each option is a field of ``minioptim.training.TrainConfig`` (``--weight-decay`` is
``weight_decay``); an option left out keeps the config's default (and, for optimizer
hyperparameters, the optimizer's own default).
"""
from __future__ import annotations

import argparse
import os

from .options import SEED, CliError, add_common, integer, number, output_folder, select_backend

_G = argparse.SUPPRESS     # an option not given leaves no attribute: given ones are told apart


def _default(name: str) -> str:
    from ..training.config import DEFAULTS
    value = DEFAULTS[name]
    return "the optimizer's default" if value is None else repr(value).strip("'")


def register(sub) -> None:
    from ..training.config import DATASET_NAMES, OPTIMIZER_NAMES, SCHEDULES

    p = sub.add_parser(
        "train", help="train a ResNet or the LSTM language model; --resume DIR continues a run",
        description="Train a model and write into --out: config.json (the settings, versions, "
                    "backend), metrics.csv (one row per epoch), curves.png, checkpoint.npz "
                    "(after every epoch; no pickle) and, with --log-steps, steps.csv. Ctrl-C "
                    "stops after the current step and writes a checkpoint; --resume DIR continues "
                    "exactly (the same numbers as a run made in one go). Datasets: digits, pydoc "
                    "and synthetic-translation ship with minioptim (offline); cifar10, ptb and "
                    "multi30k are downloaded on first use.")
    what = p.add_argument_group("model and data")
    what.add_argument("--model", default=_G,
                      help=f"resnet<6n+2> (resnet20, resnet32, resnet44, resnet56, resnet110, "
                           f"...), lstm, awd-lstm or transformer (a decoder-only language "
                           f"model on text, an encoder-decoder on translation pairs; "
                           f"--embedding is d_model, --hidden the feed-forward width, --layers "
                           f"the layers of each stack) (default {_default('model')})")
    what.add_argument("--dataset", default=_G, metavar="NAME",
                      help=f"one of {', '.join(DATASET_NAMES)} (default {_default('dataset')})")
    what.add_argument("--no-batch-norm", dest="batch_norm", action="store_false", default=_G,
                      help="ResNets: remove every batch-norm layer")
    what.add_argument("--no-augment", dest="augment", action="store_false", default=_G,
                      help="images: no random crops or flips")
    what.add_argument("--layers", type=integer(1), default=_G, metavar="N",
                      help=f"LSTM layers (default {_default('layers')})")
    what.add_argument("--embedding", type=integer(1), default=_G, metavar="N",
                      help=f"LSTM embedding size (default {_default('embedding')})")
    what.add_argument("--hidden", type=integer(1), default=_G, metavar="N",
                      help=f"LSTM hidden size (default {_default('hidden')})")
    what.add_argument("--heads", type=integer(1), default=_G, metavar="N",
                      help=f"transformer: attention heads (default {_default('heads')})")
    what.add_argument("--dropout", type=number(0, 0.999), default=_G, metavar="X",
                      help="LSTM dropout probability in [0, 1) (default: lstm 0, awd-lstm 0.4, "
                           "its output dropout; transformer 0.1)")
    for name, text in (("dropout-hidden", "locked dropout between the layers (0.25)"),
                       ("dropout-input", "locked dropout after the embedding (0.4)"),
                       ("dropout-embedding", "dropout of whole words of the embedding (0.1)"),
                       ("weight-drop", "DropConnect on hidden-to-hidden weights (0.5)")):
        what.add_argument(f"--{name}", type=number(0, 0.999), default=_G, metavar="P",
                          help=f"awd-lstm: {text}")
    what.add_argument("--ar", type=number(0), default=_G, metavar="X",
                      help="awd-lstm: activation regularization alpha (2)")
    what.add_argument("--tar", type=number(0), default=_G, metavar="X",
                      help="awd-lstm: temporal activation regularization beta (1)")
    what.add_argument("--tie-weights", action="store_true", default=_G,
                      help="LSTM: the decoder shares the embedding matrix (needs --embedding = "
                           "--hidden)")
    what.add_argument("--bptt", type=integer(1), default=_G, metavar="N",
                      help=f"LSTM: tokens per back-propagation segment (default "
                           f"{_default('bptt')})")
    what.add_argument("--variable-bptt", action="store_true", default=_G,
                      help="LSTM: random segment lengths around --bptt (AWD-LSTM)")
    what.add_argument("--data-root", default=_G, metavar="DIR",
                      help="data folder (default $MINIOPTIM_DATA, else ~/.cache/minioptim)")

    how = p.add_argument_group("optimizer and schedule")
    how.add_argument("--optimizer", default=_G, metavar="NAME",
                     help=f"one of {', '.join(OPTIMIZER_NAMES)} (default {_default('optimizer')})")
    how.add_argument("--lr", type=number(above=0), default=_G, metavar="X",
                     help="learning rate, > 0 (default: the optimizer's default)")
    how.add_argument("--weight-decay", type=number(0), default=_G, metavar="X",
                     help="weight decay lambda, >= 0 (default: the optimizer's default)")
    how.add_argument("--weight-decay-mode", choices=("l2", "decoupled", "proximal"),
                     default=_G, help="l2 (Adam), decoupled (AdamW) or proximal (AdamProx) "
                                      "(default: the optimizer's own)")
    how.add_argument("--weight-decay-per-step", action="store_true", default=_G,
                     help="read --weight-decay as the AdamW paper's lambda: the weights shrink "
                          "by lambda * lr_t / lr_0 per step (decoupled and proximal modes; the "
                          "optimizer gets weight_decay = lambda / lr)")
    how.add_argument("--betas", type=number(0, 0.999999), nargs=2, metavar=("B1", "B2"),
                     default=_G, help="the two momentum parameters in [0, 1) (Adam, AdamW, "
                                      "AdamProx, Lion, GeneralizedSignSGD)")
    how.add_argument("--momentum", type=number(0, 0.999999), default=_G, metavar="X",
                     help="momentum in [0, 1) (SGD, SGDNormalized, SGDClipMomentum, SignSGD)")
    how.add_argument("--eps", type=number(0), default=_G, metavar="X", help="epsilon, >= 0")
    how.add_argument("--gamma", type=number(above=0), default=_G, metavar="X",
                     help="clipping threshold, > 0 (SGDClipGrad, SGDClipMomentum)")
    how.add_argument("--dampening", type=number(0, 0.999999), default=_G, metavar="X",
                     help="SGD family: PyTorch's momentum form m = b m + (1 - X) g (0: "
                          "undampened, PyTorch's default; unset: the talk's m = b m + (1-b) g)")
    how.add_argument("--nesterov", action="store_true", default=_G,
                     help="SGD, SGDClipMomentum: PyTorch's Nesterov look-ahead")
    how.add_argument("--bias-correction", dest="bias_correction", action="store_true",
                     default=_G, help="Adam family, GeneralizedSignSGD: Adam's bias correction")
    how.add_argument("--no-bias-correction", dest="bias_correction", action="store_false",
                     default=_G, help="... and without it")
    how.add_argument("--schedule", choices=SCHEDULES, default=_G,
                     help=f"lr schedule over the whole run (default {_default('schedule')})")
    how.add_argument("--warmup", type=integer(0), default=_G, metavar="N",
                     help="linear warmup steps before the schedule (default 0)")
    how.add_argument("--min-lr-ratio", type=number(0, 1), default=_G, metavar="X",
                     help="cosine and linear decay end at this fraction of --lr (default 0)")
    how.add_argument("--scale-lr-with-length", action="store_true", default=_G,
                     help="text with --variable-bptt: each step's lr (and gamma) times segment "
                          "length / --bptt (AWD-LSTM)")
    how.add_argument("--clip-grad-norm", type=number(above=0), default=_G, metavar="X",
                     help="clip the global gradient norm to this before each step (default: "
                          "no clipping)")
    how.add_argument("--label-smoothing", type=number(0, 1), default=_G, metavar="EPS",
                     help="train on cross-entropy with label smoothing EPS in [0, 1] (the "
                          "evaluation loss stays plain cross-entropy; default 0)")

    run = p.add_argument_group("the run")
    run.add_argument("--epochs", type=integer(1), default=_G, metavar="N",
                     help=f"epochs, >= 1 (default {_default('epochs')}); with --resume, the "
                          f"total to reach")
    run.add_argument("--batch-size", type=integer(1), default=_G, metavar="N",
                     help=f"batch size (default {_default('batch_size')})")
    run.add_argument("--eval-batch-size", type=integer(1), default=_G, metavar="N",
                     help="evaluation batch size (default: --batch-size; 10 for text)")
    run.add_argument("--train-batches", type=integer(1), default=_G, metavar="N",
                     help="at most this many batches per epoch (quick runs)")
    run.add_argument("--eval-batches", type=integer(1), default=_G, metavar="N",
                     help="at most this many batches per evaluation (quick runs)")
    run.add_argument("--eval-split", choices=("test", "valid"), default=_G,
                     help="text: evaluate on the test (default) or the validation split")
    run.add_argument("--seed", type=SEED, default=_G, metavar="N", help="random seed (default 0)")
    run.add_argument("--log-steps", action="store_true", default=_G,
                     help="also write steps.csv: loss, lr and gradient norm of every step")
    run.add_argument("--probe-smoothness", type=integer(0), default=_G, metavar="K",
                     help="every K steps, measure the local smoothness ||g(x_mid) - g(x_t)|| / "
                          "||x_mid - x_t|| on the step's batch, for the model and each top-level "
                          "layer, into smoothness.csv (one more forward and backward; 0: off)")
    run.add_argument("--out", default=None, metavar="DIR",
                     help="output folder (default runs/MODEL-DATASET-OPTIMIZER-seedS)")
    run.add_argument("--resume", default=None, metavar="DIR",
                     help="continue the run in DIR from its checkpoint (only --epochs may "
                          "change)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars or epoch lines (errors still print)")
    add_common(p)
    p.set_defaults(run=run_command)


def _settings(args) -> dict:
    from ..training.config import FIELDS

    given = {k: v for k, v in vars(args).items() if k in FIELDS and k != "backend"}
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    return given


def _config_for_resume(args, given: dict):
    from ..training import checkpoint, records
    from ..training.config import TrainConfig

    folder = os.path.abspath(os.path.expanduser(args.resume))
    path = os.path.join(folder, records.CONFIG)
    if not os.path.isfile(os.path.join(folder, checkpoint.FILENAME)):
        raise CliError(f"--resume {args.resume}: no {checkpoint.FILENAME} there (a run writes "
                       f"it after its first epoch)")
    described = records.read_json(path, "run settings (config.json)")
    if "objects" in described:
        raise CliError(f"--resume {args.resume}: this run was made from Python objects "
                       f"({', '.join(described['objects'])}); resume it from Python with "
                       f"Trainer(..., resume=True)")
    others = sorted(k for k in given if k not in ("epochs",))
    if others:
        flags = ", ".join("--" + k.replace("_", "-") for k in others)
        raise CliError(f"--resume continues a run with its own settings; only --epochs may be "
                       f"given (not {flags})")
    config = TrainConfig.from_dict(described["train"], where=path)
    if args.backend is not None and args.backend != config.backend:
        raise CliError(f"--backend {args.backend}: the run in {args.resume} used "
                       f"{config.backend}; a resume keeps its backend")
    return folder, config.replace(**given)


def run_command(args) -> int:
    from ..training import TrainConfig, Trainer

    given = _settings(args)
    if args.resume is not None:
        if args.out is not None:
            raise CliError("--out and --resume: give one (--resume writes into the run's own "
                           "folder)")
        out, config = _config_for_resume(args, given)
        if args.backend is None:
            args.backend = config.backend
        select_backend(args)
    else:
        select_backend(args)
        import autodiff as ad
        try:
            config = TrainConfig(**given, backend=ad.get_backend())
        except ValueError as exc:
            raise CliError(str(exc)) from None
        from ..training import builders
        try:
            builders.check(config)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        default = f"runs/{config.model}-{config.dataset}-{config.optimizer}-seed{config.seed}"
        out = output_folder(args.out or default, "--out")
        if os.path.exists(os.path.join(out, "checkpoint.npz")):
            raise CliError(f"--out {args.out or default}: a run is already there "
                           f"(checkpoint.npz); continue it with --resume, or give another "
                           f"--out")
    if not args.quiet:
        verb = "resuming" if args.resume else "training"
        print(f"{verb} {config.model} on {config.dataset} with {config.optimizer} into {out} "
              f"({config.epochs} epochs, backend {config.backend})")
    result = Trainer(config, out, progress=not args.quiet, resume=args.resume is not None).fit()
    if result.interrupted:
        return 130
    if not args.quiet:
        final = result.final
        shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items()
                          if k not in ("epoch", "seconds", "lr"))
        print(f"done: epoch {final.get('epoch')}: {shown}")
        print(f"wrote {out}/: config.json, metrics.csv, curves.png, checkpoint.npz"
              + (", steps.csv" if config.log_steps else ""))
    return 0
