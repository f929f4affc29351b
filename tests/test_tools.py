"""The maintenance scripts in tools/: the declared-floors pins and the mutation generator."""
import ast
import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _load(name):
    if not (TOOLS / f"{name}.py").is_file():
        pytest.skip(f"needs tools/{name}.py from the repository (a checkout or the sdist)")
    spec = importlib.util.spec_from_file_location(f"tools_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_floors_pin_every_declared_lower_bound(backend_name):
    floors = _load("floors")
    pins = floors.floors(("dev",))
    project = tomllib.loads(floors.PYPROJECT.read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    with_floor = [r for r in declared if ">=" in r]
    assert len(pins) == len(with_floor) and all("==" in p for p in pins)
    for requirement in with_floor:
        name, version = (s.strip() for s in requirement.split(";")[0].split(">="))
        assert f"{name.lower()}=={version}" in pins
    with pytest.raises(SystemExit, match="no extra named 'nope'"):
        floors.floors(("nope",))


SOURCE = '''
LIMIT = 10

def clip(x, lo=0):
    """not mutated"""
    if x > LIMIT and lo >= 0:
        x = LIMIT
    return x - lo
'''


def test_mutants_each_change_one_spot_and_compile(backend_name):
    mutate = _load("mutate")
    found = list(mutate.mutants(SOURCE))
    original = ast.unparse(ast.parse(SOURCE))
    kinds = {m.kind for m, _ in found}
    assert kinds == {"constant", "comparison", "boolean", "condition", "operator", "statement",
                     "return"}
    sources = [src for _, src in found]
    assert len(set(sources)) == len(sources) and original not in sources
    for m, src in found:
        compile(src, "mutant", "exec")
        assert '"""not mutated"""' in src or "'not mutated'" in src     # docstrings kept
    descriptions = {m.description for m, _ in found}
    assert {"10 -> 20", "Gt -> GtE", "And -> Or", "Sub -> Add", "return None",
            "dropped: x = LIMIT"} <= descriptions
