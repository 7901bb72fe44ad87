"""Tensor ops composed in Python from differentiable primitives: sorting (the
order is computed with NumPy, the values gathered so gradients flow), norms,
float classification (isinf, isfinite, isclose) and small conveniences
(new_tensor, type_as, clamp with tensor bounds, where(condition)).

Installed on shanshui and shanshui.Tensor by ``install``, under torch's names.
"""
import builtins as _builtins
import collections as _collections
import math as _math

import numpy as _np

from . import _C

_RETURN_TYPES = {}


def _values_indices(name, values, indices):
    if name not in _RETURN_TYPES:
        nt = _collections.namedtuple(name, ("values", "indices"))
        nt.__module__ = "shanshui.return_types"
        _RETURN_TYPES[name] = nt
    return _RETURN_TYPES[name](values, indices)


def _wrap_dim(dim, ndim, op):
    n = _builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _order(input, dim, descending):
    """int64 indices sorting `input` along `dim` (stable, NaN last as in torch)."""
    a = input.detach().numpy()
    if a.dtype == _np.bool_:
        a = a.astype(_np.int64)
    if descending:  # stable descending order: sort the negation, NaN first as in torch
        a = _np.where(_np.isnan(a), -_np.inf, -a) if a.dtype.kind == "f" else -a
    idx = _np.argsort(a, axis=dim, kind="stable")
    return _C.from_numpy(_np.ascontiguousarray(idx.astype(_np.int64)))


def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """(values, indices) of `input` sorted along `dim`; values carry the gradient."""
    if input.dim() == 0:
        return _values_indices("sort", input.clone(), _C.from_numpy(_np.zeros((), dtype=_np.int64)))
    d = _wrap_dim(dim, input.dim(), "sort")
    idx = _order(input, d, descending)
    return _values_indices("sort", input.gather(d, idx), idx)


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """(values, indices) of the k largest (or smallest) entries along `dim`."""
    if input.dim() == 0:
        return sort(input)
    d = _wrap_dim(dim, input.dim(), "topk")
    n = input.size(d)
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k={k} out of range for dimension {d} of size {n}"
                           f" (input shape {list(input.shape)})")
    idx = _order(input, d, largest).narrow(d, 0, k).contiguous()
    return _values_indices("topk", input.gather(d, idx), idx)


def _dims(dim, ndim):
    if dim is None:
        return None
    return (dim,) if isinstance(dim, int) else tuple(dim)


def _safe_root(s, p):
    """s ** (1/p) with a zero (not NaN) gradient where s == 0, as torch's norm has."""
    zero = s == 0
    safe = _C.where(zero, _C.ones_like(s), s)
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return _C.where(zero, _C.zeros_like(s), root)


def vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector p-norm of `input` over `dim` (all elements when None)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: expected a floating point input, got {input.dtype}")
    x = input if dtype is None else input.to(dtype)
    dims = _dims(dim, x.dim())
    kw = {"keepdim": keepdim} if dims is not None else {}
    if dims is None and keepdim:
        dims, kw = tuple(range(x.dim())), {"keepdim": True}
    red = (lambda t, f: getattr(t, f)(dims, **kw)) if dims is not None else (lambda t, f: getattr(t, f)())
    ord = float(ord)
    if ord == _math.inf:
        return red(x.abs(), "amax")
    if ord == -_math.inf:
        return red(x.abs(), "amin")
    if ord == 0:
        return red((x != 0).to(x.dtype), "sum")
    if ord == 1:
        return red(x.abs(), "sum")
    if ord == 2:
        return _safe_root(red(x * x, "sum"), 2)
    return _safe_root(red(x.abs() ** ord, "sum"), ord)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: the Frobenius / vector p-norm over `dim` (all elements when None)."""
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(f"norm: p='{p}' is not supported (shanshui has vector norms and 'fro')")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def linalg_norm(input, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm for vector norms (and the Frobenius norm of a whole tensor)."""
    if ord is None or ord == "fro":
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is None and input.dim() == 1):
        return vector_norm(input, ord, dim, keepdim, dtype=dtype)
    raise NotImplementedError(f"linalg.norm: matrix norm ord={ord!r} is not supported (only vector norms)")


def isinf(input):
    if not input.dtype.is_floating_point:
        return _C.zeros(list(input.shape), dtype=_C.dtype.bool)
    return input.detach().abs() == _math.inf


