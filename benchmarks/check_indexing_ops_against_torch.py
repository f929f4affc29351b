"""Side by side with PyTorch (the `bench` extra): expand, broadcast_to, gather, scatter_add,
masked_fill, F.one_hot and F.pad (all modes, negative pads) give torch's values and gradients,
in float64, on random inputs (index tensors with repeats).

    python benchmarks/check_indexing_ops_against_torch.py

Prints the largest absolute difference of each check; exits 1 if one exceeds 1e-10. Kept out
of the test suite on purpose: the tests never need PyTorch.
"""
import sys

import numpy as np

import autodiff as ad
from autodiff.nn import functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    print("check_indexing_ops_against_torch.py compares with PyTorch, which is not installed "
          "(pip install -e '.[bench]'); nothing checked.")
    sys.exit(0)

TOL = 1e-10
rng = np.random.default_rng(7)


def run(mine, theirs, *arrays, index_free=()):
    """Values and input gradients of sum(r * f(inputs)) in both libraries; the largest
    absolute difference. Arrays at the positions in ``index_free`` get no gradient."""
    ts = [ad.Tensor(a, dtype=str(a.dtype), requires_grad=a.dtype.kind == "f" and
                    i not in index_free) for i, a in enumerate(arrays)]
    tt = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and i not in index_free)
          for i, a in enumerate(arrays)]
    out, tout = mine(*ts), theirs(*tt)
    worst = np.abs(out.numpy() - tout.detach().numpy()).max(initial=0.0)
    if tout.dtype.is_floating_point and out.requires_grad:
        r = rng.normal(size=tout.shape)
        (out * ad.Tensor(r, dtype="float64")).sum().backward()
        (tout * torch.tensor(r)).sum().backward()
        for t, u in zip(ts, tt):
            if u.requires_grad:
                worst = max(worst, np.abs(ad.backend.to_numpy(t.grad) - u.grad.numpy()).max())
    return worst


def checks():
    x = rng.normal(size=(3, 1, 4))
    yield "expand(2, 3, 5, -1)", run(lambda t: t.expand(2, 3, 5, -1),
                                     lambda t: t.expand(2, 3, 5, -1), x)
    yield "broadcast_to (4, 3, 2, 4)", run(lambda t: ad.broadcast_to(t, (4, 3, 2, 4)),
                                           lambda t: torch.broadcast_to(t, (4, 3, 2, 4)), x)
    a = rng.normal(size=(4, 5, 3))
    for dim in (0, 1, -1):
        ishape = [3, 4, 2]
        ishape[dim] = 6
        idx = rng.integers(0, a.shape[dim], size=ishape)
        yield f"gather dim={dim}", run(lambda t, i: t.gather(dim, i),
                                       lambda t, i: t.gather(dim, i), a, idx)
        src = rng.normal(size=ishape)
        yield f"scatter_add dim={dim}", run(lambda t, i, s: t.scatter_add(dim, i, s),
                                            lambda t, i, s: t.scatter_add(dim, i, s),
                                            a, idx, src)
        # torch's backward refuses a src larger than index (its gradient would have index's
        # shape); the values still compare
        big = rng.normal(size=[n + 1 for n in ishape])
        yield f"scatter_add dim={dim} larger src", run(
            lambda t, i, s: t.scatter_add(dim, i, s), lambda t, i, s: t.scatter_add(dim, i, s),
            a, idx, big, index_free=(0, 2))
    mask = rng.random(size=(5, 1)) > 0.5
    yield "masked_fill (number)", run(lambda t, m: t.masked_fill(m, -2.5),
                                      lambda t, m: t.masked_fill(m, -2.5), a, mask)
    v = np.array(0.75)
    yield "masked_fill (0-d tensor)", run(lambda t, m, w: t.masked_fill(m, w),
                                          lambda t, m, w: t.masked_fill(m, w), a, mask, v)
    labels = rng.integers(0, 6, size=(3, 4))
    yield "one_hot", run(lambda t: F.one_hot(t), lambda t: TF.one_hot(t), labels)
    yield "one_hot num_classes=9", run(lambda t: F.one_hot(t, 9), lambda t: TF.one_hot(t, 9),
                                       labels)
    img = rng.normal(size=(2, 3, 5, 6))
    cases = [("constant", (1, 2), 0.5), ("constant", (2, -1, -2, 3), -1.0),
             ("constant", (1, 1, 0, 2, 1, -1), 0.0), ("reflect", (2, 3), 0.0),
             ("reflect", (-1, 2, 4, -2), 0.0), ("replicate", (3, 1, 2, 5), 0.0),
             ("replicate", (-2, 4), 0.0), ("circular", (2, 6, 1, -2), 0.0)]
    for mode, pad, value in cases:
        kw = {"value": value} if mode == "constant" else {}
        x = img if len(pad) > 2 or mode == "constant" else img[0]   # torch's rank rules
        yield f"pad {mode} {pad}", run(lambda t: F.pad(t, pad, mode=mode, **kw),
                                       lambda t: TF.pad(t, pad, mode=mode, **kw), x)


def main() -> None:
    ad.set_backend("numpy")
    failed = False
    for name, worst in checks():
        bad = worst > TOL
        failed |= bad
        print(f"{name:32s} max abs diff {worst:.2e}{'  MISMATCH' if bad else ''}")
    print("MISMATCH above 1e-10" if failed else
          "all agree with PyTorch (values and gradients, float64, within 1e-10)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
