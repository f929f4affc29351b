"""What a test needs from the repository beyond the packages: README.md, lessons/, assignments/.

A checkout of the repository and its sdist hold them all. Tests that read them call ``need``
first: when a file is missing from a git checkout that is a real failure (a lesson deleted by
mistake must not turn into a skip); anywhere else (the tests run against an installed package,
without the repository's files beside tests/) the test is skipped with a message naming what it
needs and where to get it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def missing(*relative: str) -> list[str]:
    return [p for p in relative if not (REPO / p).exists()]


def need(*relative: str, module: bool = False) -> None:
    """Skip (or, in a git checkout, fail) unless every path, relative to the repository's root,
    exists. ``module=True`` at a test module's top level skips the whole module."""
    absent = missing(*relative)
    if not absent:
        return
    names = ", ".join(absent)
    if (REPO / ".git").exists():
        pytest.fail(f"{names} missing from this checkout ({REPO}); restore it (git checkout -- "
                    f"{' '.join(absent)})", pytrace=False)
    pytest.skip(f"needs {names} from the repository: these tests read files that an installed "
                f"package does not hold; run them from a checkout of the repository or from the "
                f"unpacked sdist (not found under {REPO})", allow_module_level=module)
