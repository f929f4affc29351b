"""The course's models: the CIFAR ResNets (``resnet(depth)``) and the LSTM language model of the
talk's experiments."""
from .awd_lstm import AWDLSTMLanguageModel
from .lstm_lm import LSTMLanguageModel
from .resnet import BasicBlock, ResNet, resnet

__all__ = ["BasicBlock", "ResNet", "resnet", "LSTMLanguageModel", "AWDLSTMLanguageModel"]
