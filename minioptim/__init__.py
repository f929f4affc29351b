"""minioptim: the optimizers of "Understanding Adam and AdamW through Proximal Updates,
Scale-Freeness, and Relaxed Smoothness", and everything that exercises them."""
from . import analysis, data, schedules
from .clipping import clip_grad_norm, global_norm
from .optimizers import (DECAY_MODES, SGD, AdaGrad, Adam, AdamProx, AdamW, GeneralizedSignSGD,
                         Lion, Optimizer, PreconditionedGD, SGDClipGrad, SGDClipMomentum,
                         SGDNormalized, SignSGD)
from .schedules import LRScheduler

__version__ = "0.1.0"
