"""The ``minioptim`` command: ``minioptim --help`` lists what it does."""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
