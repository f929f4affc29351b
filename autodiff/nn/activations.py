"""Smooth and leaky activations (as ``torch.nn.functional`` / ``torch.nn``): GELU, SiLU,
LeakyReLU, Softplus, ELU. Each is one ``Function``, its derivative on the class line.

GELU's exact form needs the normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2. NumPy has no erf
(and ``math.erf`` on each entry is far too slow), so ``_erfc`` is W. J. Cody's rational
Chebyshev approximation ("Rational Chebyshev approximations for the error function", Math.
Comp. 23 (1969) 631-638; the coefficients of Netlib's specfun CALERF), accurate to about
1e-16 relative in float64 in three ranges of |z|: [0, 0.46875], (0.46875, 4], (4, inf).
"""
from __future__ import annotations

import math

from ..function import Function
from ..tensor import Tensor, expect_tensor
from .module import Module

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)            # GELU's tanh form: tanh(c (x + 0.044715 x^3))

# Cody (1969): erf(z) = z A(z^2)/B(z^2) for |z| <= 0.46875; erfc(z) = e^{-z^2} C(z)/D(z) for
# 0.46875 < z <= 4; erfc(z) = e^{-z^2}/z (1/sqrt(pi) - P(1/z^2)/(z^2 Q(1/z^2))) for z > 4.
_A = (3.16112374387056560e0, 1.13864154151050156e2, 3.77485237685302021e2,
      3.20937758913846947e3, 1.85777706184603153e-1)
_B = (2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3,
      2.84423683343917062e3)
_C = (5.64188496988670089e-1, 8.88314979438837594e0, 6.61191906371416295e1,
      2.98635138197400131e2, 8.81952221241769090e2, 1.71204761263407058e3,
      2.05107837782607147e3, 1.23033935479799725e3, 2.15311535474403846e-8)
_D = (1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2,
      1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3,
      3.43936767414372164e3, 1.23033935480374942e3)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e0, 1.87295284992346047e0, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_SMALL, _MID = 0.46875, 4.0


def _ratio(num, den, t):
    """Cody's rational num(t)/den(t) in Horner form: num has one more coefficient than den, its
    last the leading one; den's leading coefficient is 1."""
    n, d = num[-1] * t, t
    for a, b in zip(num[:len(den) - 1], den[:len(den) - 1]):
        n, d = (n + a) * t, (d + b) * t
    return (n + num[len(den) - 1]) / (d + den[-1])


def _erf_small(xp, z):
    """erf(z) for |z| <= 0.46875."""
    return z * _ratio(_A, _B, z * z)


def _erfc_positive(xp, y):
    """erfc(y) for y > 0.46875 (any larger y, inf included)."""
    mid = xp.clip(y, _SMALL, _MID)
    far = xp.maximum(y, _MID)
    r_mid = _ratio(_C, _D, mid)
    t = 1.0 / (far * far)
    r_far = (_INV_SQRT_PI - t * _ratio(_P, _Q, t)) / far
    # e^{-y^2} as e^{-s^2} e^{-(y-s)(y+s)}, s = y rounded down to 1/16 (exact s^2): y^2 itself
    # would lose the low bits that matter, relatively, in the far tail (Cody's trick)
    # (y capped at 30: erfc(30) < 1e-392 underflows anyway, and inf - inf would give nan)
    y = xp.minimum(y, 30.0)
    s = xp.floor(y * 16.0) / 16.0
    return xp.exp(-s * s) * xp.exp(-(y - s) * (y + s)) * xp.where(y <= _MID, r_mid, r_far)


def normal_cdf(xp, x):
    """Phi(x) = P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2, full relative precision in both tails."""
    z = x * _SQRT_HALF
    y = xp.abs(z)
    small = 0.5 + 0.5 * _erf_small(xp, xp.clip(z, -_SMALL, _SMALL))
    tail = 0.5 * _erfc_positive(xp, xp.maximum(y, _SMALL))      # = Phi(-|x|)
    return xp.where(y <= _SMALL, small, xp.where(z < 0, tail, 1.0 - tail))


# -- the Functions ---------------------------------------------------------------------------
class GELUFunction(Function):  # y = x Phi(x);  dy/dx = Phi(x) + x exp(-x^2/2) / sqrt(2 pi)
    def forward(self, x):
        self.x, self.cdf = x, normal_cdf(self.xp, x)
        return x * self.cdf

    def backward(self, g):
        x = self.x
        return (g * (self.cdf + x * _INV_SQRT_2PI * self.xp.exp(-0.5 * x * x)),)


