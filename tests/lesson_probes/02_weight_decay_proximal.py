# The probe of lessons/02_weight_decay_proximal.ipynb: run in the lesson's kernel after its last cell, with the
# helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json
import numpy as _np

_paths = {str(_v): redraw(_v) for _v in (0.5, 1.5, 2.5)}        # the widget callback, directly
_host = all(type(_p) is _np.ndarray for _p in _paths.values())
_events = []
for _value in (1.2, 0.3):                                          # through the slider
    _events.append(_move(eta_lambda_slider, _value))
_png_size = _png_pixels()


_checks = {
    "prox_right": _verdict(check_prox_l2, lambda v, eta, lam: v / (1 + eta * lam)),
    "prox_wrong": _verdict(check_prox_l2, lambda v, eta, lam: v * (1 - eta * lam)),
    "prox_blank": _verdict(check_prox_l2, prox_l2),
    "thresholds_right": _verdict(check_thresholds, 1.0, 2.0),
    "thresholds_wrong": _verdict(check_thresholds, 0.5, 2.0),
    "thresholds_blank": _verdict(check_thresholds, None, None),
}
print("LESSON-PROBE " + _json.dumps({
    "paths": {_k: _p.tolist() for _k, _p in _paths.items()}, "host_arrays": _host,
    "events": _events, "png_size": _png_size,
    "shown_size": [picture.layout.width, picture.layout.height], "checks": _checks}))
