"""Elementwise primitives. Each forward sits next to its local derivative:
for y = f(x), backward receives g = dL/dy and returns dL/dx = g * f'(x), summed back over any
dimension that broadcasting stretched."""
from __future__ import annotations

from ..function import Function
from ._util import broadcast_shape, unbroadcast


class _Broadcasting(Function):
    """Two inputs that broadcast against each other: each gets its gradient summed back to its
    own shape."""

    def grads(self, ga, gb):
        """Sum each input's gradient back to its shape; skip inputs that need none."""
        return (unbroadcast(ga, self.inputs[0].data.shape) if self.needs_grad(0) else None,
                unbroadcast(gb, self.inputs[1].data.shape) if self.needs_grad(1) else None)


class _Binary(_Broadcasting):
    """Two inputs with NumPy broadcasting; the shape check names the operation."""

    @classmethod
    def apply(cls, a, b):
        if a.data.shape != b.data.shape:
            broadcast_shape(cls.__name__.lower(), a.data.shape, b.data.shape)
        if a.data.dtype != b.data.dtype:        # the common case (one dtype) pays one compare
            a, b = _promoted(a, b)
        return super().apply(a, b)


def _promoted(a, b):
    """PyTorch's rule for an integer (or bool) tensor meeting a floating one: the integer one
    becomes the float's dtype (NumPy would give float64 for int32 with float32). Integer
    tensors take no gradient, so the cast leaves nothing behind in the graph."""
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if (ka in "fc") == (kb in "fc"):
        return a, b
    if ka in "fc":
        return a, type(b)._make(b.data.astype(a.data.dtype))
    return type(a)._make(a.data.astype(b.data.dtype)), b


def _default_float(out, *inputs):
    """A float64 result of integer inputs (true division, a fractional power) in PyTorch's
    default float32 instead."""
    if out.dtype.kind == "f" and out.dtype.itemsize == 8 and \
            all(x.dtype.kind in "biu" for x in inputs):
        return out.astype("float32")
    return out


class Add(_Binary):            # y = a + b;  dy/da = 1, dy/db = 1
    saved_inputs = ()

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return self.grads(g, g)


class Sub(_Binary):            # y = a - b;  dy/da = 1, dy/db = -1
    saved_inputs = ()

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return self.grads(g, -g if self.needs_grad(1) else None)


class Mul(_Binary):            # y = a * b;  dy/da = b, dy/db = a
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return self.grads(g * self.b if self.needs_grad(0) else None,
                          g * self.a if self.needs_grad(1) else None)


class Div(_Binary):            # y = a / b;  dy/da = 1/b, dy/db = -a/b^2 = -y/b
    saved_inputs = (1,)             # b (and its own output)

    def forward(self, a, b):
        self.b = b
        self.y = _default_float(a / b, a, b)
        return self.y

    def backward(self, g):
        ga = g / self.b if self.needs_grad(0) else None
        gb = -g * self.y / self.b if self.needs_grad(1) else None
        return self.grads(ga, gb)


class Maximum(_Binary):        # dy/da = 1 where a > b, 0 where a < b, 1/2 at ties (and so for b)
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.maximum(a, b)

    def backward(self, g):
        share = _tie_share(self.a > self.b, self.a == self.b, g.dtype)
        return self.grads(g * share, g * (1 - share))


class Minimum(_Binary):        # dy/da = 1 where a < b, 0 where a > b, 1/2 at ties
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.minimum(a, b)

    def backward(self, g):
        share = _tie_share(self.a < self.b, self.a == self.b, g.dtype)
        return self.grads(g * share, g * (1 - share))


def _tie_share(wins, ties, dtype):
    """1 where the first operand wins, 1/2 at ties, 0 elsewhere, in the gradient's dtype."""
    return wins.astype(dtype) + 0.5 * ties.astype(dtype)


class Where(_Broadcasting):   # y = cond ? a : b;  dy/da = cond, dy/db = not cond
    saved_inputs = ()

    def __init__(self, cond):
        self.cond = cond          # a boolean array, not an input: no gradient flows to it

    @classmethod
    def apply(cls, cond, a, b):
        broadcast_shape("where", tuple(cond.shape), a.data.shape, b.data.shape)
        if a.data.dtype != b.data.dtype:
            a, b = _promoted(a, b)
        return super().apply(a, b, cond=cond)

    def forward(self, a, b):
        return self.xp.where(self.cond, a, b)

    def backward(self, g):  # g has the broadcast shape of (cond, a, b)
        zero = self.xp.zeros((), dtype=g.dtype)
        return self.grads(self.xp.where(self.cond, g, zero) if self.needs_grad(0) else None,
                          self.xp.where(self.cond, zero, g) if self.needs_grad(1) else None)


