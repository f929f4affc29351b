"""``from autodiff.nn import functional as F``: the layers as functions, PyTorch's names."""
from .layers import dropout, embedding, linear, relu, sigmoid, tanh  # noqa: F401
from .losses import (cross_entropy, cross_entropy_composite, log_softmax, mse_loss,  # noqa: F401
                     nll_loss, softmax)
from .normalization import batch_norm, batch_norm_composite, layer_norm  # noqa: F401
