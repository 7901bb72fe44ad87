"""shanshui.nn.functional: the stateless forms of the layers and losses, with
torch.nn.functional's names, argument orders and defaults.

The fused kernels (layer_norm, dropout, cross_entropy) and the losses are C++
(shanshui._C.nn.functional); every function bound there by any area is
re-exported here as well.
"""
import warnings

from .. import _C
from .._C.nn import functional as _F

for _name in dir(_F):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_F, _name)
del _name


def _reduction(size_average, reduce, reduction):
    """PyTorch's legacy size_average / reduce arguments, mapped onto reduction."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    r = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='{}' instead.".format(r),
                  stacklevel=3)
    return r


def _softmax_dim(ndim):
    # PyTorch's implicit-dim rule for softmax(dim=None).
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _inplace(input, result):
    input.copy_(result)
    return input


# ---- layers -------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, weight [out_features, in_features]."""
    return _C.linear(input, weight, bias)


def embedding(input, weight, padding_idx=None):
    """Rows of weight [num_embeddings, dim] at the int64 indices `input`; no gradient reaches padding_idx."""
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.size(0)
    return _C.embedding(weight, input, padding_idx)


def one_hot(tensor, num_classes=-1):
    return _C.one_hot(tensor, num_classes)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing normalized_shape dims (fused forward and backward)."""
    return _F.layer_norm(input, normalized_shape, weight, bias, eps)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability p and scale the rest by 1/(1-p) (identity when not training)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    r = _F.dropout(input, p, training)
    return _inplace(input, r) if inplace else r


# ---- activations --------------------------------------------------------------------------
def relu(input, inplace=False):
    return _C.relu_(input) if inplace else _C.relu(input)


def relu_(input):
    return _C.relu_(input)


def gelu(input, approximate="none"):
    return _C.gelu(input, approximate=approximate)


def elu(input, alpha=1.0, inplace=False):
    r = _C.elu(input, alpha)
    return _inplace(input, r) if inplace else r


def leaky_relu(input, negative_slope=0.01, inplace=False):
    r = _C.leaky_relu(input, negative_slope)
    return _inplace(input, r) if inplace else r


def tanh(input):
    return _C.tanh(input)


def sigmoid(input):
    return _C.sigmoid(input)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.log_softmax(input, dim, dtype)


# ---- losses ---------------------------------------------------------------------------------
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits [N, C, ...] against class indices [N, ...] or class probabilities [N, C, ...]."""
    return _F.cross_entropy(input, target, weight, ignore_index, _reduction(size_average, reduce, reduction),
                            label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities [N, C, ...] at class indices [N, ...]."""
    return _F.nll_loss(input, target, weight, ignore_index, _reduction(size_average, reduce, reduction))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return _F.mse_loss(input, target, _reduction(size_average, reduce, reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return _F.l1_loss(input, target, _reduction(size_average, reduce, reduction))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross-entropy in one numerically stable step."""
    return _F.binary_cross_entropy_with_logits(input, target, weight, _reduction(size_average, reduce, reduction),
                                               pos_weight)