class Neg(Function):           # y = -x;  dy/dx = -1
    saved_inputs = ()

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Function):           # y = x^p (p a number);  dy/dx = p x^(p-1)
    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        self.x = x
        return _default_float(x ** self.exponent, x)

    def backward(self, g):
        p = self.exponent
        if p == 0:                     # x^0 = 1 is constant (and 0 * 0^-1 would be nan at 0)
            return (g * 0,)
        return (g * p * self.x ** (p - 1),)


class RPow(Function):          # y = c^x (c > 0 a number);  dy/dx = c^x ln c
    saved_inputs = ()               # its own output

    def __init__(self, base):
        self.base = base

    def forward(self, x):
        self.y = self.base ** x
        return self.y

    def backward(self, g):
        return (g * self.y * float(self.xp.log(self.base)),)


class Exp(Function):           # y = e^x;  dy/dx = e^x = y
    saved_inputs = ()               # its own output

    def forward(self, x):
        self.y = self.xp.exp(x)
        return self.y

    def backward(self, g):
        return (g * self.y,)


class Log(Function):           # y = ln x;  dy/dx = 1/x
    def forward(self, x):
        self.x = x
        return self.xp.log(x)

    def backward(self, g):
        return (g / self.x,)


class Sqrt(Function):          # y = sqrt(x);  dy/dx = 1 / (2 sqrt(x)) = 1 / (2y)
    saved_inputs = ()               # its own output

    def forward(self, x):
        self.y = self.xp.sqrt(x)
        return self.y

    def backward(self, g):
        return (g / (2 * self.y),)


class Abs(Function):           # y = |x|;  dy/dx = sign(x) (0 at x = 0, as PyTorch)
    def forward(self, x):
        self.x = x
        return self.xp.abs(x)

    def backward(self, g):
        return (g * self.xp.sign(self.x),)


class Tanh(Function):          # y = tanh x;  dy/dx = 1 - y^2
    saved_inputs = ()               # its own output

    def forward(self, x):
        self.y = self.xp.tanh(x)
        return self.y

    def backward(self, g):
        return (g * (1 - self.y * self.y),)


class Sigmoid(Function):       # y = 1 / (1 + e^-x);  dy/dx = y (1 - y)
    saved_inputs = ()               # its own output

    def forward(self, x):
        # with e = exp(-|x|) <= 1 nothing overflows, and for x < 0 the form e / (1 + e) keeps full
        # relative precision in the left tail (1 / (1 + e^-x) would too, but overflows first)
        e = self.xp.exp(-self.xp.abs(x))
        self.y = self.xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, g):
        return (g * self.y * (1 - self.y),)


class ReLU(Function):          # y = max(x, 0);  dy/dx = 1 where x > 0, else 0
    saved_inputs = ()               # a mask of its own

    def forward(self, x):
        self.positive = x > 0
        return self.xp.maximum(x, 0)

    def backward(self, g):
        return (g * self.positive,)


class Clip(Function):          # y = min(max(x, lo), hi);  dy/dx = 1 inside [lo, hi], else 0
    saved_inputs = ()               # a mask of its own

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.inside = (x >= (self.lo if self.lo is not None else -self.xp.inf)) & \
                      (x <= (self.hi if self.hi is not None else self.xp.inf))
        return self.xp.clip(x, self.lo, self.hi)

    def backward(self, g):
        return (g * self.inside,)


class Cast(Function):          # y = x as another dtype;  dy/dx = 1, cast back
    saved_inputs = ()

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, g):
        return (g.astype(self.inputs[0].data.dtype),)


class Sin(Function):           # y = sin x;  dy/dx = cos x
    def forward(self, x):
        self.x = x
        return self.xp.sin(x)

    def backward(self, g):
        return (g * self.xp.cos(self.x),)


class Cos(Function):           # y = cos x;  dy/dx = -sin x
    def forward(self, x):
        self.x = x
        return self.xp.cos(x)

    def backward(self, g):
        return (-g * self.xp.sin(self.x),)


class Clone(Function):         # y = x (a copy of the data);  dy/dx = 1
    """A copy that stays in the graph: changing the clone in place leaves the original alone."""
    saved_inputs = ()

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g,)
