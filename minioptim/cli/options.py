"""What every ``minioptim`` command shares: a parser whose mistakes are one line, option types
that name the allowed range, and an output folder checked before any work starts."""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile


class CliError(Exception):
    """A user's mistake: printed as one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a wrong invocation prints one line (no usage block) and exits 2."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def integer(minimum: int | None = None, maximum: int | None = None):
    """An argparse type: a whole number in [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        _check_range(value, minimum, maximum, text)
        return value
    parse.__name__ = "integer"
    return parse


def number(minimum: float | None = None, maximum: float | None = None,
           above: float | None = None):
    """An argparse type: a finite real number in [minimum, maximum] (and > ``above``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be > {above:g}, got {text}")
        _check_range(value, minimum, maximum, text)
        return value
    parse.__name__ = "number"
    return parse


def _check_range(value, minimum, maximum, text: str) -> None:
    if minimum is not None and value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {text}")


SEED = integer(0, 2 ** 32 - 1)


def output_folder(path: str, option: str = "--out") -> str:
    """Create ``path`` if needed and prove it writable (a probe file is written and removed), so
    a run never finds out after its computation that it cannot save. Returns the absolute path."""
    if not path or not path.strip():
        raise CliError(f"{option} is empty: give a folder for the outputs")
    folder = os.path.abspath(os.path.expanduser(path))
    parent = folder
    while parent and not os.path.exists(parent):        # the deepest part that exists
        parent = os.path.dirname(parent)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CliError(f"{option} {path}: this is a file, not a folder; give a folder")
    if parent and not os.path.isdir(parent):
        raise CliError(f"{option} {path}: {parent} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"{option} {path}: cannot write there ({reason}); give a folder you can "
                       f"write to") from None
    return folder


def add_cluster(parser: argparse.ArgumentParser, workers_help: str) -> None:
    """--workers N (a local cluster's size) and --scheduler ADDRESS (a running cluster): the
    Dask options of sweep and reproduce; ``check_cluster`` refuses both at once."""
    parser.add_argument("--workers", type=integer(1), default=None, metavar="N",
                        help=workers_help)
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="a running Dask scheduler (tcp://host:8786) instead of a local "
                             "cluster")


def check_cluster(args) -> None:
    if args.workers is not None and args.scheduler is not None:
        raise CliError("--workers sizes a local cluster; with --scheduler the cluster's own "
                       "workers run the tasks (give one of the two)")


def add_common(parser: argparse.ArgumentParser, backend: bool = True) -> None:
    """Options every command takes: --debug (and --backend for commands that compute)."""
    if backend:
        parser.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None,
                            help="array backend (default: $MINIOPTIM_BACKEND, else numpy)")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")


def select_backend(args) -> None:
    """Apply --backend (it overrides $MINIOPTIM_BACKEND, also for worker processes)."""
    name = getattr(args, "backend", None)
    if name is None:
        import autodiff  # noqa: F401  (a bad $MINIOPTIM_BACKEND is reported here)
        return
    os.environ.pop("MINIOPTIM_BACKEND", None)    # --backend wins over the environment
    import autodiff as ad
    try:
        ad.set_backend(name)
    except ad.BackendError as exc:
        raise CliError(f"--backend {name}: {exc}") from None
    os.environ["MINIOPTIM_BACKEND"] = name
