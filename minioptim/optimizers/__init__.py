"""The optimizers of the talk, in order of increasing complexity; each file opens with its
update."""
from .adagrad import AdaGrad
from .adam import Adam, AdamProx, AdamW
from .base import DECAY_MODES, Optimizer
from .lion import Lion
from .preconditioned import PreconditionedGD
from .sgd import SGD, SGDClipGrad, SGDClipMomentum, SGDNormalized
from .signsgd import GeneralizedSignSGD, SignSGD

__all__ = ["Optimizer", "DECAY_MODES", "SGD", "SGDNormalized", "SGDClipGrad", "SGDClipMomentum",
           "AdaGrad", "Adam", "AdamW", "AdamProx", "Lion", "GeneralizedSignSGD", "SignSGD",
           "PreconditionedGD"]
