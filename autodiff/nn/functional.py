"""``from autodiff.nn import functional as F``: the layers as functions, PyTorch's names."""
from .activations import elu, gelu, leaky_relu, silu, softplus  # noqa: F401
from .attention import scaled_dot_product_attention  # noqa: F401
from .conv import conv2d, unfold  # noqa: F401
from .layers import dropout, embedding, linear, relu, sigmoid, tanh  # noqa: F401
from .losses import cross_entropy, log_softmax, mse_loss, nll_loss, softmax  # noqa: F401
from .normalization import batch_norm, layer_norm  # noqa: F401
from .padding import one_hot, pad  # noqa: F401
from .pooling import (adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d,  # noqa: F401
                      max_pool2d)
from .recurrent import lstm, lstm_cell, lstm_layer  # noqa: F401
