# The probe of lessons/03_adamw_without_batch_norm.ipynb: run in the lesson's kernel after its last
# cell, with the helpers of tests/lesson_kernel.py (_png_pixels, _move, _verdict) defined; prints
# LESSON-PROBE + JSON.
import contextlib as _contextlib
import io as _io
import json as _json

import numpy as _np

# the widget callback, directly
_drawn = {"adamw_20": redraw(20, "AdamW", 1e-2), "l2_20": redraw(20, "Adam + L2", 1e-2),
          "l2_8": redraw(8, "Adam + L2", 1e-3)}
_host = all(type(_a) is _np.ndarray for _a in _drawn.values())

# Adam + L2's per-layer decay at depth 8, lambda 1e-3 once more, away from the lesson's cache and
# its formula: a fresh run with the lesson's settings written out, and
# eta * lambda / (sqrt(v_hat) + eps) from the optimizer's state
_run = train("resnet8", "digits", "adam", batch_norm=False, lr=1e-3, weight_decay=1e-3,
             weight_decay_mode="l2", epochs=1, train_batches=20, batch_size=32, eval_batches=1,
             augment=False, seed=0, progress=False)
_group = _run.optimizer.param_groups[0]
_again = []
for _name, _p in _run.model.named_parameters():
    if _p.ndim < 2:
        continue
    _state = _run.optimizer.state[id(_p)]
    _v_hat = backend.to_numpy(_state["v"]).astype(_np.float64) / (1 - _group["betas"][1] ** _state["step"])
    _again.append(float(_np.median(_group["lr"] * 1e-3 / (_np.sqrt(_v_hat) + _group["eps"]))))

# through the controls: each one once (the widgets start at depth 20, Adam + L2, lambda 1e-2)
_events = [_move(depth_dropdown, 14), _move(mode_toggle, "AdamW"), _move(lambda_slider, 1e-1),
           _move(depth_dropdown, 8), _move(mode_toggle, "Adam + L2")]
_png_size = _png_pixels()

# the figure cell without the figure (lessons copied out of the repository)
_said = _io.StringIO()
with _contextlib.redirect_stdout(_said):
    _missing = show_depth_figure(Path("no-such-folder/adamw_depth.png"))

_names = LAYER_NAMES[20]
_checks = {
    "decay_right": _verdict(check_adam_l2_decay,
                            lambda v, lr, lam, eps: lr * lam / (_np.sqrt(v) + eps)),
    "decay_adamw": _verdict(check_adam_l2_decay, lambda v, lr, lam, eps: lr * lam + 0 * v),
    "decay_eps_inside": _verdict(check_adam_l2_decay,
                                 lambda v, lr, lam, eps: lr * lam / _np.sqrt(v + eps)),
    "decay_blank": _verdict(check_adam_l2_decay, adam_l2_decay),
    "layer_right": _verdict(check_most_decayed, _names[int(_np.argmax(_drawn["l2_20"]))]),
    "layer_wrong": _verdict(check_most_decayed, "linear.weight"),
    "layer_unknown": _verdict(check_most_decayed, "layer9.conv"),
    "layer_blank": _verdict(check_most_decayed, None),
}

print("LESSON-PROBE " + _json.dumps({
    "drawn": {_k: _a.tolist() for _k, _a in _drawn.items()}, "host_arrays": _host,
    "recomputed_l2_8": _again, "lr": LR, "layer_names": {str(_d): LAYER_NAMES[_d] for _d in DEPTHS},
    "events": _events, "png_size": _png_size,
    "shown_size": [picture.layout.width, picture.layout.height],
    "figure": {"committed": FIGURE.is_file(), "missing_returns": _missing,
               "missing_says": _said.getvalue()},
    "spread": {f"{_d}_{'bn' if _bn else 'nobn'}": {"grad_norm": g_spread[_d, _bn],
                                                    "sqrt_v_hat": v_spread[_d, _bn]}
               for _d in DEPTHS for _bn in (False, True)},
    "layer_scale_20": layer_scale.tolist(),
    "shrink": {_k: _r.tolist() for _k, _r in shrink.items()}, "lam_w": lam_w, "steps": STEPS,
    "checks": _checks}))
