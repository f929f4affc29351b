# The probe of lessons/01_scale_freeness.ipynb: run in the lesson's kernel after its last cell, with the
# helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json
import numpy as _np

_ks = [-2, -1, 0, 1, 2, 3]
_spread, _shapes, _host = {}, set(), True
for _name in ["GD", "Adam", "AdaGrad", "Lion"]:
    _paths = [redraw(_k, _name) for _k in _ks]            # the widget callback, called directly
    _host = _host and all(type(_p) is _np.ndarray for _p in _paths)
    _shapes |= {tuple(_p.shape) for _p in _paths}
    _spread[_name] = max(float(_np.abs(_p - _paths[0]).max()) for _p in _paths)

# now through the widgets: each change of value must redraw once, with the widgets' values
_events = []
for _widget, _value in [(k_slider, 3), (optimizer_picker, "Adam"), (k_slider, -1),
                        (optimizer_picker, "Lion")]:
    _count, _png = len(redraws), picture.value
    _widget.value = _value
    _events.append({"new_redraws": len(redraws) - _count, "last": list(redraws[-1]),
                    "picture_changed": picture.value != _png,
                    "png": picture.value[:8] == b"\x89PNG\r\n\x1a\n"})
# the picture is drawn at the size it is shown: PNG pixels (its IHDR header) = layout size
_png_size = _png_pixels()
print("LESSON-PROBE " + _json.dumps({"spread": _spread, "shapes": sorted(_shapes),
                                     "host_arrays": _host, "events": _events,
                                     "png_size": _png_size,
                                     "shown_size": [picture.layout.width, picture.layout.height]}))
