"""Layers and models on the autodiff engine; names and shapes follow PyTorch."""
from .module import Module, ModuleList, Parameter, Sequential
from .serialization import load, save

__all__ = ["Module", "ModuleList", "Parameter", "Sequential", "save", "load"]
