"""Every test runs on the active backend.

Without MINIOPTIM_BACKEND the suite runs twice over: on ``numpy`` and on ``strict`` (NumPy
arrays that refuse implicit host conversion, as CuPy does), so a stray ``np.`` call in device
code fails here even without a GPU. ``MINIOPTIM_BACKEND=cupy python -m pytest`` runs it on a GPU.
"""
import os
import socket

import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

import autodiff as ad

settings.register_profile(
    "minioptim", deadline=None, max_examples=25, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("minioptim")

# One BLAS thread: on a loaded 2-core machine OpenBLAS's threads make small products up to ~10x
# slower, and the tests time nothing.
threadpool_limits(1)

BACKENDS = [os.environ["MINIOPTIM_BACKEND"]] if os.environ.get("MINIOPTIM_BACKEND") \
    else ["numpy", "strict"]


@pytest.fixture(autouse=True, params=BACKENDS)
def backend_name(request):
    """Select the backend for the test and seed it; restore afterwards."""
    ad.set_backend(request.param)
    ad.manual_seed(0)
    yield request.param
    ad.set_backend(BACKENDS[0])


@pytest.fixture(params=["kernels", "reference"])
def layer_path(request):
    """Run the test twice: with the kernels of ``autodiff.kernels`` on, then with every layer on
    its reference implementation (``ad.use_kernels(False)``)."""
    with ad.use_kernels(request.param == "kernels"):
        yield request.param


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data test may reach the network or the user's cache."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("MINIOPTIM_DATA", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def execute_lesson(tmp_path_factory):
    """``execute_lesson(path) -> (notebook, error, probe)``: a lesson executed headless with its
    probe, at most once per test session (``tests/lesson_kernel.py``)."""
    from lesson_kernel import LessonRunner
    return LessonRunner(tmp_path_factory.mktemp("jupyter"))
