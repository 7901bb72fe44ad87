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


# ---- conv1d, group_norm, interpolate (compositions over conv2d, reductions and index_select) -------
def _single(v, op, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {v}")
        return int(v[0])
    return int(v)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv1d: input [N, C, L] (or [C, L]), weight [out, C / groups, k]; computed as a
    conv2d with unit height."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"conv1d: expected 2D (unbatched) or 3D (batched) input, but got input of shape "
                           f"{list(input.shape)}")
    if weight.dim() != 3:
        raise RuntimeError(f"conv1d: expected a 3D weight [out_channels, in_channels / groups, kernel_size], got "
                           f"shape {list(weight.shape)}")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    s, d = _single(stride, "conv1d", "stride"), _single(dilation, "conv1d", "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if s != 1:
                raise ValueError("conv1d: padding='same' is not supported for strided convolutions")
            total = d * (weight.size(2) - 1)
            if total % 2:  # the extra zero goes on the right, as in torch
                x = pad(x, (0, 1))
            padding = total // 2
        else:
            raise ValueError(f"conv1d: invalid padding string '{padding}', should be one of ['valid', 'same']")
    p = _single(padding, "conv1d", "padding")
    if x.size(1) != weight.size(1) * groups:
        raise RuntimeError(f"conv1d: expected input {list(input.shape)} to have {weight.size(1) * groups} channels "
                           f"(weight of shape {list(weight.shape)}, groups={groups}), but got {x.size(1)} channels")
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (1, d), groups).squeeze(2)
    return y.squeeze(0) if unbatched else y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.group_norm: normalise each group of channels of [N, C, *] over its channels and
    spatial positions (biased variance), then apply the per-channel affine."""
    if input.dim() < 2:
        raise RuntimeError(f"group_norm: expected an input with at least 2 dims [N, C, *], got shape "
                           f"{list(input.shape)}")
    n, c = input.size(0), input.size(1)
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"group_norm: expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.size(0) != c):
            raise RuntimeError(f"group_norm: expected {name} to be a vector of size {c} (the channels of input shape "
                               f"{list(input.shape)}), but got {name} of shape {list(t.shape)}")
    x = input.reshape([n, num_groups, -1])
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdim=True)
    y = (xc * (var + eps).rsqrt()).reshape(list(input.shape))
    bshape = [1, c] + [1] * (input.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y


def _interp_index(n_in, n_out, scale, mode, align_corners):
    """Source positions along one dim: (i0, i1, lambda) for linear, i0 for nearest (torch's rules)."""
    dst = _np.arange(n_out, dtype=_np.float64)
    if mode == "nearest":
        s = 1.0 / scale if scale is not None else n_in / n_out
        return _np.minimum(_np.floor(dst * s).astype(_np.int64), n_in - 1)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else _np.zeros(n_out)
    else:
        s = 1.0 / scale if scale is not None else n_in / n_out
        src = _np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = _np.minimum(_np.floor(src).astype(_np.int64), n_in - 1)
    i1 = _np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """torch.nn.functional.interpolate for 3-D [N, C, L] and 4-D [N, C, H, W] input, modes 'nearest',
    'linear' (3-D) and 'bilinear' (4-D); separable gathers, differentiable."""
    nd = input.dim() - 2
    if nd not in (1, 2):
        raise NotImplementedError(f"interpolate: only 3-D and 4-D inputs are supported, got shape {list(input.shape)}")
    linear_mode = {1: "linear", 2: "bilinear"}[nd]
    if mode not in ("nearest", linear_mode):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported for {input.dim()}-D input (supported: "
                                  f"'nearest', '{linear_mode}')")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    in_sizes = list(input.shape[2:])
    if size is not None:
        out = [int(size)] * nd if isinstance(size, int) else [int(v) for v in size]
        scales = [None] * nd
    else:
        scales = [float(scale_factor)] * nd if not isinstance(scale_factor, (tuple, list)) else \
            [float(v) for v in scale_factor]
        out = [int(_np.floor(n * s)) for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * nd
    if len(out) != nd or len(scales) != nd:
        raise ValueError(f"interpolate: size / scale_factor must have {nd} elements for input of shape "
                         f"{list(input.shape)}")
    if any(o <= 0 for o in out) or any(n <= 0 for n in in_sizes):
        raise RuntimeError(f"interpolate: input {in_sizes} and output {out} sizes should be greater than 0")

    def idx(a):
        return _C.from_numpy(_np.ascontiguousarray(a, dtype=_np.int64))

    y = input
    for k in range(nd):
        d = 2 + k
        r = _interp_index(in_sizes[k], out[k], scales[k], mode, bool(align_corners))
        if mode == "nearest":
            y = y.index_select(d, idx(r))
            continue
        i0, i1, lam = r
        shape = [1] * input.dim()
        shape[d] = out[k]
        lam = _C.from_numpy(_np.ascontiguousarray(lam.reshape(shape))).to(input.dtype)
        y = y.index_select(d, idx(i0)) * (1 - lam) + y.index_select(d, idx(i1)) * lam
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)
