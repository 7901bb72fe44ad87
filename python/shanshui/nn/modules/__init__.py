"""The module classes: bound from C++ (shanshui._C.nn), with Python-side
extensions (container protocols, Embedding.from_pretrained) and the loss modules."""
from ..._C import nn as _Cnn
from .conv_norm import BatchNorm1d, Conv1d, GroupNorm, Upsample
from .container import ModuleDict, ModuleList, Sequential
from .activation import (CosineSimilarity, Flatten, Hardtanh, LogSigmoid, LogSoftmax, Mish, ReLU6, SiLU, Softplus,
                         Softsign, Unflatten)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module
from .sparse import Embedding

Linear = _Cnn.Linear
Identity = _Cnn.Identity
LayerNorm = _Cnn.LayerNorm
Dropout = _Cnn.Dropout
ReLU = _Cnn.ReLU
GELU = _Cnn.GELU
ELU = _Cnn.ELU
LeakyReLU = _Cnn.LeakyReLU
Tanh = _Cnn.Tanh
Sigmoid = _Cnn.Sigmoid
Softmax = _Cnn.Softmax

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "Linear", "Identity", "Embedding", "LayerNorm",
           "Dropout", "ReLU", "GELU", "ELU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "CrossEntropyLoss", "NLLLoss",
           "MSELoss", "L1Loss", "BCEWithLogitsLoss", "BCELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "SiLU", "Mish",
           "Softplus", "Hardtanh", "ReLU6", "LogSigmoid", "Softsign", "LogSoftmax", "CosineSimilarity", "Flatten",
           "Unflatten", "Conv1d", "BatchNorm1d", "GroupNorm", "Upsample"]
