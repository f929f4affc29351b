"""The ``minioptim`` command (also ``python -m minioptim``).

A user's mistake never ends in a traceback: a bad option value is refused by the parser (one
line naming the option, the value and the allowed range), and an error raised by the library
(a backend that cannot run, a missing dataset, a shape that does not fit, a folder that cannot be
written) is printed as one line; both exit with status 2 (``--debug`` shows the traceback). A
loss that becomes NaN or infinite stops the run with one line and status 3.
"""
from __future__ import annotations

import argparse
import sys

from . import demo, lessons, reproduce, sweep, train
from .options import CliError, Parser

# each: register(subparsers) and run(args) -> exit status
COMMANDS = (demo, train, sweep, reproduce, lessons)

EXIT_USAGE, EXIT_NONFINITE, EXIT_INTERRUPTED = 2, 3, 130


def _version() -> str:
    from .. import __version__
    return f"minioptim {__version__} (Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="minioptim",
        description="minioptim: optimization for deep learning, from the equations of the talk "
                    "'Understanding Adam and AdamW through Proximal Updates, Scale-Freeness, "
                    "and Relaxed Smoothness' to running code.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def _user_error(exc: BaseException) -> bool:
    """Errors that describe a user's input or machine (not a bug in minioptim): the library's own
    error classes, bad values, missing or unwritable files."""
    own = type(exc).__module__.split(".")[0] in ("autodiff", "minioptim")
    return own or isinstance(exc, (ValueError, LookupError, OSError))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    prog = f"minioptim {args.command}"
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CliError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        from ..errors import NonFiniteLossError
        if isinstance(exc, NonFiniteLossError):
            print(f"{prog}: stopped: {exc}", file=sys.stderr)
            return EXIT_NONFINITE
        if not _user_error(exc):
            raise                       # a bug: the traceback is what a report needs
        message = " ".join(str(exc).split())          # one line, whatever the library wrote
        print(f"{prog}: error: {type(exc).__name__}: {message} (--debug shows the traceback)",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
