"""Check a backward pass against finite differences, in float64.

For a function f of tensors, pick a fixed random direction r in the output space and compare,
for every entry x_k of every input that requires grad,

    analytic:  d/dx_k sum(r * f(x))                         (one backward pass)
    numeric:   [L(x + eps e_k) - L(x - eps e_k)] / (2 eps)   (central differences, L = sum(r * f))

Central differences have error O(eps^2); float64 keeps the rounding error ~1e-16 / eps small.
A random r makes one backward check the whole Jacobian with probability one.
"""
from __future__ import annotations

import inspect
import itertools

from . import backend
from .errors import GradcheckError
from .modes import no_grad
from .tensor import Tensor


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0) -> bool:
    """Return True if ``fn(*inputs)``'s gradients match finite differences, else raise
    ``GradcheckError`` naming the input, the worst entry and both values.

    Inputs that are floating tensors with ``requires_grad=True`` are checked (as float64 copies);
    other arguments (integer index tensors, arrays, numbers) are passed through unchanged."""
    names = _argument_names(fn, len(inputs))
    args, checked = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            x = Tensor(x.data, dtype="float64", requires_grad=True)
            checked.append(i)
        args.append(x)
    if not checked:
        raise ValueError("gradcheck: no input requires grad; create the tensors to check with "
                         "requires_grad=True")

    out = _call(fn, args)
    r = Tensor(backend.generator(seed).standard_normal(out.shape), dtype="float64")
    (out * r).sum().backward()

    def objective() -> float:
        with no_grad():
            return float((_call(fn, args).data * r.data).sum())

    for i in checked:
        x = args[i]
        analytic = backend.to_numpy(x.grad if x.grad is not None else x.data * 0)
        numeric = backend.to_numpy(x.data * 0).copy()
        for idx in itertools.product(*(range(n) for n in x.shape)):
            orig = float(x.data[idx])
            x.data[idx] = orig + eps
            up = objective()
            x.data[idx] = orig - eps
            down = objective()
            x.data[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        _compare(names[i], i, x.shape, analytic, numeric, eps, atol, rtol)
    return True


def _call(fn, args) -> Tensor:
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: the function must return a Tensor, got {type(out).__name__}")
    return out


def _compare(name, position, shape, analytic, numeric, eps, atol, rtol) -> None:
    excess = abs(analytic - numeric) - (atol + rtol * abs(numeric))
    if excess.size == 0 or not (excess > 0).any():
        return
    flat = int(excess.argmax())
    idx = _unravel(flat, shape)
    a, n = float(analytic[idx]), float(numeric[idx])
    raise GradcheckError(
        f"gradcheck failed for input {name} (argument {position}, shape {tuple(shape)}): at index "
        f"{idx} the analytic gradient (from backward) is {a:.6g} but the numerical gradient "
        f"(central differences, eps={eps:g}) is {n:.6g}; |difference| = {abs(a - n):.3g} exceeds "
        f"atol + rtol*|numerical| = {atol + rtol * abs(n):.3g}. {int((excess > 0).sum())} of "
        f"{excess.size} entries disagree. Check the backward of each operation that uses {name} "
        f"(or whether the function is differentiable at this point)."
    )


def _unravel(flat: int, shape: tuple) -> tuple:
    idx = []
    for n in reversed(shape):
        flat, r = divmod(flat, n)
        idx.append(r)
    return tuple(reversed(idx))


def _argument_names(fn, count: int) -> list[str]:
    """'w' for a parameter called w; 'input 2' when the signature does not say."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [f"'{params[i].name}'" if i < len(params) else f"#{i}" for i in range(count)]
