"""Mutation testing of a module or an area: how many small bugs planted in it do the tests notice?

    python tools/mutate.py minioptim/analysis.py --tests tests/test_analysis.py [--sample 40]
    python tools/mutate.py minioptim/optimizers/*.py --tests tests/test_optimizers_*.py --sample 40

Each mutant changes one spot of a module's syntax tree (an arithmetic or comparison operator
swapped, a number nudged, a condition negated, ``and``/``or`` swapped, a statement dropped, a
returned value replaced by ``None``), is written into a copy of the packages in a temporary
folder, and the named tests run against it (stopping at the first failure). A mutant that some
test fails on is killed; one that passes every test survived: either the tests miss that bug or
the change does not alter behaviour (an equivalent mutant; read the survivors). ``--suite``
runs each survivor against the whole test suite as well. The score printed is killed / total;
with several modules (an area) ``--sample`` draws from all their mutants together.

Module-level constants and methods of every kind (properties, class methods) are mutated;
docstrings and ``__repr__`` are not (the tests that read them are documentation checks, not
instruments). Nothing here changes the working tree: mutants live in the temporary copy.
"""
from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("autodiff", "minioptim", "tests")
SKIP_FUNCTIONS = {"__repr__", "__str__"}

BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.Pow: ast.Mult, ast.FloorDiv: ast.Div, ast.Mod: ast.Mult}
COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                 ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                 ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass(frozen=True)
class Mutant:
    index: int          # the position of the mutated node in a walk of the tree
    kind: str
    line: int
    description: str


def _docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)


def _nodes(tree):
    """Every node that may be mutated, in a stable order, skipping docstrings and reprs."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.name in SKIP_FUNCTIONS:
            skip.update(id(n) for n in ast.walk(node))
        if _docstring(node) or isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node))
    return [n for n in ast.walk(tree) if id(n) not in skip]


def _changes(node):
    """(kind, description, apply) for each way of mutating ``node``; apply edits it in place."""
    out = []
    if isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
        new = BINOP_SWAPS[type(node.op)]
        out.append(("operator", f"{type(node.op).__name__} -> {new.__name__}",
                    lambda n: setattr(n, "op", new())))
    if isinstance(node, ast.AugAssign) and type(node.op) in BINOP_SWAPS:
        new = BINOP_SWAPS[type(node.op)]
        out.append(("operator", f"{type(node.op).__name__}= -> {new.__name__}=",
                    lambda n: setattr(n, "op", new())))
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAPS:
                new = COMPARE_SWAPS[type(op)]

                def swap(n, i=i, new=new):
                    n.ops[i] = new()
                out.append(("comparison", f"{type(op).__name__} -> {new.__name__}", swap))
    if isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append(("boolean", f"{type(node.op).__name__} -> {new.__name__}",
                    lambda n: setattr(n, "op", new())))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        out.append(("sign", "-x -> x", lambda n: setattr(n, "op", ast.UAdd())))
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) \
            and not isinstance(node.value, bool):
        v = node.value
        new_v = (v + 1) if v in (0, -1) else (0 if v == 1 else v * 2)
        out.append(("constant", f"{v!r} -> {new_v!r}", lambda n: setattr(n, "value", new_v)))
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append(("constant", f"{node.value} -> {not node.value}",
                    lambda n: setattr(n, "value", not n.value)))
    if isinstance(node, (ast.If, ast.While, ast.IfExp)):
        out.append(("condition", "condition negated",
                    lambda n: setattr(n, "test", ast.UnaryOp(ast.Not(), n.test))))
    if isinstance(node, ast.Return) and node.value is not None \
            and not (isinstance(node.value, ast.Constant) and node.value.value is None):
        out.append(("return", "return None", lambda n: setattr(n, "value", None)))
    return out


def _statement_drops(tree):
    """Statements inside a body that can be replaced by ``pass`` (assignments, calls)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            for i, stmt in enumerate(body if isinstance(body, list) else []):
                if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr,
                                     ast.Raise)) and not _docstring(stmt):
                    yield node, field, i, stmt


