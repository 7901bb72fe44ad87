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
from . import utils  # noqa: E402  (clip_grad_norm_, clip_grad_value_)
from . import parallel  # noqa: E402  (DistributedDataParallel)
from . import decoding  # noqa: E402  (KV caches, greedy and beam search)
from .decoding import (KeyValueCache, SearchResult, TransformerDecoderCache, beam_search,  # noqa: E402,F401
                       greedy_search, sequence_score)
