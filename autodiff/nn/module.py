"""Module and Parameter: layers as objects that own their parameters, as in PyTorch.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it, so ``parameters()``,
``named_parameters()`` (with PyTorch's dotted names, ``layer1.0.conv1.weight``), ``state_dict()``
and ``train()`` / ``eval()`` reach everything inside without any bookkeeping by the layer.
Buffers (state that is not trained, such as batch norm's running statistics) are registered
with ``register_buffer`` and saved in the state dict too.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import backend
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a module trains: requires_grad=True, found by ``Module.parameters()``."""

    __slots__ = ()

    def __init__(self, data, dtype=None, requires_grad: bool = True, name: str | None = None):
        super().__init__(data, dtype=dtype, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._buffers.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._buffers.pop(name, None)
            self._modules[name] = value
        # anything else assigned to a buffer's name (running_mean = new) stays that buffer
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Keep an array (not trained) in the state dict, e.g. running statistics."""
        object.__setattr__(self, name, array)
        self._buffers[name] = True

    def forward(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", _seen=None):
        """Every module once (a shared submodule under its first name), depth first."""
        _seen = set() if _seen is None else _seen
        if id(self) in _seen:
            return
        _seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, _seen)

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_parameters(self, prefix: str = ""):
        seen = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) not in seen:          # a shared parameter (tied weights) once
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix: str = ""):
        for mod_name, mod in self.named_modules(prefix):
            for name in mod._buffers:
                value = getattr(mod, name)
                if value is not None:             # an absent buffer is not saved (as PyTorch)
                    yield (f"{mod_name}.{name}" if mod_name else name), value

    # -- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def double(self) -> "Module":
        """Parameters and floating-point buffers in float64, in place (as PyTorch's); make the
        optimizer afterwards: it holds the parameters' arrays."""
        return self._cast("float64")

    def float(self) -> "Module":  # noqa: A003 (PyTorch's name)
        """Parameters and floating-point buffers in float32, in place."""
        return self._cast("float32")

    def _cast(self, dtype: str) -> "Module":
        for p in self.parameters():
            if p.data.dtype != dtype:
                p.data, p.grad = p.data.astype(dtype), None
        for m in self.modules():
            for name in m._buffers:
                value = getattr(m, name)
                if value is not None and value.dtype.kind == "f":
                    object.__setattr__(m, name, value.astype(dtype))
        return self

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, object]":
        """Parameter arrays and buffers by dotted name (references, as in PyTorch), module by
        module in PyTorch's order."""
        sd, seen = OrderedDict(), set()
        for mod_name, mod in self.named_modules():
            dot = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    sd[dot + name] = p.data
            for name in mod._buffers:
                value = getattr(mod, name)
                if value is not None:
                    sd[dot + name] = value
        return sd

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers in place, all or nothing: every key, shape
        and dtype is checked and every array converted before anything is copied. With
        strict=True a missing or unexpected key raises (naming it); a mis-shaped entry, data of
        the wrong kind (integers, booleans or complex numbers for a float parameter) or values
        that are not finite in the model's dtype (NaN, or 1e300 in float32) always raise."""
        targets = self.check_state_shapes(
            {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}, strict)
        ready = []
        for key, target in targets.items():
            ready.append((target, _converted(key, state_dict[key], target)))
        for target, value in ready:
            target[...] = value
        parameters = dict(self.named_parameters())
        for key in targets:
            if key in parameters:
                parameters[key].bump_version("load_state_dict")

    def check_state_shapes(self, shapes: dict, strict: bool = True, source: str = "the state "
                           "dict") -> dict:
        """Check keys and shapes (name -> shape) against this module; returns name -> the array
        each entry would be copied into. Used by ``load_state_dict`` and, before any data is
        read, by ``nn.load``."""
        own = dict(self.named_parameters())
        buffers = {name: owner for owner, name in self._buffer_owners()}
        missing = [k for k in list(own) + list(buffers) if k not in shapes]
        unexpected = [k for k in shapes if k not in own and k not in buffers]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {', '.join(unexpected)}")
            raise KeyError(f"load_state_dict into {type(self).__name__}: " + "; ".join(parts))
        targets = {}
        for key, shape in shapes.items():
            if key in own:
                target = own[key].data
            elif key in buffers:
                target = getattr(*buffers[key])
            else:
                continue
            if tuple(shape) != tuple(target.shape):
                raise ValueError(f"load_state_dict: '{key}' has shape {tuple(shape)} in {source} "
                                 f"but {tuple(target.shape)} in the model")
            targets[key] = target
        return targets

    def _buffer_owners(self):
        for mod_name, mod in self.named_modules():
            for name in mod._buffers:
                yield (mod, name), (f"{mod_name}.{name}" if mod_name else name)

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")


def _converted(key: str, value, target):
    """``value`` as an array of ``target``'s backend and dtype, or an error naming ``key``."""
    if not backend.is_array(value):
        value = backend.to_numpy(value) if isinstance(value, (int, float, bool, list, tuple)) \
            else value
    if not backend.is_array(value):
        raise TypeError(f"load_state_dict: '{key}' is a {type(value).__name__}, not an array")
    kind, want = value.dtype.kind, target.dtype.kind
    if want == "f" and kind != "f":
        raise TypeError(f"load_state_dict: '{key}' holds {value.dtype} data but the model's "
                        f"'{key}' is {target.dtype}; a float parameter takes float data only")
    if want in "iu" and kind not in "iu":
        raise TypeError(f"load_state_dict: '{key}' holds {value.dtype} data but the model's "
                        f"'{key}' is {target.dtype} (a count); it takes integers only")
    converted = backend.cast(backend.to_backend(value, backend.backend_of(target).name),
                             target.dtype)
    if want == "f":
        xp = backend.array_module(converted)
        if not bool(xp.isfinite(converted).all()):
            raise ValueError(f"load_state_dict: '{key}' has values that are not finite as "
                             f"{target.dtype} (NaN, infinity, or beyond the dtype's range such as "
                             f"1e300 in float32); refusing to load them")
    return converted


class _ModuleSequence(Module):
    """Sub-modules named "0", "1", ...: indexable, sized and iterable in that order."""

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_ModuleSequence):
    """Modules applied one after the other; named "0", "1", ... as in PyTorch."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules, registered as "0", "1", ..."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        setattr(self, str(len(self._modules)), module)
        return self