def mutants(source: str):
    """(Mutant, mutated source) for every mutant of ``source``."""
    tree = ast.parse(source)
    allowed = {id(n) for n in _nodes(tree)}
    count = 0
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in allowed:
            continue
        for k, (kind, desc, _) in enumerate(_changes(node)):
            new_tree = copy.deepcopy(tree)
            target = list(ast.walk(new_tree))[index]
            _changes(target)[k][2](target)
            yield Mutant(count, kind, getattr(node, "lineno", 0), desc), ast.unparse(new_tree)
            count += 1
    for n_index, (node, field, i, stmt) in enumerate(list(_statement_drops(tree))):
        if id(stmt) not in allowed:
            continue
        new_tree = copy.deepcopy(tree)
        new_node, new_field, new_i, _ = list(_statement_drops(new_tree))[n_index]
        getattr(new_node, new_field)[new_i] = ast.Pass()
        first = ast.unparse(stmt).splitlines()[0][:60]
        yield Mutant(count, "statement", stmt.lineno, f"dropped: {first}"), ast.unparse(new_tree)
        count += 1


def _run_tests(folder: Path, tests, timeout: float) -> bool:
    """True when every test passes (the mutant survives)."""
    env = {**os.environ, "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", *tests]
    try:
        done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False                              # a mutant that hangs is caught
    return done.returncode == 0


def _label(rel, m: Mutant) -> str:
    return f"{rel}:{m.line} #{m.index} {m.kind} {m.description}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="+", help="the files to mutate, e.g. minioptim/analysis.py")
    ap.add_argument("--tests", nargs="+", required=True, help="test files (or node ids) that "
                    "pin them")
    ap.add_argument("--sample", type=int, default=0, help="run this many mutants drawn at random "
                    "(0: all of them)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--suite", action="store_true", help="run survivors against the whole suite")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per test run")
    ap.add_argument("--survivors-of", metavar="LOG", help="run only the mutants that an earlier "
                    "run's printed log lists as SURVIVED (after adding tests: the killed ones "
                    "stay killed, so the new score is the old kills plus the new ones)")
    args = ap.parse_args(argv)
    sources, every = {}, []
    for name in args.modules:
        module = (ROOT / name).resolve()
        if not module.is_file() or ROOT not in module.parents:
            ap.error(f"{name}: not a file of this repository")
        rel = module.relative_to(ROOT)
        sources[rel] = module.read_text()
        every += [(rel, m, mutated) for m, mutated in mutants(sources[rel])]
    chosen = every if not args.sample or args.sample >= len(every) else \
        random.Random(args.seed).sample(every, args.sample)
    chosen.sort(key=lambda c: (str(c[0]), c[1].index))
    if args.survivors_of:
        lines = Path(args.survivors_of).read_text().splitlines()
        wanted = {line.split("SURVIVED ", 1)[1].strip() for line in lines if "SURVIVED " in line}
        indexed = all(re.search(r":\d+ #\d+ ", w) for w in wanted)

        def key(rel, m):            # a log without indices matches all mutants of a line alike
            label = _label(rel, m).strip()
            return label if indexed else re.sub(r" #\d+ ", " ", label, count=1)
        chosen = [c for c in every if key(c[0], c[1]) in wanted]
        missing = wanted - {key(c[0], c[1]) for c in chosen}
        if missing:
            ap.error(f"{args.survivors_of}: {len(missing)} survivors are not mutants of these "
                     f"modules any more (the code changed: run a new sample)")
    print(f"{' '.join(args.modules)}: {len(every)} mutants, running {len(chosen)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        folder = Path(tmp)
        for name in PACKAGES:
            shutil.copytree(ROOT / name, folder / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        for extra in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / extra, folder / extra)
        if not _run_tests(folder, args.tests, args.timeout):
            print("the tests fail on the unmutated code: fix them first", file=sys.stderr)
            return 2
        survivors = []
        for rel, m, mutated in chosen:
            (folder / rel).write_text(mutated)
            survived = _run_tests(folder, args.tests, args.timeout)
            if survived and args.suite:
                survived = _run_tests(folder, ["tests"], args.timeout * 10)
            (folder / rel).write_text(sources[rel])
            print(f"  {'SURVIVED' if survived else 'killed  '} {_label(rel, m)}", flush=True)
            if survived:
                survivors.append(m)
    killed = len(chosen) - len(survivors)
    print(f"score: {killed}/{len(chosen)} killed = {100 * killed / max(len(chosen), 1):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
