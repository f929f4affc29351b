"""The README stays true: every python block runs as printed, its test command is what CI runs,
the CLI works."""
import os
import pathlib
import re

import numpy as np
import pytest

import autodiff as ad

from minioptim import cli
from minioptim.demo import run_demo

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_cmd = [b.strip() for b in _bash_blocks() if "pytest" in b]
    assert len(test_cmd) == 1
    assert test_cmd[0] in (ROOT / ".ci" / "run").read_text()


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_every_python_block_runs_as_printed(index, backend_name, tmp_path, monkeypatch, capsys):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("a block picks its own backend; run once")
    monkeypatch.chdir(tmp_path)                  # blocks that save files save them here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    block = _python_blocks()[index]
    try:
        exec(compile(block, f"README.md python block {index}", "exec"), {})
    finally:
        ad.set_backend(backend_name)


def test_readme_example_runs_and_its_gradients_are_right():
    example = re.findall(r"```python\n(.*?)```", README, flags=re.S)[0]
    scope = {}
    exec(example.replace("print(", "(lambda *a: None)("), scope)
    x, w = (scope["x"].numpy().astype(float), scope["w"].numpy().astype(float))
    # loss = sum(tanh(x w)^2); d/dw = x^T [2 tanh(xw)(1 - tanh^2(xw))]
    t = np.tanh(x @ w)
    inner = 2 * t * (1 - t ** 2)
    np.testing.assert_allclose(scope["w"].grad.tolist(), x.T @ inner, rtol=1e-5)
    np.testing.assert_allclose(scope["x"].grad.tolist(), np.outer(inner, w), rtol=1e-5)


def test_demo_trains_and_reports():
    lines = []
    result = run_demo(steps=200, print_every=100, out=lines.append)
    assert any("gradcheck: backward agrees" in s for s in lines)
    assert result["loss"][-1] < 0.5 * result["loss"][0]
    assert result["accuracy"] > 0.8


def test_cli_help_lists_the_commands(capsys):
    assert cli.main([]) == 0
    assert "demo" in capsys.readouterr().out
