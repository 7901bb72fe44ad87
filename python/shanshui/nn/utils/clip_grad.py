"""Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (the work is in C++)."""
import math

from ... import _C
from ..._C import Tensor


def _grad_params(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad: parameter {i} is a {type(p).__name__}, not a Tensor")
    return params


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so their total ``norm_type`` norm is at most ``max_norm``.

    The total norm is taken over all gradients as if concatenated (``inf`` for the max norm);
    gradients are multiplied by max_norm / (total + 1e-6) when that is below 1. Returns the
    total norm (before clipping) as a 0-d tensor. With ``error_if_nonfinite``, a nan or inf
    total norm raises RuntimeError instead of filling the gradients with nan.
    """
    params = _grad_params(parameters)
    norm_type = float(norm_type)
    if math.isnan(norm_type) or norm_type <= 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    total = _C._optim.clip_grad_norm_(params, float(max_norm), norm_type, bool(error_if_nonfinite))
    grads = [p.grad for p in params if p.grad is not None]
    dtype = grads[0].dtype if grads else _C.dtype.float32
    return _C.scalar_tensor(total, dtype=dtype)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    _C._optim.clip_grad_value_(_grad_params(parameters), clip_value)
