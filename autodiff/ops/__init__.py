"""The primitives: each a ``Function`` with its forward and its local derivative side by side."""
from ._util import normalize_axis, reduce_args, unbroadcast
from .elementwise import (
                          Abs,
                          Add,
                          Cast,
                          Clip,
                          Clone,
                          Cos,
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
                          Sin,
                          Sqrt,
                          Sub,
                          Tanh,
                          Where,
)
from .einsum import Einsum, einsum
from .indexing import Gather, MaskedFill, ScatterAdd, gather, masked_fill, scatter_add
from .linalg import MatMul, Tril, Triu, matmul, triangle
from .reduce import CumSum, LogSumExp, Max, Mean, Min, Std, Sum, Var, arg_reduce
from .shape import (
                          BroadcastTo,
                          Concatenate,
                          GetItem,
                          Permute,
                          Reshape,
                          Stack,
                          concatenate,
                          expand,
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
           "index_arrays", "permute", "reshape", "stack", "LogSoftmax", "Softmax",
           "Clone", "Cos", "Sin", "Einsum", "einsum", "Tril", "Triu", "triangle", "CumSum",
           "LogSumExp", "Std", "Var", "arg_reduce",
           "BroadcastTo", "expand", "Gather", "MaskedFill", "ScatterAdd", "gather",
           "masked_fill", "scatter_add"]
