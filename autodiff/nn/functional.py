"""``from autodiff.nn import functional as F``: the layers as functions, PyTorch's names."""
from .conv import conv2d, conv2d_naive  # noqa: F401
from .layers import dropout, embedding, linear, relu, sigmoid, tanh  # noqa: F401
from .losses import (cross_entropy, cross_entropy_composite, log_softmax, mse_loss,  # noqa: F401
                     nll_loss, softmax)
from .normalization import batch_norm, batch_norm_composite, layer_norm  # noqa: F401
from .pooling import (adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d,  # noqa: F401
                      max_pool2d)
from .recurrent import lstm  # noqa: F401
