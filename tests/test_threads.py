"""The CPU thread pool: order of results, errors, nesting, settings; and the operations that use
it give bitwise the same numbers on one thread and on several (the chunks are the same, and
partial sums are added in chunk order)."""
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import autodiff as ad
import autodiff.kernels.batch_norm as norm_module
import autodiff.kernels.conv2d as conv_module
from autodiff.kernels import threads
from autodiff.nn import functional as F


@pytest.fixture
def two_threads():
    old = threads.num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(old)


def test_map_chunks_keeps_the_order_and_uses_other_threads(two_threads):
    seen = set()
    both_started = threading.Barrier(2, timeout=10)

    def work(i):
        if threading.get_ident() not in seen:     # each thread's first item waits for the other
            seen.add(threading.get_ident())
            both_started.wait()
        return i * i
    assert threads.map_chunks(work, list(range(11))) == [i * i for i in range(11)]
    assert len(seen) == 2                          # the caller and one pool thread


def test_map_chunks_raises_the_error_after_every_thread_stopped(two_threads):
    calls = []

    def work(i):
        calls.append(i)
        time.sleep(0.001)
        if i == 3:
            raise ValueError("chunk 3 failed")
        return i
    with pytest.raises(ValueError, match="chunk 3 failed"):
        threads.map_chunks(work, list(range(200)))
    made = len(calls)
    time.sleep(0.05)
    assert len(calls) == made < 200                # nothing runs on, nothing more was started


def test_nested_map_chunks_runs_inline(two_threads):
    def inner(i):
        return threading.get_ident()

    def outer(i):
        return set(threads.map_chunks(inner, [0, 1, 2])) == {threading.get_ident()}
    assert all(threads.map_chunks(outer, [0, 1, 2, 3]))


def test_blas_runs_on_one_thread_once_the_kernels_are_loaded():
    code = ("from threadpoolctl import threadpool_info; import autodiff.kernels.threads; "
            "print([lib['num_threads'] for lib in threadpool_info() if lib['user_api'] == 'blas'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"OPENBLAS_NUM_THREADS": "2", "PATH": ""})
    counts = eval(out.stdout.strip())
    assert counts and all(n == 1 for n in counts), out.stderr


@pytest.fixture
def busy_helper(two_threads):
    """The pool's only helper thread, kept busy (as another program would keep its core)."""
    release = threading.Event()
    threads._pool().submit(release.wait, 30)
    yield release
    release.set()
    threads._state.solo_until, threads._state.miss_rate = 0.0, 0.0
    threads._state.solo_seconds = threads.SOLO_FIRST


def test_the_caller_does_not_wait_for_a_helper_that_never_started(busy_helper):
    start = time.perf_counter()
    idents = threads.map_chunks(lambda i: threading.get_ident(), list(range(6)))
    assert time.perf_counter() - start < 5                  # not the 30 s the helper is held
    assert set(idents) == {threading.get_ident()}


def test_helpers_that_keep_missing_send_the_work_to_the_caller_for_a_while(busy_helper):
    def slow(i):
        time.sleep(0.001)
        return threading.get_ident()
    for _ in range(6):                                      # six operations missed in a row
        threads.map_chunks(slow, list(range(4)))
    assert threads._state.solo_until > time.monotonic()
    busy_helper.set()                                       # the helper is free again ...
    time.sleep(0.05)
    assert set(threads.map_chunks(slow, list(range(8)))) == {threading.get_ident()}  # ... unused
    threads._state.solo_until = 0.0                         # the pause is over
    seen = set()
    both = threading.Barrier(2, timeout=10)

    def work(i):
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            both.wait()
        return i
    assert threads.map_chunks(work, list(range(6))) == list(range(6)) and len(seen) == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
        threads.set_num_threads(bad)


def test_environment_variable_sets_the_count_or_names_itself():
    code = "from autodiff import threads; print(threads.num_threads())"
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, env={"MINIOPTIM_NUM_THREADS": "3", "PATH": ""},
                         capture_output=True, text=True)
    assert out.stdout.strip() == "3"
    out = subprocess.run(run, env={"MINIOPTIM_NUM_THREADS": "many", "PATH": ""},
                         capture_output=True, text=True)
    assert "MINIOPTIM_NUM_THREADS must be a positive integer" in out.stderr
    assert "'many'" in out.stderr


def test_batch_chunks_cover_the_batch_in_whole_items():
    x = ad.Tensor(np.zeros((10, 3))).data
    assert threads.batch_chunks(x, 10, per_item=3, target=7) == [(0, 2), (2, 4), (4, 6), (6, 8),
                                                                  (8, 10)]
    assert threads.batch_chunks(x, 10, per_item=30, target=7) == [(i, i + 1) for i in range(10)]


