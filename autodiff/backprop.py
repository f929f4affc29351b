"""Reverse mode in one screen: order the graph, then send gradients from the output to the leaves.

The order is found with an explicit stack, not recursion, so a chain of 20,000 operations or an
RNN unrolled over 1,000 steps needs no deep Python call stack.
"""
from __future__ import annotations

from . import backend
from .modes import check_backward, in_place_changes, mode


def topological_order(root) -> list:
    """Tensors that need a gradient, each after everything it was computed from."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        fn = node._ctx
        if fn is not None:
            _check_not_released(fn)
            for parent in fn.inputs:
                if parent._requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def run_backward(root, grad=None, retain_graph: bool = False) -> None:
    if not root._requires_grad:
        raise RuntimeError(
            f"backward() was called on {root._label()}, which does not require grad: no input "
            f"of its computation was created with requires_grad=True (or it was computed "
            f"inside no_grad())."
        )
    grad = _initial_grad(root, grad)
    grads = {id(root): grad}
    handed_out = set()  # arrays already stored as some tensor's .grad
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        fn = node._ctx
        if fn is None or node._retain:
            _accumulate(node, g, handed_out)
        if fn is None:
            continue
        check_versions(fn)
        fn.graph_kept = retain_graph
        in_grads = fn.backward(g)
        if mode.anomaly:
            check_backward(fn, in_grads)
        for parent, pg in zip(fn.inputs, in_grads):
            if pg is None or not parent._requires_grad:
                continue
            if pg.shape != parent.data.shape:
                raise RuntimeError(
                    f"the backward of '{fn.op_name()}' returned a gradient of shape "
                    f"{tuple(pg.shape)} for an input of shape {parent.shape}; a gradient must "
                    f"have its input's shape (sum over broadcast dimensions)."
                )
            prev = grads.get(id(parent))
            grads[id(parent)] = pg if prev is None else prev + pg
        if not retain_graph:
            fn.release()


def check_versions(fn) -> None:
    """The inputs ``fn`` saved must not have changed in place since its forward. Each node
    remembers how many in-place changes the process had made at its forward; only when that
    count moved are its inputs looked at (each change stamps the tensor with the count)."""
    if in_place_changes[0] == fn.changes_seen:
        return
    saved = range(len(fn.inputs)) if fn.saved_inputs is None else fn.saved_inputs
    for i in saved:
        t = fn.inputs[i]
        if t._version is not None and t._version[2] > fn.changes_seen:
            by = t._version[1]
            what = f"tensor '{t.name}'" if t.name else f"the tensor of shape {t.shape}"
            raise RuntimeError(
                f"backward through '{fn.op_name()}': its input {i}, {what}, was modified by an "
                f"in-place operation after it was used by '{fn.op_name()}' (last changed by "
                f"{by}), so the gradient would be computed from the wrong values. Compute the "
                f"forward pass again after the change (the usual order: zero_grad, forward, "
                f"backward, optimizer.step), or change a copy.")


def _initial_grad(root, grad):
    xp = backend.array_module(root.data)
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient argument needs a scalar output, but "
                f"{root._label()} has shape {root.shape}. Reduce it to one number first "
                f"(loss.sum().backward() or loss.mean().backward()) or pass "
                f"backward(grad) with grad of shape {root.shape}."
            )
        return xp.ones_like(root.data)
    from .tensor import Tensor

    g = grad.data if isinstance(grad, Tensor) else grad
    if backend.backend_of(g) is None:
        g = xp.asarray(g, dtype=root.data.dtype)
    if tuple(g.shape) != root.shape:
        raise RuntimeError(
            f"backward(grad): grad has shape {tuple(g.shape)} but {root._label()} has shape "
            f"{root.shape}; they must match."
        )
    return g.astype(root.data.dtype, copy=False)


def _accumulate(node, g, handed_out: set) -> None:
    # A gradient array may be shared with another tensor's .grad (x + y hands the same array to
    # both) or be a view of one; copy it then, so updating one .grad in place never changes
    # another.
    if id(g) in handed_out or g.base is not None:
        g = g.copy()
    if g.dtype != node.data.dtype:
        g = g.astype(node.data.dtype)
    handed_out.add(id(g))
    node.grad = g if node.grad is None else node.grad + g


def _check_not_released(fn) -> None:
    if getattr(fn, "released", False):
        raise RuntimeError(
            f"backward() went through '{fn.name}' a second time, but its saved values were "
            f"freed after the first backward. Pass backward(retain_graph=True) the first time "
            f"if you need to backpropagate twice through the same graph."
        )
