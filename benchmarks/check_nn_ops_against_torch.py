"""Side by side with PyTorch (the `bench` extra): the activations, cross-entropy's options and
scaled dot-product attention give torch.nn.functional's values and gradients, in float64, on
random inputs, on both paths (kernels and reference) where there are two.

    python benchmarks/check_nn_ops_against_torch.py

Prints the largest absolute difference of each check; exit status 1 if one exceeds 1e-10.
Kept out of the test suite on purpose: the tests never need PyTorch.
"""
import sys

import numpy as np

import autodiff as ad
from autodiff.nn import functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    print("check_nn_ops_against_torch.py compares with PyTorch, which is not installed: "
          "pip install -e '.[bench]'. Nothing was checked.")
    sys.exit(0)

TOL = 1e-10
rng = np.random.default_rng(7)
failures = []


def compare(name, ours, theirs, inputs, grad_of=None):
    """Run ``ours`` on autodiff tensors and ``theirs`` on torch tensors made from the same
    float64 host ``inputs`` (float arrays get gradients), backpropagate the same random output
    gradient, and print the largest differences of the value and of every gradient."""
    grad_of = [i for i, a in enumerate(inputs) if a.dtype.kind == "f"] if grad_of is None \
        else grad_of
    a = [ad.Tensor(x, dtype=str(x.dtype), requires_grad=i in grad_of)
         for i, x in enumerate(inputs)]
    t = [torch.tensor(x, requires_grad=i in grad_of) for i, x in enumerate(inputs)]
    y, ty = ours(*a), theirs(*t)
    g = rng.standard_normal(ty.shape)
    y.backward(ad.Tensor(g, dtype="float64"))
    ty.backward(torch.tensor(g))
    diffs = [_diff(y.numpy(), ty.detach().numpy())]
    diffs += [_diff(ad.backend.to_numpy(a[i].grad), t[i].grad.numpy()) for i in grad_of]
    worst = max(diffs)
    ok = worst <= TOL
    if not ok:
        failures.append(name)
    print(f"{'ok ' if ok else 'BAD'} {name:<58} value {diffs[0]:.1e}  grads "
          + " ".join(f"{d:.1e}" for d in diffs[1:]))


def _diff(mine, theirs):
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    both_nan = np.isnan(mine) & np.isnan(theirs)
    if (np.isnan(mine) != np.isnan(theirs)).any():
        return float("inf")
    return float(np.abs(np.where(both_nan, 0.0, mine - theirs)).max(initial=0.0))


def activations():
    x = rng.standard_normal((6, 7)) * 4
    x[0, :5] = [0.0, 25.0, -25.0, 30.0, -40.0]
    compare("gelu (erf)", F.gelu, TF.gelu, [x])
    compare("gelu (tanh)", lambda a: F.gelu(a, approximate="tanh"),
            lambda a: TF.gelu(a, approximate="tanh"), [x])
    compare("silu", F.silu, TF.silu, [x])
    compare("leaky_relu (0.01)", F.leaky_relu, TF.leaky_relu, [x])
    compare("leaky_relu (0.2)", lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2),
            [x])
    compare("softplus", F.softplus, TF.softplus, [x])
    compare("softplus (beta 2, threshold 5)", lambda a: F.softplus(a, 2.0, 5.0),
            lambda a: TF.softplus(a, 2.0, 5.0), [x])
    compare("elu", F.elu, TF.elu, [x])
    compare("elu (alpha 0.7)", lambda a: F.elu(a, 0.7), lambda a: TF.elu(a, 0.7), [x])


def cross_entropies():
    for shape in [(5, 4), (3, 4, 2)]:
        x = rng.standard_normal(shape) * 3
        index = rng.integers(0, shape[1], (shape[0],) + shape[2:])
        index.reshape(-1)[::3] = -100
        probs = rng.random(shape)
        probs /= probs.sum(axis=1, keepdims=True)
        for kernels in (True, False):
            path = "kernel" if kernels else "reference"
            for red in ("mean", "sum", "none"):
                for eps in (0.0, 0.25):
                    kw = dict(reduction=red, label_smoothing=eps)
                    with ad.use_kernels(kernels):
                        compare(f"cross_entropy {shape} index  {red:<4} eps={eps} {path}",
                                lambda a, t: F.cross_entropy(a, t, **kw),
                                lambda a, t: TF.cross_entropy(a, t, **kw), [x, index])
                        compare(f"cross_entropy {shape} probs  {red:<4} eps={eps} {path}",
                                lambda a, t: F.cross_entropy(a, t, **kw),
                                lambda a, t: TF.cross_entropy(a, t, **kw), [x, probs])


def attention():
    B, H, L, S, E, Ev = 2, 3, 4, 5, 6, 3
    q, k, v = (rng.standard_normal(s) for s in [(B, H, L, E), (B, H, S, E), (B, H, S, Ev)])
    sdpa, tsdpa = F.scaled_dot_product_attention, TF.scaled_dot_product_attention
    compare("sdpa", sdpa, tsdpa, [q, k, v])
    compare("sdpa scale=0.3", lambda *a: sdpa(*a, scale=0.3), lambda *a: tsdpa(*a, scale=0.3),
            [q, k, v])
    compare("sdpa is_causal (L < S)", lambda *a: sdpa(*a, is_causal=True),
            lambda *a: tsdpa(*a, is_causal=True), [q, k, v])
    q2 = rng.standard_normal((B, H, 6, E))
    compare("sdpa is_causal (L > S)", lambda *a: sdpa(*a, is_causal=True),
            lambda *a: tsdpa(*a, is_causal=True), [q2, k, v])
    keep = rng.random((L, S)) < 0.7
    keep[:, 0] = True
    compare("sdpa bool mask (L, S)", lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
            lambda q, k, v, m: tsdpa(q, k, v, attn_mask=m), [q, k, v, keep])
    add = rng.standard_normal((B, 1, L, S))
    compare("sdpa float mask (B, 1, L, S)", lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
            lambda q, k, v, m: tsdpa(q, k, v, attn_mask=m), [q, k, v, add])
    dead = keep.copy()
    dead[1] = False
    compare("sdpa bool mask, a row fully masked (zeros)",
            lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
            lambda q, k, v, m: tsdpa(q, k, v, attn_mask=m), [q, k, v, dead])
    add[:, :, 2] = -np.inf
    compare("sdpa float mask, a row all -inf (zeros)",
            lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
            lambda q, k, v, m: tsdpa(q, k, v, attn_mask=m), [q, k, v, add], grad_of=[0, 1, 2])


def main() -> None:
    ad.set_backend("numpy")
    torch.manual_seed(0)
    activations()
    cross_entropies()
    attention()
    if failures:
        print(f"{len(failures)} mismatch(es) above {TOL}: {', '.join(failures)}")
        sys.exit(1)
    print(f"all checks agree with PyTorch within {TOL} (float64)")


if __name__ == "__main__":
    main()
