"""shanshui.nn.functional: the stateless forms of the layers and losses, with
torch.nn.functional's names, argument orders and defaults.

The fused kernels (layer_norm, dropout, cross_entropy) and the losses are C++
(shanshui._C.nn.functional); every function bound there by any area is
re-exported here as well.
"""
import warnings

import numpy as _np

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


# ---- composites (Python, from differentiable primitives) --------------------------------------
def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got '{reduction}'")


def silu(input, inplace=False):
    out = input * input.sigmoid()
    return _inplace(input, out) if inplace else out


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    bx = input * beta
    safe = _C.where(bx > threshold, _C.zeros_like(bx), bx)
    soft = (safe.exp() + 1.0).log() / beta
    return _C.where(bx > threshold, input, soft)


def logsigmoid(input):
    return -softplus(-input)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    out = input.clamp(min_val, max_val)
    return _inplace(input, out) if inplace else out


def softsign(input):
    return input / (input.abs() + 1.0)


def mish(input, inplace=False):
    out = input * softplus(input).tanh()
    return _inplace(input, out) if inplace else out


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    _check_same_shape(input, target, "smooth_l1_loss")
    d = (input - target).abs()
    if beta == 0:
        loss = d
    else:
        loss = _C.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, _reduction(size_average, reduce, reduction), "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    _check_same_shape(input, target, "huber_loss")
    d = (input - target).abs()
    loss = _C.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(y log x + (1 - y) log(1 - x)) of probabilities x; the logs are clamped at -100 as in PyTorch."""
    _check_same_shape(input, target, "binary_cross_entropy")
    if bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    loss = -(target * input.log().clamp_min(-100.0) + (1.0 - target) * (1.0 - input).log().clamp_min(-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _reduction(size_average, reduce, reduction), "binary_cross_entropy")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence of log-probabilities `input` from `target` (probabilities, or logs if log_target)."""
    if log_target:
        loss = target.exp() * (target - input)
    else:
        pos = target > 0
        safe = _C.where(pos, target, _C.ones_like(target))
        loss = _C.where(pos, target * (safe.log() - input), _C.zeros_like(input * target))
    reduction = _reduction(size_average, reduce, reduction)
    if reduction == "batchmean":
        return loss.sum() / (input.size(0) if input.dim() > 0 else 1)
    return _reduce(loss, reduction, "kl_div")


def _check_same_shape(input, target, op):
    if list(input.shape) != list(target.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      "the same size.", stacklevel=3)


def pad(input, pad, mode="constant", value=None):
    """Pad (or crop, for negative sizes) the last len(pad) // 2 dims: pad = (left, right, top, bottom, ...)."""
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > input.dim():
        raise ValueError(f"pad: padding length {len(pad)} is too large for an input of shape {list(input.shape)}")
    if mode != "constant" and value:
        raise ValueError(f"pad: padding mode '{mode}' doesn't take in value argument")
    out = input
    for i in range(len(pad) // 2):
        d = input.dim() - 1 - i
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        n = out.size(d)
        if mode == "constant":
            if lo < 0:
                out, n, lo = out.narrow(d, -lo, n + lo), n + lo, 0
            if hi < 0:
                out, n, hi = out.narrow(d, 0, n + hi), n + hi, 0
            parts = []
            for size in (lo, None, hi):
                if size is None:
                    parts.append(out)
                elif size > 0:
                    shape = list(out.shape)
                    shape[d] = size
                    parts.append(_C.full(shape, 0 if value is None else value, dtype=out.dtype))
            out = _C.cat(parts, d) if len(parts) > 1 else out
        elif mode in ("reflect", "replicate", "circular"):
            if mode == "reflect" and (lo >= n or hi >= n):
                raise ValueError(f"pad: padding ({lo}, {hi}) should be less than the input size {n} of dim {d} "
                                 f"in reflect mode")
            idx = _np.arange(-lo, n + hi)
            if mode == "reflect":
                idx = _np.abs(idx)
                idx = _np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
            elif mode == "replicate":
                idx = _np.clip(idx, 0, n - 1)
            else:
                idx = idx % n
            out = out.index_select(d, _C.from_numpy(idx.astype(_np.int64)))
        else:
            raise ValueError(f"pad: unsupported padding mode '{mode}' (constant, reflect, replicate, circular)")
    return out


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over dim, eps)."""
    from .. import norm
    return input / norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    from .. import norm
    n = (norm(x1, 2, dim) * norm(x2, 2, dim)).clamp_min(eps)
    return (x1 * x2).sum(dim) / n
