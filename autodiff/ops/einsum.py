"""Einstein summation, with its gradient written as another einsum.

For Y = einsum("S_1,...,S_n->O", X_1, ..., X_n), each entry of X_k meets g = dL/dY in every
product it appears in, so
    dL/dX_k = einsum("O,S_1,..(all but S_k)..,S_n->S_k", g, X_1, ..., X_n).
Two cases need more than that: a letter repeated in S_k (a diagonal, "ii->i") gets a zero
gradient off the diagonal, written by multiplying with an identity matrix; a letter of S_k
found nowhere else (summed away, "ij->i") gets g copied along it, written by multiplying with
a vector of ones. "..." is replaced by letters of its own, right-aligned, and dimensions of
size 1 broadcast against the others (their gradient is summed back).
"""
from __future__ import annotations

import string

from ..errors import ShapeError
from ..function import Function

_LETTERS = string.ascii_letters


class Einsum(Function):
    def __init__(self, inputs, output, sizes):
        self.terms, self.output, self.sizes = inputs, output, sizes

    def forward(self, *arrays):
        xp = self.xp
        # broadcast size-1 dimensions up front; backward sums their gradient back
        self.arrays = [a if a.shape == self._full(t) else xp.broadcast_to(a, self._full(t))
                       for a, t in zip(arrays, self.terms)]
        eq = ",".join(self.terms) + "->" + self.output
        y = xp.einsum(eq, *self.arrays, optimize=len(arrays) > 1)
        return y.copy() if len(arrays) == 1 else y    # one operand: NumPy may return a view

    def _full(self, term):
        return tuple(self.sizes[c] for c in term)

    def backward(self, g):
        return tuple(self._grad(k, g) if self.needs_grad(k) else None
                     for k in range(len(self.terms)))

    def _grad(self, k, g):
        xp, term = self.xp, self.terms[k]
        subs, ops = [self.output], [g]
        for j, (t, a) in enumerate(zip(self.terms, self.arrays)):
            if j != k:
                subs.append(t)
                ops.append(a)
        seen_elsewhere = set("".join(subs))
        spare = iter(c for c in _LETTERS if c not in self.sizes)
        target = ""
        for c in term:
            n = self.sizes[c]
            if c in target:                     # a repeat: only the diagonal gets gradient
                fresh = next(spare)
                subs.append(c + fresh)
                ops.append(xp.eye(n, dtype=g.dtype))
                target += fresh
                continue
            if c not in seen_elsewhere:         # summed away in X_k alone: copy g along it
                subs.append(c)
                ops.append(xp.ones(n, dtype=g.dtype))
            target += c
        grad = xp.einsum(",".join(subs) + "->" + target, *ops, optimize=len(ops) > 2)
        shape = self.inputs[k].data.shape
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
        return grad.astype(self.inputs[k].data.dtype, copy=False)


def einsum(equation, *operands):
    """``einsum(equation, *operands)`` with PyTorch's (and NumPy's) subscripts: letters, ``...``,
    an optional ``->output`` (without it: the letters seen once, in alphabetical order)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument must be the equation string (as "
                        f"'ij,jk->ik'), got {type(equation).__name__}")
    terms, output = _parse(equation, operands)
    sizes = _sizes(equation, terms, operands)
    if len({t.data.dtype for t in operands}) > 1:
        operands = _common_dtype(operands)
    return Einsum.apply(*operands, inputs=terms, output=output, sizes=sizes)


def _parse(equation, operands):
    """The subscripts of each operand and of the output, with "..." spelled as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    if "->" in out:
        raise ValueError(f"einsum '{equation}': more than one '->'")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum '{equation}': the equation has {len(terms)} operand(s) but "
                         f"{len(operands)} tensor(s) were given")
    for t in terms + [out]:
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.count("...") > 1:
            what = f"characters {sorted(bad)}" if bad else "'...' twice in one term"
            raise ValueError(f"einsum '{equation}': subscripts are letters a-z, A-Z and at most "
                             f"one '...' per term; found {what}")
    if not arrow:                               # implicit output: the letters seen once, sorted
        letters = lhs.replace("...", "").replace(",", "")
        out = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    spare = [c for c in _LETTERS if c not in eq]
    n_ell = 0
    for t, x in zip(terms, operands):
        named = len(t.replace("...", ""))
        if x.data.ndim < named or ("..." not in t and x.data.ndim != named):
            raise ShapeError(f"einsum '{equation}': subscripts '{t}' do not fit an operand of "
                             f"shape {x.data.shape} ({x.data.ndim} dimensions)")
        if "..." in t:
            n_ell = max(n_ell, x.data.ndim - named)
    ell = "".join(spare[:n_ell])

    terms = [t.replace("...", ell[n_ell - (x.data.ndim - len(t) + 3):]) if "..." in t else t
             for t, x in zip(terms, operands)]
    out = out.replace("...", ell)
    if len(set(out)) != len(out):
        raise ValueError(f"einsum '{equation}': the output repeats a subscript")
    missing = set(out) - set("".join(terms))
    if missing:
        raise ValueError(f"einsum '{equation}': output subscripts {sorted(missing)} appear in "
                         f"no operand")
    return terms, out


def _sizes(equation, terms, operands):
    """The size of each letter; 1 broadcasts against any size, other mismatches are errors."""
    sizes, where = {}, {}
    for k, (t, x) in enumerate(zip(terms, operands)):
        mine = {}
        for c, n in zip(t, x.data.shape):
            if mine.setdefault(c, n) != n:
                raise ShapeError(f"einsum '{equation}': operand {k} (shape {x.data.shape}) "
                                 f"repeats subscript '{c}' over dimensions of sizes {mine[c]} and "
                                 f"{n}; a diagonal needs equal sizes")
            if sizes.get(c, 1) not in (1, n) and n != 1:
                name = f"subscript '{c}'" if c in equation else "a '...' dimension"
                raise ShapeError(f"einsum '{equation}': {name} has size {sizes[c]} in operand "
                                 f"{where[c]} (shape {operands[where[c]].data.shape}) but {n} in "
                                 f"operand {k} (shape {x.data.shape}); sizes must be equal (or 1)")
            if n != 1 or c not in sizes:
                sizes[c], where[c] = n, k
    return sizes


def _common_dtype(operands):
    """Integer operands among floating ones become the float dtype (as for +, *)."""
    floats = [t.data.dtype for t in operands if t.data.dtype.kind == "f"]
    if not floats:
        return operands
    wide = max(floats, key=lambda d: d.itemsize)
    return tuple(t if t.data.dtype == wide else
                 (t.astype(wide) if t.data.dtype.kind == "f" else type(t)._make(
                     t.data.astype(wide))) for t in operands)
