"""The README stays true: every python block runs as printed, its test command is what CI runs,
the CLI works."""
import os
import pathlib
import re

import numpy as np
import pytest
from checkout import need

import autodiff as ad

from minioptim import cli
from minioptim.demo import run_demo

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the repository's README (a checkout or the sdist); "" where it is absent, and every test that
# reads it says so (checkout.need)
README = (ROOT / "README.md").read_text() if (ROOT / "README.md").is_file() else ""


@pytest.fixture
def readme():
    need("README.md")
    return README


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command(readme):
    need(".ci/run")
    test_cmd = [b.strip() for b in _bash_blocks() if "pytest" in b]
    assert len(test_cmd) == 1
    assert test_cmd[0] in (ROOT / ".ci" / "run").read_text()


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks()) or 1))
def test_every_python_block_runs_as_printed(index, readme, backend_name, tmp_path, monkeypatch,
                                            capsys):
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("a block picks its own backend; run once")
    monkeypatch.chdir(tmp_path)                  # blocks that save files save them here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    block = _python_blocks()[index]
    try:
        exec(compile(block, f"README.md python block {index}", "exec"), {})
    finally:
        ad.set_backend(backend_name)


def test_readme_example_runs_and_its_gradients_are_right(readme):
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


def _minioptim_commands():
    """Every `minioptim ...` command in the README's bash blocks, as argument lists."""
    import shlex
    commands = []
    for block in _bash_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part.strip())
                if words and words[0].endswith("minioptim") and "pip" not in words:
                    commands.append(words[1:])
    return commands


def test_every_minioptim_command_in_the_readme_parses_and_its_settings_fit(readme, backend_name):
    from minioptim.training import TrainConfig, builders
    from minioptim.training.config import FIELDS
    commands = _minioptim_commands()
    assert any(c[0] == "train" for c in commands) and any(c[0] == "sweep" for c in commands)
    parser = cli.build_parser()
    for words in commands:
        args = parser.parse_args(words)
        if words[0] == "train" and args.resume is None:
            settings = {k: v for k, v in vars(args).items() if k in FIELDS and k != "backend"}
            if "betas" in settings:
                settings["betas"] = tuple(settings["betas"])
            builders.check(TrainConfig(**settings))


def test_the_readme_sweep_spec_is_a_valid_spec(readme):
    import json
    from minioptim.sweeps import SweepSpec
    (block,) = re.findall(r"```json\n(.*?)```", README, flags=re.S)
    spec = SweepSpec.from_dict(json.loads(block))
    assert len(spec.points()) == 54


def test_the_main_job_runs_as_printed(readme, backend_name, tmp_path):
    """The first command of the set-up, after the install: run in a subprocess here."""
    import subprocess
    import sys
    if backend_name != (os.environ.get("MINIOPTIM_BACKEND") or "numpy"):
        pytest.skip("runs in its own process; once")
    main_job = next(c for c in _minioptim_commands() if c[0] == "train")
    assert "--out" in main_job
    env = {k: v for k, v in os.environ.items() if k != "MINIOPTIM_BACKEND"}
    env.update(MPLBACKEND="Agg", PYTHONPATH=str(ROOT), PATH="/usr/local/bin:/usr/bin:/bin")
    done = subprocess.run([sys.executable, "-m", "minioptim", *main_job, "--quiet"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    metrics = (tmp_path / main_job[main_job.index("--out") + 1] / "metrics.csv").read_text()
    accuracy = float(metrics.splitlines()[-1].split(",")[3])
    assert accuracy > 0.8, metrics                        # the README says ~0.9
