"""nn.Parameter: a Tensor subclass; assigning one to a module attribute registers it."""
from .._C import nn as _Cnn

Parameter = _Cnn.Parameter

__all__ = ["Parameter"]
