# The probe of lessons/00_autodiff_from_scratch.ipynb: run in the lesson's kernel after its last cell, with
# the helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json
import numpy as _np

_points = [(0.5, 2.0), (-1.3, 0.7), (1.9, -1.1)]
_drawn = []
for _name in EXPRESSIONS:                                          # the widget callback, directly
    for _x, _y in _points:
        _array = redraw(_name, _x, _y)
        _graph = expression_graph(_name, _x, _y)
        _drawn.append({"name": _name, "x": _x, "y": _y, "host": type(_array) is _np.ndarray,
                       "drawn": _array.tolist(), "labels": [_n["label"] for _n in _graph],
                       "inputs": [_n["inputs"] for _n in _graph]})
_scratch = {_name: [scratch_grad(_expr, _x, _y).tolist() for _x, _y in _points]
            for _name, _expr in EXPRESSIONS.items()}

_events = [_move(expression_menu, "tanh(x*y) * log(1 + x*x)"),      # through the controls
           _move(x_slider, -1.2), _move(y_slider, 0.4),
           _move(expression_menu, "exp(x) / (exp(x) + y*y)")]
_png_size = _png_pixels()


class _RightXSinX(XSinX):
    def backward(self, g):
        return (g * (self.xp.sin(self.x) + self.x * self.xp.cos(self.x)),)


class _NoProductRule(XSinX):                 # forgets the sin x term of the product rule
    def backward(self, g):
        return (g * self.x * self.xp.cos(self.x),)


class _NoTuple(XSinX):                       # the right array, not wrapped in a tuple
    def backward(self, g):
        return g * (self.xp.sin(self.x) + self.x * self.xp.cos(self.x))


_checks = {
    "xsinx_right": _verdict(check_xsinx, _RightXSinX),
    "xsinx_wrong": _verdict(check_xsinx, _NoProductRule),
    "xsinx_no_tuple": _verdict(check_xsinx, _NoTuple),
    "xsinx_blank": _verdict(check_xsinx, XSinX),
    "order_right": _verdict(check_order, ["a", "b", "u", "v", "w", "f"]),
    "order_right_other": _verdict(check_order, ["b", "a", "u", "w", "v", "f"]),
    "order_reversed": _verdict(check_order, ["f", "w", "v", "u", "b", "a"]),
    "order_missing": _verdict(check_order, ["a", "b", "u", "v", "f"]),
    "order_blank": _verdict(check_order, None),
}
print("LESSON-PROBE " + _json.dumps({
    "expressions": list(EXPRESSIONS), "drawn": _drawn, "scratch": _scratch, "points": _points,
    "events": _events, "png_size": _png_size,
    "shown_size": [picture.layout.width, picture.layout.height], "checks": _checks}))