class GELUTanhFunction(Function):  # y = x (1 + tanh u) / 2, u = c (x + 0.044715 x^3);
    # dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2) / 2
    def forward(self, x):
        self.x = x
        self.th = self.xp.tanh(_TANH_C * (x + 0.044715 * x * x * x))
        return 0.5 * x * (1.0 + self.th)

    def backward(self, g):
        x, th = self.x, self.th
        du = _TANH_C * (1.0 + 3 * 0.044715 * x * x)
        return (g * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du),)


class SiLUFunction(Function):  # y = x s, s = 1 / (1 + e^-x);  dy/dx = s (1 + x (1 - s))
    def forward(self, x):
        e = self.xp.exp(-self.xp.abs(x))               # no overflow (see ops.Sigmoid)
        self.x, self.s = x, self.xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return x * self.s

    def backward(self, g):
        return (g * self.s * (1 + self.x * (1 - self.s)),)


class LeakyReLUFunction(Function):  # y = x if x > 0 else a x;  dy/dx = 1 if x > 0 else a
    saved_inputs = ()               # a mask of its own

    def __init__(self, negative_slope):
        self.a = negative_slope

    def forward(self, x):
        self.positive = x > 0
        return self.xp.where(self.positive, x, x * self.a)

    def backward(self, g):
        return (self.xp.where(self.positive, g, g * self.a),)


class SoftplusFunction(Function):  # y = log(1 + e^{b x}) / b (x where b x > threshold);
    # dy/dx = 1 / (1 + e^{-b x}) (1 where b x > threshold)
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp, bx = self.xp, x * self.beta
        self.bx = bx
        # log(1 + e^t) = max(t, 0) + log1p(e^-|t|): no overflow, no loss of the small tail
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / self.beta
        return xp.where(bx > self.threshold, x, soft)

    def backward(self, g):
        xp, bx = self.xp, self.bx
        e = xp.exp(-xp.abs(bx))
        s = xp.where(bx >= 0, 1 / (1 + e), e / (1 + e))
        return (g * xp.where(bx > self.threshold, 1.0, s).astype(g.dtype),)


class ELUFunction(Function):  # y = x if x > 0 else a (e^x - 1);  dy/dx = 1 if x > 0 else a e^x
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return self.xp.where(x > 0, x, self.alpha * self.xp.expm1(self.xp.minimum(x, 0)))

    def backward(self, g):
        x = self.x
        # e^min(x, 0): the positive entries take the other branch and must not overflow
        slope = self.alpha * self.xp.exp(self.xp.minimum(x, 0))
        return (g * self.xp.where(x > 0, 1.0, slope).astype(g.dtype),)


# -- functional forms ------------------------------------------------------------------------
def _number(value, name: str, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF; approximate="tanh":
    x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    x = expect_tensor(input, "gelu")._floating()
    if approximate == "none":
        return GELUFunction.apply(x)
    if approximate == "tanh":
        return GELUTanhFunction.apply(x)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor) -> Tensor:
    """x sigmoid(x) (also called swish)."""
    return SiLUFunction.apply(expect_tensor(input, "silu")._floating())


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    a = _number(negative_slope, "negative_slope", "leaky_relu")
    return LeakyReLUFunction.apply(expect_tensor(input, "leaky_relu")._floating(), negative_slope=a)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    b = _number(beta, "beta", "softplus")
    if b == 0:
        raise ValueError("softplus: beta must be nonzero (it divides), got 0")
    t = _number(threshold, "threshold", "softplus")
    return SoftplusFunction.apply(expect_tensor(input, "softplus")._floating(), beta=b, threshold=t)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha (exp(x) - 1) elsewhere."""
    a = _number(alpha, "alpha", "elu")
    return ELUFunction.apply(expect_tensor(input, "elu")._floating(), alpha=a)


# -- modules ---------------------------------------------------------------------------------
class GELU(Module):
    """``gelu`` as a module: GELU(approximate="none")."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``silu`` as a module."""

    def forward(self, input):
        return silu(input)


class LeakyReLU(Module):
    """``leaky_relu`` as a module: LeakyReLU(negative_slope=0.01)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = _number(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, input):
        return leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """``softplus`` as a module: Softplus(beta=1.0, threshold=20.0)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = _number(beta, "beta", "Softplus")
        self.threshold = _number(threshold, "threshold", "Softplus")
        if self.beta == 0:
            raise ValueError("Softplus: beta must be nonzero (it divides), got 0")

    def forward(self, input):
        return softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """``elu`` as a module: ELU(alpha=1.0)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = _number(alpha, "alpha", "ELU")

    def forward(self, input):
        return elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


__all__ = ["gelu", "silu", "leaky_relu", "softplus", "elu", "GELU", "SiLU", "LeakyReLU",
           "Softplus", "ELU", "normal_cdf"]
