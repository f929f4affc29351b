"""The course's models: the CIFAR ResNets (``resnet(depth)``), the LSTM language models of the
talk's experiments, and two small Transformers (a language model and an encoder-decoder)."""
from .awd_lstm import AWDLSTMLanguageModel
from .lstm_lm import LSTMLanguageModel
from .resnet import BasicBlock, ResNet, resnet
from .transformer import Seq2SeqTransformer, TransformerLanguageModel

__all__ = ["BasicBlock", "ResNet", "resnet", "LSTMLanguageModel", "AWDLSTMLanguageModel",
           "TransformerLanguageModel", "Seq2SeqTransformer"]
