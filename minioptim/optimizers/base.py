r"""The optimizer base: parameter groups, per-parameter state, and weight decay written once.

Every optimizer of the talk writes its own update in its own file, down to the line

    w_t = w_{t-1} - eta_t * u_t

(u_t its direction: m_t, m_hat_t / (sqrt(v_hat_t) + eps), sign(c_t), ...). This base adds
weight decay lambda around that line, in one of three modes that every optimizer accepts:

    "l2"         g_t <- g_t + lambda * w_{t-1}, before the algorithm sees g_t   (Adam + L2)
    "decoupled"  w_t = (1 - eta_t * lambda) w_{t-1} - eta_t * u_t              (AdamW)
    "proximal"   w_t = (w_{t-1} - eta_t * u_t) / (1 + eta_t * lambda)            (AdamProx)

"l2" happens in ``gradients()``, before the optimizer sees g_t; the other two in ``decay()``, a
context around the optimizer's own line: shrink w first ("decoupled"), or divide it after
("proximal"). "proximal" is the exact minimizer of
lambda/2 ||w||^2 + <u_t, w> + ||w - w_{t-1}||^2 / (2 eta_t), and "decoupled" is its first-order
expansion in eta_t * lambda; the proximal step never flips the sign of w, whatever eta_t >= 0
(SGD with "l2" flips it once eta_t * lambda > 1).

A parameter is any object with ``.data`` (an array of the active backend, updated in place) and
``.grad`` (an array or None), so the same optimizer runs on a 2-d quadratic and on a ResNet.
As in PyTorch, a parameter without a gradient is skipped by ``step`` (not even decayed), and
step counts (for bias correction) are kept per parameter.

An optimizer that takes ``maximize`` (SGD, AdaGrad, RMSprop, Adam and its family) ascends: as in
PyTorch, ``gradients()`` hands out g_t <- -g_t before anything else (before the "l2" term too),
so maximizing f takes exactly the steps of minimizing -f.
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers

from autodiff import backend

DECAY_MODES = ("l2", "decoupled", "proximal")
LATER_FLAGS = ("maximize", "amsgrad")


class Point:
    """The smallest parameter an optimizer can update, for problems without autodiff (a
    quadratic, a 1-d function, a gradient oracle): ``.data``, a copy of ``x0`` on the active
    backend (float64 unless ``dtype`` says otherwise), updated in place, and ``.grad``, None
    until set."""

    def __init__(self, x0, dtype="float64"):
        self.data = backend.asarray(x0, dtype=dtype).copy()
        self.grad = None

    def __repr__(self):
        return f"Point({backend.to_numpy(self.data)!r})"


class Optimizer:
    """Base class. Subclasses give ``defaults`` and write ``update(w, g, state, group)``, the
    step of one parameter; an optimizer whose step needs all parameters at once (a global norm)
    writes ``step`` itself over ``gradients()``."""

    default_decay_mode = "l2"

    def __init__(self, params, defaults: dict):
        defaults = {"weight_decay": 0.0, "weight_decay_mode": self.default_decay_mode, **defaults}
        self.defaults = defaults
        groups = [params] if hasattr(params, "data") else list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        if "params" not in group:
            raise ValueError("a parameter group is a dict with a 'params' list")
        params = group["params"]
        params = [params] if hasattr(params, "data") else list(params)
        for i, p in enumerate(params):
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise TypeError(f"parameter {i} of {type(self).__name__} is a "
                                f"{type(p).__name__}: a parameter needs .data (an array) and "
                                f".grad (for example ad.Tensor(..., requires_grad=True))")
            kind = getattr(getattr(p.data, "dtype", None), "kind", None)
            if kind != "f":
                raise TypeError(f"parameter {i} of {type(self).__name__} holds "
                                f"{getattr(p.data, 'dtype', type(p.data).__name__)} data; an "
                                f"optimizer updates floating-point parameters only (create it "
                                f"with dtype='float32' or 'float64')")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"{type(self).__name__} has no hyperparameter "
                            f"{', '.join(sorted(unknown))}; it takes {', '.join(self.defaults)}")
        seen = {id(p) for grp in self.param_groups for p in grp["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("a parameter appears in two parameter groups")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter appears twice in one parameter group; list each once")
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict) -> None:
        check_nonnegative(group, "lr")
        check_nonnegative(group, "weight_decay")
        if "maximize" in group:
            check_flag(group, "maximize")
        if group["weight_decay_mode"] not in DECAY_MODES:
            raise ValueError(f"weight_decay_mode must be one of {', '.join(DECAY_MODES)}, "
                             f"got {group['weight_decay_mode']!r}")
        self.check_hyperparameters(group)

    def check_hyperparameters(self, group: dict) -> None:
        """Subclasses validate their own hyperparameters here (with messages naming them)."""

    # -- the step ------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for p, g, state, group in self.gradients():
            self.update(p.data, g, state, group)

    def gradients(self):
        """(parameter, g_t, state, group) for every parameter that has a gradient, g_t negated
        when the group maximizes, then with the "l2" term added when that is its decay mode.
        Every parameter it hands out is about to change in place: a tensor's version count
        records it (a graph built before the step then refuses its backward instead of using
        the changed weights)."""
        stepped = []
        for group in self.param_groups:
            lam, mode = group["weight_decay"], group["weight_decay_mode"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if type(g) is not type(p.data) or g.shape != p.data.shape \
                        or g.dtype.kind != "f":
                    _refuse_gradient(self, p, g)
                if group.get("maximize"):
                    g = -g                                    # ascend f: descend -f
                if lam and mode == "l2":
                    g = g + lam * p.data                      # g_t <- g_t + lambda w_{t-1}
                stepped.append(p)
                yield p, g, self.state.setdefault(id(p), {}), group
        for p in stepped:
            if hasattr(p, "bump_version"):
                p.bump_version(f"{type(self).__name__}.step()")

    def update(self, w, g, state: dict, group: dict) -> None:
        """Update the array ``w`` in place from its gradient ``g``; every optimizer writes it."""
        raise TypeError(f"{type(self).__name__} must define update() or step()")

    @staticmethod
    @contextlib.contextmanager
    def decay(w, group: dict):
        """Weight decay around the optimizer's line ``w -= eta * u`` (the ``with`` block):
        "decoupled" shrinks w before it, w <- (1 - eta lambda) w; "proximal" divides after it,
        w <- w / (1 + eta lambda). ("l2" was added to the gradient already.)"""
        eta, lam, mode = group["lr"], group["weight_decay"], group["weight_decay_mode"]
        if lam and mode == "decoupled":
            w *= 1 - eta * lam                                # (1 - eta lambda) w_{t-1}
        yield
        if lam and mode == "proximal":
            w /= 1 + eta * lam                           # (w_{t-1} - eta u_t) / (1 + eta lambda)

    # -- saving and resuming ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Hyperparameters of each group and a copy of each parameter's state, keyed by the
        parameter's position; ``load_state_dict`` on a fresh optimizer resumes exactly."""
        index, groups, position = {}, [], 0
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                # a parameter listed twice (a group appended again) keeps its first position,
                # the one load_state_dict finds it at
                index.setdefault(id(p), position)
                ids.append(index[id(p)])
                position += 1
            groups.append({**{k: copy.deepcopy(v) for k, v in group.items() if k != "params"},
                           "params": ids})
        state = {index[pid]: {k: _copy(v) for k, v in s.items()}
                 for pid, s in self.state.items() if pid in index and s}
        return {"optimizer": type(self).__name__, "state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` saved: all or nothing. Everything is checked first (the
        optimizer that saved it, the groups and their hyperparameters, with the constructor's
        checks, every parameter index and every state array's shape and kind) and converted;
        only then is anything replaced, so a failed load leaves the optimizer as it was."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"),
                                                              (list, tuple)) \
                or not isinstance(state_dict.get("state"), dict):
            raise ValueError(f"{name}.load_state_dict expects a dict with 'param_groups' (a list) "
                             f"and 'state' (a dict), as state_dict() returns; got "
                             f"{type(state_dict).__name__}"
                             + (f" with keys {sorted(state_dict)}" if isinstance(state_dict, dict)
                                else ""))
        saved_by = state_dict.get("optimizer", name)
        if saved_by != name:
            raise ValueError(f"this state dict was saved by {saved_by}; it can only be loaded "
                             f"into {saved_by}, not {name}")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(groups)} parameter groups, this optimizer "
                             f"has {len(self.param_groups)}")
        params, new_groups = [], []
        for k, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            if isinstance(saved, dict):
                # flags added after checkpoints existed: a state dict without one was saved
                # when that flag could only be off
                saved = {**{f: False for f in LATER_FLAGS if f in mine and f not in saved},
                         **saved}
            if not isinstance(saved, dict) or set(saved) != set(mine):
                diff = sorted(set(saved) ^ set(mine)) if isinstance(saved, dict) else ["params"]
                raise ValueError(f"parameter group {k} of the state dict has other "
                                 f"hyperparameters than {name} ({', '.join(diff)})")
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"parameter group {k}: the state dict has "
                                 f"{len(saved['params'])} parameters, this optimizer "
                                 f"{len(mine['params'])}")
            candidate = {**{h: copy.deepcopy(v) for h, v in saved.items() if h != "params"},
                         "params": mine["params"]}
            try:
                self._check(candidate)                     # the constructor's checks
            except (ValueError, TypeError) as exc:
                raise ValueError(f"parameter group {k} of the state dict: {exc}") from None
            new_groups.append(candidate)
            params.extend(mine["params"])
        new_state = {}
        for i, s in state_dict["state"].items():
            try:
                index = int(i)
            except (TypeError, ValueError):
                index = -1
            if not 0 <= index < len(params) or (isinstance(i, float) and i != index):
                raise ValueError(f"the state dict has state for parameter {i!r}, but this "
                                 f"optimizer has parameters 0 .. {len(params) - 1}")
            if not isinstance(s, dict):
                raise ValueError(f"the state of parameter {i} is a {type(s).__name__}, not a "
                                 f"dict")
            p, restored = params[index], {}
            for key, v in s.items():
                if backend.is_array(v):
                    if tuple(v.shape) != tuple(p.data.shape):
                        raise ValueError(f"state '{key}' of parameter {i} has shape "
                                         f"{tuple(v.shape)}, the parameter has "
                                         f"{tuple(p.data.shape)}")
                    if v.dtype.kind != "f":
                        raise ValueError(f"state '{key}' of parameter {i} holds {v.dtype} data; "
                                         f"an optimizer's state is floating point")
                    home = backend.backend_of(p.data).name
                    restored[key] = backend.to_backend(v, home).astype(p.data.dtype, copy=False)
                else:
                    restored[key] = copy.deepcopy(v)
            new_state[id(p)] = restored
        self.state = new_state
        for candidate, mine in zip(new_groups, self.param_groups):
            mine.update({h: v for h, v in candidate.items() if h != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} parameters, {hyper}")
        return "\n".join(lines + [")"])


def _refuse_gradient(optimizer, p, g) -> None:
    index = [q for group in optimizer.param_groups for q in group["params"]].index(p)
    what = f"parameter {index} of {type(optimizer).__name__} (shape {tuple(p.data.shape)})"
    if not backend.is_array(g):
        raise TypeError(f"the gradient of {what} is a {type(g).__name__}, not an array")
    if backend.backend_of(g) is not backend.backend_of(p.data):
        raise TypeError(f"the gradient of {what} lives on the {backend.backend_of(g).name} "
                        f"backend, the parameter on {backend.backend_of(p.data).name}")
    if g.shape != p.data.shape:
        raise ValueError(f"the gradient of {what} has shape {tuple(g.shape)}; it must have the "
                         f"parameter's shape (a gradient is never broadcast)")
    raise TypeError(f"the gradient of {what} holds {g.dtype} data; gradients are floating point")


def _copy(v):
    return v.copy() if backend.is_array(v) else copy.deepcopy(v)


def check_betas(group: dict, key: str = "betas") -> None:
    """A pair (beta1, beta2) of numbers in [0, 1), or an error naming it."""
    betas = group[key]
    ok = (isinstance(betas, (tuple, list)) and len(betas) == 2
          and all(isinstance(b, numbers.Real) and not isinstance(b, bool) and 0 <= b < 1
                  for b in betas))
    if not ok:
        raise ValueError(f"{key} must be a pair (beta1, beta2) of numbers in [0, 1), "
                         f"got {betas!r}")
    group[key] = tuple(betas)


def check_in_unit_interval(group: dict, key: str) -> None:
    value = group[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{key} must be a number in [0, 1), got {value!r}")


def check_flag(group: dict, key: str) -> None:
    if not isinstance(group[key], bool):
        raise TypeError(f"{key} must be True or False, got {group[key]!r}")


def check_nonnegative(group: dict, key: str) -> None:
    value = group[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 \
            or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")


def safe_divide(xp, num, den):
    """num / den, with 0 where den == 0 (eps = 0 makes 0/0 possible where a gradient is 0)."""
    zero = den == 0
    return xp.where(zero, 0, num / xp.where(zero, 1, den))
