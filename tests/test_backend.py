"""The backend switch: names, the environment variable, CuPy's absence, host/device crossings."""
import ast
import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import autodiff as ad
from autodiff import backend

ROOT = pathlib.Path(__file__).resolve().parents[1]
HAS_CUPY = importlib.util.find_spec("cupy") is not None


def test_set_and_get_backend(backend_name):
    assert ad.get_backend() == backend_name
    ad.set_backend("numpy")
    assert ad.get_backend() == "numpy"
    assert backend.xp is np


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ad.BackendError, match=r"unknown backend 'torch'; known backends: numpy, cupy, strict"):
        ad.set_backend("torch")


def _python(code: str, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, cwd=ROOT)


def test_environment_variable_selects_the_backend():
    r = _python("import autodiff as ad; print(ad.get_backend())", MINIOPTIM_BACKEND="strict")
    assert r.stdout.strip() == "strict", r.stderr
    r = _python("import autodiff", MINIOPTIM_BACKEND="tpu")
    assert r.returncode != 0
    assert "MINIOPTIM_BACKEND='tpu'" in r.stderr and "known backends: numpy, cupy, strict" in r.stderr


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed here; the missing-CuPy message cannot be shown")
def test_cupy_missing_gives_the_install_hint():
    with pytest.raises(ad.BackendError) as info:
        ad.set_backend("cupy")
    assert 'pip install "minioptim[gpu]"' in str(info.value)
    assert "set_backend('numpy')" in str(info.value)


def test_asarray_and_to_numpy_round_trip():
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    dev = backend.asarray(host)
    assert backend.is_array(dev) and backend.backend_of(dev).name == ad.get_backend()
    back = backend.to_numpy(dev)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, host)
    assert backend.asarray([1, 2], dtype="float64").dtype == np.float64


def test_array_module_follows_the_array(backend_name):
    dev = backend.asarray([1.0])
    assert backend.array_module(dev) is backend.xp
    assert backend.array_module(np.zeros(1)) is np


def test_host_array_in_a_device_graph_is_refused_with_the_fix(backend_name):
    if backend_name == "numpy":
        pytest.skip("on the numpy backend the host is the device")
    x = ad.Tensor([1.0, 2.0], requires_grad=True, name="x")
    with pytest.raises(ad.DeviceError) as info:
        x + np.ones(2)
    msg = str(info.value)
    assert "add" in msg and "numpy array" in msg and "tensor 'x'" in msg and "ad.Tensor(array)" in msg


def test_tensors_of_two_backends_are_refused_naming_the_tensor(backend_name):
    other = "numpy" if backend_name != "numpy" else "strict"
    a = ad.Tensor([1.0, 2.0], requires_grad=True)
    b = ad.Tensor([1.0, 2.0]).to(other)
    b.name = "b"
    with pytest.raises(ad.DeviceError) as info:
        a * b
    msg = str(info.value)
    assert f"b (shape (2,)) lives on the {other} backend" in msg
    assert f"tensor.to('{backend_name}')" in msg
    # and the suggested move works
    np.testing.assert_array_equal((a * b.to(backend_name)).numpy(), [1.0, 4.0])


def test_to_moves_between_backends_and_keeps_leaf_status():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = x.to("strict")
    assert y.backend == "strict" and y.requires_grad and y.is_leaf
    assert y.to("numpy").backend == "numpy"


ENGINE = ROOT / "autodiff"
# the backends, and the host-side file formats (atomic writes, .npz): no device arrays there
ALLOWED = {"backend.py", "backend_strict.py", "files.py"}


def _device_imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            if n.split(".")[0] in ("numpy", "cupy", "cupyx"):
                yield f"{path.name}:{node.lineno} imports {n}"


def test_no_engine_module_but_the_backend_imports_numpy_or_cupy():
    offenders = [hit for p in sorted(ENGINE.rglob("*.py")) if p.name not in ALLOWED
                 for hit in _device_imports(p)]
    assert offenders == [], "device code must use autodiff.backend: " + "; ".join(offenders)


def test_the_import_check_sees_an_offender(tmp_path):
    bad = tmp_path / "ops.py"
    bad.write_text("import math\nfrom numpy.linalg import norm\nif True:\n    import cupy as cp\n")
    assert list(_device_imports(bad)) == ["ops.py:2 imports numpy.linalg", "ops.py:4 imports cupy"]
