"""shanshui.nn: modules, layers, losses and initialisers under PyTorch's names.

The classes are bound from C++ (shanshui._C.nn); every Module subclass bound
there is re-exported here, so C++ modules added by any area appear as
shanshui.nn.<Name> without editing this file.
"""
from .._C import nn as _Cnn
from .parameter import Parameter
from .modules import *  # noqa: F401,F403
from .modules import Module

for _name in dir(_Cnn):
    _obj = getattr(_Cnn, _name)
    if isinstance(_obj, type) and issubclass(_obj, Module) and _name not in globals():
        globals()[_name] = _obj
del _name, _obj

from . import functional  # noqa: E402
from . import init  # noqa: E402



def _import_optional(name):
    import importlib
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        return None


# nn.utils (clip_grad_norm_, ...) is written by the optim bindings; optional until it lands.
utils = _import_optional("utils")
if utils is None:
    del utils
