"""Per-step hooks into the trainer: what an experiment records beyond the epoch's metrics.

A callback is any object with some of these methods (the others are skipped):

    on_train_begin(trainer)
    after_backward(trainer, batch)       gradients are in .grad, as backward left them
    before_step(trainer, batch)          gradients are in .grad (clipped, if the run clips)
    after_step(trainer, batch, record)   the optimizer has stepped; record: step, epoch, batch,
                                         loss, lr, grad_norm (before clipping)
    on_epoch_end(trainer, row)           row: the epoch's line of metrics.csv
    on_train_end(trainer, result)

``trainer.gradient_again(batch)`` recomputes the gradient of the step's batch at the current
weights (same input state, same dropout masks) and restores the batch-norm statistics and the
random generator afterwards, so a callback that measures does not change the run.

Two callbacks come with the trainer: ``Smoothness`` (the talk's local smoothness along training,
``minioptim.analysis.SmoothnessProbe``) and ``StepStatistics`` (what each step did,
``minioptim.analysis.StepRecorder``).
"""
from __future__ import annotations

from ..analysis import SmoothnessProbe, StepRecorder


class Callback:
    """A base with every hook doing nothing; subclass it and override what you need."""

    def on_train_begin(self, trainer):
        pass

    def after_backward(self, trainer, batch):
        pass

    def before_step(self, trainer, batch):
        pass

    def after_step(self, trainer, batch, record):
        pass

    def on_epoch_end(self, trainer, row):
        pass

    def on_train_end(self, trainer, result):
        pass


class Smoothness(Callback):
    """L_t = ||grad F(x_mid) - grad F(x_t)|| / ||x_mid - x_t|| on the step's batch (both
    gradients as backward gives them, before any clipping), every ``every`` steps, for all
    parameters and for ``groups`` (name -> a function of the model returning its parameters;
    default: one group per top-level module that has parameters, and one per element of a
    top-level ModuleList, such as each layer of a Transformer).
    ``probe.records`` and ``probe.pairs(name)`` hold the measurements; a second forward and
    backward per probed step is the cost."""

    def __init__(self, every: int = 1, groups=None):
        self.every, self.group_fns, self.probe = every, groups, None

    def on_train_begin(self, trainer):
        model = trainer.model
        if self.group_fns is None:
            groups = _layer_groups(model)
        else:
            groups = {name: list(fn(model)) for name, fn in self.group_fns.items()}
        self.probe = SmoothnessProbe(trainer.optimizer, closure=lambda: None, groups=groups,
                                     every=self.every)

    def after_backward(self, trainer, batch):
        # grad F(x_t) before clipping: gradient_again's grad F(x_mid) is never clipped either
        self.probe.before_step(trainer.last_loss)

    def after_step(self, trainer, batch, record):
        self.probe.after_step(lambda: trainer.gradient_again(batch))


def _layer_groups(model) -> dict:
    """name -> parameters: each top-level module, a ModuleList's elements one by one."""
    from autodiff.nn.module import ModuleList

    groups = {}
    for name, module in model.named_children():
        parts = module.named_children() if isinstance(module, ModuleList) else [("", module)]
        for sub, part in parts:
            params = list(part.parameters())
            if params:
                groups[f"{name}.{sub}" if sub else name] = params
    return groups


class StepStatistics(Callback):
    """The effective per-coordinate step |dx| / |g| (quantiles), the update-to-weight norm ratio
    and the gradient norm before and after clipping, at every step: ``recorder.records``."""

    def __init__(self, keep_arrays: bool = False):
        self.keep_arrays, self.recorder = keep_arrays, None

    def on_train_begin(self, trainer):
        self.recorder = StepRecorder(trainer.optimizer, keep_arrays=self.keep_arrays)

    def before_step(self, trainer, batch):
        self.recorder.before_step()

    def after_step(self, trainer, batch, record):
        self.recorder.after_step(record["grad_norm"])
