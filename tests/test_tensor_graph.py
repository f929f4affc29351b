"""Tensor basics and the graph walk: accumulation, reuse, no_grad, deep graphs, freeing."""
import numpy as np
import pytest

import autodiff as ad


def test_attributes_and_default_dtype():
    x = ad.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4
    assert x.dtype == np.float32                       # float32 by default
    assert ad.Tensor(np.ones(3)).dtype == np.float32   # even from float64 NumPy data
    assert ad.Tensor([1.0], dtype="float64").dtype == np.float64
    assert ad.Tensor([1, 2]).dtype.kind == "i"         # integers stay integers
    assert x.grad is None and x.requires_grad and x.is_leaf
    np.testing.assert_array_equal(x.numpy(), [[1, 2], [3, 4]])
    assert ad.Tensor([[5.0]]).item() == 5.0


def test_constructor_copies_and_numpy_returns_a_copy():
    host = np.array([1.0, 2.0], dtype=np.float32)
    x = ad.Tensor(host)
    x.data += 1                      # what an optimizer does
    assert host.tolist() == [1.0, 2.0]
    snapshot = x.numpy()
    x.data += 1
    assert snapshot.tolist() == [2.0, 3.0]


def test_detach_shares_data_but_leaves_the_graph():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])


def test_gradient_of_a_simple_expression_matches_hand_derivation():
    # f(x, w) = sum(tanh(x * w)); df/dw = x (1 - tanh(x w)^2)
    xh, wh = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])
    x, w = ad.Tensor(xh, dtype="float64"), ad.Tensor(wh, dtype="float64", requires_grad=True)
    (x * w).tanh().sum().backward()
    np.testing.assert_allclose(ad.backend.to_numpy(w.grad), xh * (1 - np.tanh(xh * wh) ** 2))
    assert x.grad is None  # it did not ask for one


def test_node_used_twice_accumulates_both_paths():
    x = ad.Tensor([3.0], requires_grad=True)
    y = x * x + x          # dy/dx = 2x + 1 = 7
    y.sum().backward()
    assert ad.backend.to_numpy(x.grad).tolist() == [7.0]


def test_shared_subexpression_diamond():
    x = ad.Tensor([2.0], requires_grad=True)
    a = x.exp()
    y = a * a + a.log()    # exp(2x) + x; dy/dx = 2 exp(2x) + 1
    y.sum().backward()
    np.testing.assert_allclose(ad.backend.to_numpy(x.grad), [2 * np.exp(4.0) + 1], rtol=1e-6)


def test_leaf_gradients_accumulate_until_zeroed():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert ad.backend.to_numpy(x.grad).tolist() == [6.0, 6.0]
    x.zero_grad()
    (x * 3).sum().backward()
    assert ad.backend.to_numpy(x.grad).tolist() == [3.0, 3.0]


def test_grads_of_two_leaves_never_alias():
    a = ad.Tensor([1.0, 2.0], requires_grad=True)
    b = ad.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()          # the same gradient array reaches both
    a.grad *= 10                      # an in-place update of one gradient ...
    assert ad.backend.to_numpy(b.grad).tolist() == [1.0, 1.0]   # ... leaves the other alone


def test_no_grad_records_nothing():
    x = ad.Tensor([1.0], requires_grad=True)
    with ad.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    assert ad.is_grad_enabled()

    @ad.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad


def test_chain_of_20000_operations_backpropagates_without_recursion_error():
    x = ad.Tensor([1.0], dtype="float64", requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(ad.backend.to_numpy(x.grad), [1.0001 ** 20000], rtol=1e-9)


def test_rnn_unrolled_1000_steps():
    # h_t = tanh(w * h_{t-1} + x_t); compare dL/dw with a hand-written backward in NumPy
    steps = 1000
    xs = np.random.default_rng(0).normal(size=steps) * 0.1
    w = ad.Tensor([0.5], dtype="float64", requires_grad=True)
    h = ad.Tensor([0.0], dtype="float64")
    for t in range(steps):
        h = (w * h + float(xs[t])).tanh()
    h.sum().backward()
    hs = [0.0]
    for t in range(steps):
        hs.append(np.tanh(0.5 * hs[-1] + xs[t]))
    dh, dw = 1.0, 0.0
    for t in range(steps, 0, -1):
        da = dh * (1 - hs[t] ** 2)
        dw += da * hs[t - 1]
        dh = da * 0.5
    np.testing.assert_allclose(ad.backend.to_numpy(w.grad), [dw], rtol=1e-9)


def test_graph_is_freed_after_backward_unless_retained():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(ad.backend.to_numpy(x.grad), 4 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    assert ad.backend.to_numpy(h.grad).tolist() == [6.0, 12.0]


def test_backward_with_explicit_gradient():
    x = ad.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.backward(ad.Tensor([1.0, 0.0, -1.0]))
    assert ad.backend.to_numpy(x.grad).tolist() == [2.0, 0.0, -2.0]


def test_grad_dtype_follows_the_leaf():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)                 # float32
    (x * ad.Tensor([0.5, 0.5], dtype="float64")).sum().backward()  # computed in float64
    assert x.grad.dtype == np.float32


def test_python_scalars_both_ways_keep_float32():
    x = ad.Tensor([1.0, 2.0, 4.0], requires_grad=True)
    for y in (2 * x, x * 2, x / 3, 3 / x, 1 - x, x - 1, 1 + x, x ** 2, 2 ** x, -x):
        assert y.dtype == np.float32
    (2 * x + x / 4 - 1 / x).sum().backward()
    np.testing.assert_allclose(ad.backend.to_numpy(x.grad), 2 + 0.25 + 1 / np.array([1, 4, 16.0]))


def test_numpy_array_on_the_left_calls_the_tensor_operator(backend_name):
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    if backend_name == "numpy":
        y = np.array([3.0, 4.0]) * x
        assert isinstance(y, ad.Tensor)
        assert y.numpy().tolist() == [3.0, 8.0]
    else:
        with pytest.raises(ad.DeviceError, match="ad.Tensor"):
            np.array([3.0, 4.0]) * x


def test_comparisons_give_masks_outside_the_graph():
    x = ad.Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    m = x > 0
    assert m.dtype == np.bool_ and not m.requires_grad
    y = ad.where(m, x, 0.0 * x)
    y.sum().backward()
    assert ad.backend.to_numpy(x.grad).tolist() == [0.0, 1.0, 1.0]


def test_setitem_on_constants_only():
    c = ad.zeros(3)
    c[1] = 5.0
    assert c.numpy().tolist() == [0.0, 5.0, 0.0]
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        x[0] = 3.0


def test_manual_seed_repeats_random_tensors():
    ad.manual_seed(123)
    a = ad.randn(4, 3).numpy()
    ad.manual_seed(123)
    b = ad.randn(4, 3).numpy()
    np.testing.assert_array_equal(a, b)
    # the same numbers on every backend: drawn on the host, then moved
    np.testing.assert_array_equal(a, np.random.default_rng(123).standard_normal((4, 3)).astype(np.float32))


def test_repr_names_grad_fn():
    x = ad.Tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=Mul" in repr(x * 2)