def _conv_bn_step(n_threads):
    """conv (stride 1) -> batch norm -> relu -> conv (stride 2) -> batch norm, and backward."""
    threads.set_num_threads(n_threads)
    rng = np.random.default_rng(0)

    def param(*shape):
        return ad.Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    x, w1, w2, gamma, beta = param(9, 3, 12, 12), param(4, 3, 3, 3), param(4, 4, 3, 3), \
        param(4), param(4)
    y = F.batch_norm(F.conv2d(x, w1, None, 1, 1), None, None, gamma, beta, training=True)
    z = F.batch_norm(F.conv2d(y.relu(), w2, None, 2, 1), None, None, gamma, beta, training=True)
    (z * z).sum().backward()
    return [ad.backend.to_numpy(t.data if isinstance(t, ad.Tensor) else t)
            for t in (z, x.grad, w1.grad, w2.grad, gamma.grad, beta.grad)]


def test_conv_and_batch_norm_are_bitwise_the_same_on_one_and_two_threads(monkeypatch):
    monkeypatch.setattr(conv_module, "CHUNK_ELEMENTS", 2000)
    monkeypatch.setattr(norm_module, "CHUNK_ELEMENTS", 300)
    old = threads.num_threads()
    try:
        one, two = _conv_bn_step(1), _conv_bn_step(2)
    finally:
        threads.set_num_threads(old)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


def test_slices_cover_the_array_once(two_threads):
    flat = ad.Tensor(np.zeros(1000)).data
    hits = np.zeros(1000, dtype=int)
    lock = threading.Lock()

    def mark(s):
        with lock:
            hits[s] += 1
    threads.slices(mark, flat, target=64)
    assert (hits == 1).all()


def test_relu_over_many_slices_is_the_definition(two_threads):
    """A large activation is cut in slices on two threads; values and gradient as one max."""
    rng = np.random.default_rng(3)
    xh = rng.standard_normal((3, 7, 110, 130)).astype(np.float32)     # > 2**18 entries
    xh[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]
    gh = rng.standard_normal(xh.shape).astype(np.float32)
    x = ad.Tensor(xh, requires_grad=True)
    y = F.relu(x)                                  # the kernel
    y.backward(ad.Tensor(gh))
    np.testing.assert_array_equal(ad.backend.to_numpy(y.data), np.maximum(xh, 0))
    np.testing.assert_array_equal(ad.backend.to_numpy(x.grad.data if isinstance(x.grad, ad.Tensor)
                                                      else x.grad), gh * (xh > 0))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool(two_threads):
    """After the pool has run, a child made by fork (multiprocessing's default on Linux before
    Python 3.14) still runs chunked work instead of waiting for the parent's threads."""
    import multiprocessing
    threads.map_chunks(lambda i: i, list(range(8)))              # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_child_work)
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0


def _child_work():
    x = ad.Tensor(np.arange(3 * 4 * 200 * 200, dtype=np.float32).reshape(3, 4, 200, 200) - 1e5)
    y = F.relu(x)                                  # the kernel: slices on two threads
    sys.exit(0 if float(y.data.min()) == 0.0 else 1)


def test_two_callers_at_once_each_get_their_results(two_threads):
    gate = threading.Barrier(2, timeout=10)

    def caller(results, k):
        gate.wait()
        results[k] = threads.map_chunks(lambda i: (time.sleep(0.002), k * 100 + i)[1],
                                        list(range(20)))
    results = {}
    users = [threading.Thread(target=caller, args=(results, k)) for k in range(2)]
    for t in users:
        t.start()
    for t in users:
        t.join(timeout=30)
    assert results == {k: [k * 100 + i for i in range(20)] for k in range(2)}


@pytest.mark.parametrize("m, n", [(64, 3), (2, 40)], ids=["blocks-of-rows", "blocks-of-columns"])
def test_blocked_matmul_adds_a_row_in_each_block(monkeypatch, two_threads, m, n):
    """threads.matmul(a, b, add) = a @ b + add, the same numbers however the product is cut."""
    if ad.get_backend() != "numpy":
        pytest.skip("the blocks are a CPU path")
    monkeypatch.setattr(threads, "BLOCK_FLOPS", 1)            # every product in blocks
    rng = np.random.default_rng(0)
    a, b, add = rng.normal(size=(m, 7)), rng.normal(size=(7, n)), rng.normal(size=n)
    np.testing.assert_allclose(threads.matmul(a, b, add=add), a @ b + add, rtol=1e-13)
    np.testing.assert_allclose(threads.matmul(a, b), a @ b, rtol=1e-13)
    monkeypatch.setattr(threads, "BLOCK_FLOPS", 1 << 40)      # one product
    np.testing.assert_allclose(threads.matmul(a, b, add=add), a @ b + add, rtol=1e-13)
