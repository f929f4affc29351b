# The probe of lessons/05_clipping_and_sign_sgd.ipynb: run in the lesson's kernel after its last cell, with the
# helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json

import numpy as _np

_settings = [(0.9, 0.9, 1.0), (0.5, 0.0, 0.3), (0.0, 0.99, 4.0)]
_runs = [redraw(*s) for s in _settings]
_moves = [_move(beta1_slider, 0.8), _move(beta2_slider, 0.5), _move(gamma_slider, 2.0)]
_png_size = _png_pixels()


def _right_step(eta, gamma, g):
    return -min(eta, gamma / _np.linalg.norm(g)) * g


print("LESSON-PROBE " + _json.dumps({
    "host_arrays": all(type(r) is _np.ndarray for r in _runs),
    "shapes": [list(r.shape) for r in _runs],
    "settings": _settings,
    "iterates": [r[:, :31].tolist() for r in _runs],
    "widget_steps": WIDGET_STEPS, "widget_eta": WIDGET_ETA,
    "moves": _moves,
    "png_size": _png_size, "shown_size": [picture.layout.width, picture.layout.height],
    "table": table, "etas_1d": list(ETAS_1D), "gd_best": gd_best,
    "net_final": {name: final for name, (_, _, final) in net.items()},
    "big_sgd_final": big_sgd[2], "big_clip_final": big_clip[2],
    "checks": {
        "step_right": _verdict(check_clipped_step, _right_step),
        "step_per_coordinate": _verdict(check_clipped_step, lambda eta, gamma, g: -_np.clip(eta * g, -gamma, gamma)),
        "step_unclipped": _verdict(check_clipped_step, lambda eta, gamma, g: -eta * g),
        "step_sign": _verdict(check_clipped_step, lambda eta, gamma, g: -_right_step(eta, gamma, g)),
        "step_blank": _verdict(check_clipped_step, clipped_step),
        "cap_right": _verdict(check_sign_sgd_cap, lambda eta, beta2: eta / _np.sqrt(1 - beta2)),
        "cap_sign": _verdict(check_sign_sgd_cap, lambda eta, beta2: eta),
        "cap_loose": _verdict(check_sign_sgd_cap, lambda eta, beta2: eta / (1 - beta2)),
        "cap_blank": _verdict(check_sign_sgd_cap, sign_sgd_cap)}}))
