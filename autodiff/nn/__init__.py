"""Layers and models on the autodiff engine; names and shapes follow PyTorch."""
from . import functional, init
from .activations import ELU, GELU, LeakyReLU, SiLU, Softplus
from .conv import Conv2d
from .layers import Dropout, Embedding, Flatten, Identity, Linear, ReLU, Sigmoid, Tanh
from .losses import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .recurrent import LSTM, LSTMCell
from .serialization import load, save
from .transformer import (LearnedPositionalEncoding, MultiheadAttention,
                          SinusoidalPositionalEncoding, TransformerDecoderLayer,
                          TransformerEncoderLayer)

__all__ = ["Module", "ModuleList", "Parameter", "Sequential", "save", "load", "functional", "init",
           "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "ReLU", "Tanh",
           "Sigmoid", "Identity", "Flatten", "Dropout", "Embedding", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "LSTM", "LSTMCell", "CrossEntropyLoss", "MSELoss", "NLLLoss",
           "GELU", "SiLU", "LeakyReLU", "Softplus", "ELU",
           "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
           "SinusoidalPositionalEncoding", "LearnedPositionalEncoding"]
