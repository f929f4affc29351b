"""Print pip constraints that pin every declared dependency to its floor (``>=X`` becomes ``==X``).

    python3 tools/floors.py [EXTRA ...] > floors.txt
    pip install -c floors.txt -e ".[dev]"

The main dependencies and the named extras (default: dev) are read from pyproject.toml;
``.ci/run`` installs them this way into a second environment and runs the suite, so a floor
that no longer works cannot stay declared. Dependencies of dependencies are left to pip.
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+?)\s*>=\s*([0-9][A-Za-z0-9.]*)\s*(?:,.*)?$")


def floors(extras=("dev",)) -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    declared = list(project["dependencies"])
    for extra in extras:
        if extra not in project.get("optional-dependencies", {}):
            raise SystemExit(f"floors.py: pyproject.toml has no extra named {extra!r}")
        declared += project["optional-dependencies"][extra]
    pins = {}
    for requirement in declared:
        found = REQUIREMENT.match(requirement.split(";")[0])
        if found:                                      # '==X' pins and bare names stay as they are
            name = re.sub(r"\[.*\]", "", found.group(1)).lower()
            pins[name] = f"{name}=={found.group(2)}"
    return sorted(pins.values())


if __name__ == "__main__":
    print("\n".join(floors(tuple(sys.argv[1:]) or ("dev",))))
