# The probe of lessons/07_training_an_lstm.ipynb: run in the lesson's kernel after its last cell, with the
# helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json
import math as _math

import numpy as _np

_runs = {}
for _name in RUNS:
    _full, _part = redraw(_name, STEPS), redraw(_name, 10)
    _sm, _st = smooth[_name].probe.records, stats[_name].recorder.records
    _runs[_name] = {
        "host_arrays": type(_full) is _np.ndarray and type(_part) is _np.ndarray,
        "dtype": str(_full.dtype), "full": _full.tolist(), "part": _part.tolist(),
        # what the callbacks recorded, read here without the lesson's helpers
        "callback_grad_norm": [r.grad_norm["all"] for r in _sm],
        "callback_smoothness": [r.smoothness["all"] for r in _sm],
        "callback_loss": [r.loss for r in _sm],
        "before_clip": [r.grad_norm_before_clip for r in _st],
        "after_clip": [r.grad_norm for r in _st],
        "lesson_corr": corr[_name], "valid_perplexity": results[_name].final["valid_perplexity"],
        "clip_setting": RUNS[_name].get("clip_grad_norm"), "lr": RUNS[_name]["lr"]}

_events = [_move(run_dropdown, CLIPPED), _move(step_slider, 30), _move(run_dropdown, "SGD, lr 2"),
           _move(step_slider, 1)]
_png_size = _png_pixels()


def _wrong_perplexity(losses):
    return float(_np.mean(_np.exp(losses)))          # the mean of the exponentials


def _wrong_windows(n, b, length):
    return _math.ceil(n / (b * length))              # forgets the dropped tail and the last target


print("LESSON-PROBE " + _json.dumps({
    "V": V, "steps": STEPS, "clipped": CLIPPED, "runs": _runs,
    "sgdclipgrad_losses": list(same.values),
    "ppl_init": ppl_init, "n_params": n_params, "ptb_windows": ptb_windows,
    "valid_tokens": len(valid_losses),
    "events": _events, "png_size": _png_size,
    "shown_size": [picture.layout.width, picture.layout.height],
    "checks": {"ppl_right": _verdict(check_perplexity, lambda losses: float(_np.exp(_np.mean(losses)))),
               "ppl_wrong": _verdict(check_perplexity, _wrong_perplexity),
               "ppl_blank": _verdict(check_perplexity, perplexity),
               "windows_right": _verdict(check_n_windows, lambda n, b, length: _math.ceil((n // b - 1) / length)),
               "windows_wrong": _verdict(check_n_windows, _wrong_windows),
               "windows_floor": _verdict(check_n_windows, lambda n, b, length: n // (b * length)),
               "windows_blank": _verdict(check_n_windows, n_windows)}}))
