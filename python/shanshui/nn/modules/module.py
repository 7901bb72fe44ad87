"""nn.Module: the C++ binding (shanshui._C.nn.Module); Python classes subclass it as in PyTorch."""
from ..._C import nn as _Cnn

Module = _Cnn.Module

__all__ = ["Module"]
