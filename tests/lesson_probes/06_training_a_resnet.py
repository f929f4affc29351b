# The probe of lessons/06_training_a_resnet.ipynb: run in the lesson's kernel after its last cell, with the
# helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints LESSON-PROBE + JSON.
import json as _json
import numpy as _np

# the widget callback, directly: every run's training loss, every metric of one run, a partial curve
_full = {_label: redraw(_label, "train_loss", EPOCHS) for _label in RUN_NAMES}
_metrics = {_m: redraw(RUN_NAMES[0], _m, EPOCHS) for _m in METRICS.values()}
_partial = redraw("Adam, BN", "test_accuracy", 2)
_host = all(type(_a) is _np.ndarray for _a in [*_full.values(), *_metrics.values(), _partial])

# through the controls, each in turn
_events = [_move(run_picker, "gen. SignSGD, BN"), _move(metric_picker, "test_accuracy"),
           _move(epoch_slider, 2), _move(run_picker, "SGD momentum, no BN")]
_png_size = _png_pixels()


def _right_size(h, k, stride, padding):
    return (h + 2 * padding - k) // stride + 1


def _right_params(c_in, c_out, k, bias):
    return c_out * c_in * k * k + (c_out if bias else 0)


_checks = {
    "conv_right": _verdict(check_conv, _right_size, _right_params),
    "conv_size_wrong": _verdict(check_conv, lambda h, k, s, p: (h + p - k) // s + 1, _right_params),
    "conv_params_wrong": _verdict(check_conv, _right_size, lambda ci, co, k, b: co * ci * k * k),
    "conv_blank": _verdict(check_conv, conv_output_size, conv_parameters),
    "conv_none": _verdict(check_conv, lambda *a: None, lambda *a: None),
    "steps_right": _verdict(check_steps, lambda n, b, d: n // b if d else -(-n // b)),
    "steps_wrong": _verdict(check_steps, lambda n, b, d: n // b),
    "steps_blank": _verdict(check_steps, steps_per_epoch),
}
print("LESSON-PROBE " + _json.dumps({
    "run_names": RUN_NAMES, "epochs": EPOCHS, "train_batches": TRAIN_BATCHES,
    "full": {_k: _v.tolist() for _k, _v in _full.items()},
    "metrics": {_k: _v.tolist() for _k, _v in _metrics.items()},
    "partial": _partial.tolist(), "host_arrays": _host,
    "history": {_k: _r.history for _k, _r in runs.items()},
    "step_losses": {_k: _v.tolist() for _k, _v in step_losses.items()},
    "padding": int(P), "original": original.tolist(), "crops": crops.tolist(),
    "crop_dtype": str(crops.dtype), "normalized_stats": normalized_stats,
    "param_counts": param_counts,
    "activation_std": {f"{_d}, bn={_b}": _s for (_d, _b), _s in activation_std.items()},
    "cost": cost,
    "events": _events, "png_size": _png_size,
    "shown_size": [picture.layout.width, picture.layout.height], "checks": _checks}))
