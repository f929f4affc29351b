"""Side by side with PyTorch (the `bench` extra): minioptim's RMSprop (every option), Adam and
AdamW with amsgrad, and maximize on SGD, AdaGrad, RMSprop, Adam and AdamW take torch.optim's
steps: 30 steps in float64 from the same start, each gradient taken at each side's own iterate
(g_t = H w + b_t, b_t random), so a difference in one step would grow in the next ones.

    python benchmarks/check_optimizers_against_torch.py

Prints the largest |difference| of the iterates and of the optimizer state for each case;
exits 1 if any is above 1e-10. Kept out of the test suite on purpose: the tests never need
PyTorch.
"""
import itertools
import sys

import numpy as np

import autodiff as ad
import minioptim as mo

try:
    import torch
except ImportError:
    print("check_optimizers_against_torch.py compares with PyTorch, which is not installed "
          "(pip install -e '.[bench]'); nothing was checked")
    sys.exit(0)

STEPS, TOL = 30, 1e-10
SHAPES = [(4,), (3, 2)]
# minioptim's state name -> torch's
ADAM_STATE = {"m": "exp_avg", "v": "exp_avg_sq", "max_exp_avg_sq": "max_exp_avg_sq"}
STATE_NAMES = {"RMSprop": {"v": "square_avg", "g_bar": "grad_avg", "b": "momentum_buffer"},
               "Adam": ADAM_STATE, "AdamW": ADAM_STATE, "SGD": {"m": "momentum_buffer"},
               "AdaGrad": {"sum_sq": "sum"}}


def problem(seed):
    r = np.random.default_rng(seed)
    w0 = [r.normal(size=s) for s in SHAPES]
    curv = [r.uniform(0.1, 4.0, size=s) for s in SHAPES]
    shifts = [[2.0 * r.normal(size=s) for s in SHAPES] for _ in range(STEPS)]
    return w0, lambda ws, t: [h * w + b for h, w, b in zip(curv, ws, shifts[t])]


def compare(ours, theirs, kwargs, seed):
    """max |w - w_torch| over all steps and parameters, and max |state - state_torch| at the end."""
    w0, grad = problem(seed)
    ps = [mo.Point(w) for w in w0]
    tps = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in w0]
    opt, topt = ours(ps, **kwargs), theirs(tps, **kwargs)
    worst = 0.0
    for t in range(STEPS):
        for p, g in zip(ps, grad([ad.backend.to_numpy(p.data) for p in ps], t)):
            p.grad = ad.backend.asarray(g)
        for p, g in zip(tps, grad([p.detach().numpy() for p in tps], t)):
            p.grad = torch.from_numpy(np.array(g))
        opt.step()
        topt.step()
        for p, tp in zip(ps, tps):
            worst = max(worst, float(np.max(np.abs(ad.backend.to_numpy(p.data)
                                                   - tp.detach().numpy()))))
    names = STATE_NAMES[ours.__name__]
    state_worst = 0.0
    for p, tp in zip(ps, tps):
        for mine, theirs_name in names.items():
            if mine in opt.state[id(p)]:
                diff = ad.backend.to_numpy(opt.state[id(p)][mine]) \
                    - topt.state[tp][theirs_name].numpy()
                state_worst = max(state_worst, float(np.max(np.abs(diff))))
    return worst, state_worst


def cases():
    for centered, momentum, wd, maximize in itertools.product(
            [False, True], [0.0, 0.9], [0.0, 0.1], [False, True]):
        yield mo.RMSprop, torch.optim.RMSprop, dict(
            lr=0.01, alpha=0.9, eps=1e-6, centered=centered, momentum=momentum,
            weight_decay=wd, maximize=maximize)
    for (ours, theirs), amsgrad, wd, maximize in itertools.product(
            [(mo.Adam, torch.optim.Adam), (mo.AdamW, torch.optim.AdamW)],
            [False, True], [0.0, 0.1], [False, True]):
        yield ours, theirs, dict(lr=0.03, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd,
                                 amsgrad=amsgrad, maximize=maximize)
    for maximize in (False, True):
        yield mo.SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.9, dampening=0, nesterov=True,
                                            weight_decay=0.1, maximize=maximize)
        yield mo.AdaGrad, torch.optim.Adagrad, dict(lr=0.1, eps=1e-10, weight_decay=0.1,
                                                    maximize=maximize)


def main() -> int:
    ad.set_backend("numpy")
    failed = 0
    print(f"{'optimizer':<10} {'options':<86} {'max|dw|':>9} {'max|dstate|':>11}")
    for seed, (ours, theirs, kwargs) in enumerate(cases()):
        dw, ds = compare(ours, theirs, kwargs, seed)
        bad = dw > TOL or ds > TOL
        failed += bad
        options = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "lr")
        print(f"{ours.__name__:<10} {options:<86} {dw:9.1e} {ds:11.1e}"
              + ("  MISMATCH" if bad else ""))
    print(f"{failed} mismatches above {TOL:g} (torch {torch.__version__}, float64, {STEPS} steps)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
