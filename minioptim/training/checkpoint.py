"""``checkpoint.npz``: everything a run needs to continue exactly, in one file, without pickle.

The file is a plain ``.npz`` written atomically (``autodiff.files.save_npz``): the model's state
dict under ``model/<name>``, every array of the optimizer's state dict under ``arrays/<k>``, the
LSTM's carried state under ``carry/<h|c>`` in mid-epoch, and one string member ``meta``: JSON
holding the rest (the optimizer's hyperparameters and counters with each array replaced by a
reference to its member, the schedule's step, the random generator's state, the position in the
data, the epoch's running sums and the metrics so far).

Loading reads the members' headers first: model names and shapes are checked against the model,
every other array must have the shape of one of the model's parameters and ``meta`` must be
small, before any data is read.
"""
from __future__ import annotations

import json
import os

import numpy as np

from autodiff import backend
from autodiff.files import NpzError, load_npz, save_npz

FILENAME = "checkpoint.npz"
FORMAT = 1
_MAX_META = 64 << 20


# -- a tree of dicts, lists, tuples, numbers and arrays: JSON plus arrays ---------------------
def encode(obj, arrays: dict, where: str = "state"):
    """``obj`` as JSON-able data; each array goes into ``arrays`` and leaves a reference."""
    if backend.is_array(obj) or isinstance(obj, np.ndarray):
        name = f"arrays/{len(arrays)}"
        arrays[name] = obj
        return {"__array__": name}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, arrays, where) for v in obj]}
    if isinstance(obj, list):
        return [encode(v, arrays, where) for v in obj]
    if isinstance(obj, dict):
        return {"__items__": [[encode(k, arrays, where), encode(v, arrays, where)]
                              for k, v in obj.items()]}
    raise TypeError(f"{where}: a {type(obj).__name__} cannot be written to a checkpoint (only "
                    f"numbers, strings, lists, tuples, dicts and arrays)")


def decode(obj, arrays: dict):
    if isinstance(obj, list):
        return [decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tuple__" in obj:
            return tuple(decode(v, arrays) for v in obj["__tuple__"])
        return {decode(k, arrays): decode(v, arrays) for k, v in obj["__items__"]}
    return obj


# -- the file -----------------------------------------------------------------------------------
def save(path, model, meta: dict, carry_arrays: dict | None = None) -> None:
    """Write the checkpoint: ``meta`` may hold arrays anywhere (the optimizer's state dict)."""
    arrays = {}
    encoded = encode(meta, arrays, "the checkpoint")
    members = {f"model/{k}": v for k, v in model.state_dict().items()}
    members.update(arrays)
    members.update({f"carry/{k}": v for k, v in (carry_arrays or {}).items()})
    members["meta"] = np.array(json.dumps({"format": FORMAT, **encoded}))
    save_npz(path, members)


def load(path, model) -> tuple[dict, dict]:
    """(meta with its arrays back in place, carry arrays) of the checkpoint at ``path``; the
    model's state is loaded into ``model``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    shapes = {tuple(p.shape) for p in model.parameters()}

    def check(headers):
        if "meta" not in headers:
            raise NpzError(path, "it has no 'meta' member: it is not a training checkpoint "
                                 "(nn.save writes model weights only; load those with nn.load)")
        model_shapes = {k[len("model/"):]: shape for k, (shape, _) in headers.items()
                        if k.startswith("model/")}
        try:
            model.check_state_shapes(model_shapes, True, source=str(path))
        except KeyError as exc:
            raise NpzError(path, f"it holds another model ({exc.args[0]})") from None
        for k, (shape, dtype) in headers.items():
            if k == "meta":
                if dtype.kind != "U" or shape != () or dtype.itemsize > _MAX_META:
                    raise NpzError(path, "its 'meta' member is not a short JSON string")
            elif k.startswith("arrays/") and shape not in shapes and len(shape) > 0:
                raise NpzError(path, f"'{k}' has shape {shape}, the shape of no parameter of "
                                     f"the model")
            elif not k.startswith(("model/", "arrays/", "carry/", "meta")):
                raise NpzError(path, f"unexpected member '{k}'")

    try:
        members = load_npz(path, check=check)
        meta = json.loads(str(members["meta"]))
    except NpzError as exc:
        raise ValueError(f"{path} is not a minioptim training checkpoint: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: its 'meta' member is not JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has checkpoint format {meta.get('format')!r}; this minioptim "
                         f"reads format {FORMAT}")
    model.load_state_dict({k[len("model/"):]: v for k, v in members.items()
                           if k.startswith("model/")})
    meta = decode(meta, {k: v for k, v in members.items() if k.startswith("arrays/")})
    carry = {k[len("carry/"):]: v for k, v in members.items() if k.startswith("carry/")}
    return meta, carry
