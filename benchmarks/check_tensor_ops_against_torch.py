"""Side by side with PyTorch (the `bench` extra): var, std, argmax/argmin, cumsum, logsumexp, sin,
cos, tril/triu, clone and einsum give torch's values and gradients, in float64, on random inputs.

    python benchmarks/check_tensor_ops_against_torch.py

Prints the largest absolute difference per check; exits 1 if one is above 1e-10. Kept out of
the test suite on purpose: the tests never need PyTorch.
"""
import sys

import numpy as np

import autodiff as ad

try:
    import torch
except ImportError:
    print("check_tensor_ops_against_torch.py compares with PyTorch, which is not installed: "
          "pip install -e '.[bench]'. Nothing checked.")
    sys.exit(0)

TOL = 1e-10
rng = np.random.default_rng(0)


def compare(name, ours, theirs, shapes, grad=True):
    """Run both functions on the same float64 inputs, backpropagate the same random weights
    through the outputs, and return the worst absolute difference (values, then gradients)."""
    xs = [rng.normal(size=s) for s in shapes]
    a = [ad.Tensor(x, dtype="float64", requires_grad=grad) for x in xs]
    t = [torch.tensor(x, requires_grad=grad) for x in xs]
    ya, yt = ours(*a), theirs(*t)
    ya_h, yt_h = ya.numpy(), yt.detach().numpy()
    worst = float(np.max(np.abs(ya_h - yt_h), initial=0.0)) if ya_h.shape == yt_h.shape \
        else float("inf")
    if grad:
        w = rng.normal(size=yt_h.shape)
        (ya * ad.Tensor(w, dtype="float64")).sum().backward()
        (yt * torch.tensor(w)).sum().backward()
        for p, q in zip(a, t):
            gp = ad.backend.to_numpy(p.grad)
            worst = max(worst, float(np.max(np.abs(gp - q.grad.numpy()), initial=0.0)))
    print(f"{name:<44} max abs diff {worst:.2e}")
    return worst


def checks():
    X = (3, 4, 5)
    for dim, keep in [(None, False), (1, True), (-1, False), ((0, 2), True)]:
        for c in (0, 1):
            yield (f"var(dim={dim}, keepdim={keep}, correction={c})",
                   lambda x, d=dim, k=keep, c=c: x.var(d, k, correction=c),
                   lambda x, d=dim, k=keep, c=c: x.var(d, keepdim=k, correction=c), [X])
            yield (f"std(dim={dim}, keepdim={keep}, correction={c})",
                   lambda x, d=dim, k=keep, c=c: ad.std(x, d, k, correction=c),
                   lambda x, d=dim, k=keep, c=c: x.std(d, keepdim=k, correction=c), [X])
    for dim, keep in [(None, False), (None, True), (0, False), (-1, True)]:
        for op in ("argmax", "argmin"):
            yield (f"{op}(dim={dim}, keepdim={keep})",
                   lambda x, o=op, d=dim, k=keep: getattr(x, o)(d, k),
                   lambda x, o=op, d=dim, k=keep: getattr(x, o)(d, keepdim=k), [X], False)
    for dim in (0, 1, -1):
        yield f"cumsum(dim={dim})", lambda x, d=dim: x.cumsum(d), \
            lambda x, d=dim: x.cumsum(d), [X]
    for dim, keep in [(1, False), (-1, True), ((0, 2), False)]:
        yield (f"logsumexp(dim={dim}, keepdim={keep})",
               lambda x, d=dim, k=keep: ad.logsumexp(x * 300, d, k),
               lambda x, d=dim, k=keep: torch.logsumexp(x * 300, d, keepdim=k), [X])
    yield "sin", ad.sin, torch.sin, [X]
    yield "cos", lambda x: x.cos(), torch.cos, [X]
    for k in (-1, 0, 2):
        yield f"tril(diagonal={k})", lambda x, k=k: x.tril(k), lambda x, k=k: x.tril(k), [X]
        yield f"triu(diagonal={k})", lambda x, k=k: ad.triu(x, k), \
            lambda x, k=k: x.triu(k), [X]
    yield "clone", lambda x: x.clone() * x, lambda x: x.clone() * x, [X]
    for eq, shapes in [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 2), (2, 2, 4)]),
                       ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]), ("i,j->ij", [(3,), (4,)]),
                       ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
                       ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ii", [(3, 3)]),
                       ("iij,j->ij", [(2, 2, 3), (3,)]),
                       ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)])]:
        yield f"einsum('{eq}')", lambda *x, e=eq: ad.einsum(e, *x), \
            lambda *x, e=eq: torch.einsum(e, *x), shapes


def main() -> None:
    ad.set_backend("numpy")
    worst = 0.0
    for name, ours, theirs, shapes, *grad in checks():
        worst = max(worst, compare(name, ours, theirs, shapes, *grad))
    if worst > TOL:
        print(f"MISMATCH: largest difference {worst:.2e} > {TOL:g}")
        sys.exit(1)
    print(f"all ops agree with PyTorch (float64, values and gradients, max abs diff {worst:.2e})")


if __name__ == "__main__":
    main()
