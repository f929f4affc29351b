# The probe of lessons/04_relaxed_smoothness.ipynb: run in the lesson's kernel after its last cell, with the
# helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json
import numpy as _np

_low, _high = redraw(-3.0), redraw(-1.0)            # eta = 1e-3 (below eta_c) and 0.1 (above)
_moved = _move(log_eta_slider, -2.0)
_png_size = _png_pixels()


print("LESSON-PROBE " + _json.dumps({
    "host_arrays": type(_low) is _np.ndarray and type(_high) is _np.ndarray,
    "shape": list(_low.shape), "low_first": _np.nan_to_num(_low[:100]).tolist(),
    "high_ended": bool(_np.isnan(_high).any()), "high_max": float(_np.nanmax(_high)),
    "moved": _moved,
    "png_size": _png_size, "shown_size": [picture.layout.width, picture.layout.height],
    "checks": {"exp_right": _verdict(check_exp_constants, lambda a: (2 * a * a, a)),
               "exp_loose": _verdict(check_exp_constants, lambda a: (3 * a * a, a)),
               "exp_wrong": _verdict(check_exp_constants, lambda a: (a * a, a)),
               "exp_blank": _verdict(check_exp_constants, exp_constants),
               "plateau_right": _verdict(check_plateau, 50_000),
               "plateau_wrong": _verdict(check_plateau, 500),
               "plateau_blank": _verdict(check_plateau, None)}}))
