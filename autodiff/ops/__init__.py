"""The primitives: each a ``Function`` with its forward and its local derivative side by side."""
from ._util import normalize_axis, reduce_args, unbroadcast
from .elementwise import (
                          Abs,
                          Add,
                          Cast,
                          Clip,
                          Div,
                          Exp,
                          Log,
                          Maximum,
                          Minimum,
                          Mul,
                          Neg,
                          Pow,
                          ReLU,
                          RPow,
                          Sigmoid,
                          Sqrt,
                          Sub,
                          Tanh,
                          Where,
)
from .linalg import MatMul, matmul
from .reduce import Max, Mean, Min, Sum
from .shape import (
                          Concatenate,
                          GetItem,
                          Permute,
                          Reshape,
                          Stack,
                          concatenate,
                          getitem,
                          index_arrays,
                          permute,
                          reshape,
                          stack,
)
from .softmax import LogSoftmax, Softmax

__all__ = ["normalize_axis", "reduce_args", "unbroadcast", "Abs", "Add", "Cast", "Clip", "Div",
           "Exp", "Log", "Maximum", "Minimum", "Mul", "Neg", "Pow", "ReLU", "RPow", "Sigmoid",
           "Sqrt", "Sub", "Tanh", "Where", "MatMul", "matmul", "Max", "Mean", "Min", "Sum",
           "Concatenate", "GetItem", "Permute", "Reshape", "Stack", "concatenate", "getitem",
           "index_arrays", "permute", "reshape", "stack", "LogSoftmax", "Softmax"]