def isfinite(input):
    if not input.dtype.is_floating_point:
        return _C.ones(list(input.shape), dtype=_C.dtype.bool)
    return (input.detach() - input.detach()) == 0  # NaN for inf and NaN


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = input.detach(), other.detach() if isinstance(other, _C.Tensor) else other
    close = (a == b) | ((a - b).abs() <= atol + rtol * (b.abs() if isinstance(b, _C.Tensor) else abs(b)))
    if equal_nan and a.dtype.is_floating_point:
        close = close | (a.isnan() & (b.isnan() if isinstance(b, _C.Tensor) else _math.isnan(b)))
    return close


def std_mean(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    kw = {"correction": correction} if unbiased is None else {"unbiased": unbiased}
    if dim is None:
        return input.std(**kw), input.mean()
    return input.std(dim, keepdim=keepdim, **kw), input.mean(dim, keepdim=keepdim)


def var_mean(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    kw = {"correction": correction} if unbiased is None else {"unbiased": unbiased}
    if dim is None:
        return input.var(**kw), input.mean()
    return input.var(dim, keepdim=keepdim, **kw), input.mean(dim, keepdim=keepdim)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    from . import tensor
    return tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)


def _type_as(self, other):
    return self.to(other.dtype)


def _make_clamp(orig, name):
    def clamp(input, min=None, max=None):
        if isinstance(min, _C.Tensor) or isinstance(max, _C.Tensor):
            out = input
            if min is not None:
                out = _C.maximum(out, min if isinstance(min, _C.Tensor) else _C.full_like(out, min))
            if max is not None:
                out = _C.minimum(out, max if isinstance(max, _C.Tensor) else _C.full_like(out, max))
            return out
        return orig(input, min, max)
    clamp.__name__ = name
    clamp.__doc__ = orig.__doc__
    return clamp


def _make_where(orig):
    def where(condition, input=None, other=None):
        if input is None and other is None:
            return condition.nonzero(as_tuple=True)
        return orig(condition, input, other)
    where.__doc__ = orig.__doc__
    return where


def _format(self, spec):
    # f"{loss:.4f}" formats a one-element 0-d tensor as its number, as in torch
    if self.dim() == 0:
        return format(self.item(), spec)
    return object.__format__(self, spec)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """Out-of-place scatter: a copy of input with input[index[i][j]][j] = src[i][j] (dim 0), ...

    Differentiable in input and src; with duplicate indices the written values are summed
    (PyTorch leaves the choice unspecified).
    """
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_reduce")
    if src is None:
        src = value
    if not isinstance(src, _C.Tensor):
        src = _C.full(list(index.shape), src, dtype=input.dtype)
    elif list(src.shape) != list(index.shape):
        if src.dim() != index.dim() or _builtins.any(i > s for i, s in zip(index.shape, src.shape)):
            raise RuntimeError(f"scatter: index of shape {list(index.shape)} does not fit src of shape "
                               f"{list(src.shape)}")
        for d, n in enumerate(index.shape):
            src = src.narrow(d, 0, n)
    written = _C.zeros(list(input.shape), dtype=_C.dtype.float32).scatter_add(
        dim, index, _C.ones(list(index.shape), dtype=_C.dtype.float32)) > 0
    return input.masked_fill(written, 0).scatter_add(dim, index, src.to(input.dtype))


def _scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    return self.copy_(scatter(self, dim, index, src, value, reduce=reduce))


def install(ns):
    """Put the functions in the namespace `ns` (the shanshui module dict) and on Tensor."""
    T = _C.Tensor
    for f in (sort, argsort, topk, norm, isinf, isfinite, isclose):
        ns[f.__name__] = f
        setattr(T, f.__name__, f)
    ns["std_mean"], ns["var_mean"] = std_mean, var_mean
    T.new_tensor = _new_tensor
    T.__format__ = _format
    ns["scatter"] = T.scatter = scatter
    T.scatter_ = _scatter_
    T.type_as = _type_as
    for name in ("clamp", "clip"):
        ns[name] = _make_clamp(getattr(_C, name), name)
        setattr(T, name, _make_clamp(getattr(T, name), name))
    ns["where"] = _make_where(_C.where)


def linalg_module(parent):
    """shanshui.linalg: vector norms (torch.linalg.norm / vector_norm); importable as a module."""
    import sys
    import types
    m = types.ModuleType(f"{parent}.linalg", linalg_module.__doc__)
    m.norm, m.vector_norm = linalg_norm, vector_norm
    sys.modules[m.__name__] = m
    return m
