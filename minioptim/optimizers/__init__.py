"""The optimizers of the talk. Read them in this order, from the simplest to the talk's last one;
each file opens with its update as the talk writes it, and its ``update`` (or ``step``) reads line
by line like it, down to ``w_t = w_{t-1} - eta u_t``:

    base.py            parameter groups, state, and weight decay in its three modes, written once
    sgd.py             SGD with momentum; normalized SGD; SGD with clipped gradient or momentum
    preconditioned.py  GD with a fixed diagonal preconditioner P
    adagrad.py         AdaGrad: a step size per coordinate, the first scale-free method
    rmsprop.py         RMSprop: AdaGrad with an exponential average of g_t^2 instead of the sum
    adam.py            Adam, AdamW and AdamProx: one algorithm in the three decay modes
    lion.py            Lion: the sign of an interpolated momentum
    signsgd.py         generalized SignSGD (and SignSGD with momentum): Adam with v_t of m_t
"""
from .base import DECAY_MODES, Optimizer, Point
from .sgd import SGD, SGDClipGrad, SGDClipMomentum, SGDNormalized
from .preconditioned import PreconditionedGD
from .adagrad import AdaGrad
from .rmsprop import RMSprop
from .adam import Adam, AdamProx, AdamW
from .lion import Lion
from .signsgd import GeneralizedSignSGD, SignSGD

__all__ = ["Optimizer", "DECAY_MODES", "Point", "SGD", "SGDNormalized", "SGDClipGrad",
           "SGDClipMomentum", "PreconditionedGD", "AdaGrad", "RMSprop", "Adam", "AdamW",
           "AdamProx", "Lion", "GeneralizedSignSGD", "SignSGD"]
