"""Scans, order statistics, counting and small tensor utilities composed in
Python, under torch's names: cumprod, cummax / cummin, diff, median, nanmean /
nansum, aminmax, mode, unique / unique_consecutive, bincount, histc, tile,
tensor_split, index_fill(_), cdist, block_diag; einsum lives in _einsum.py.

Values that carry gradients are produced by differentiable primitives (gather,
narrow, cat, where, sum, bmm) so autograd is exact; the integer work (orders,
indices, counts) is done with NumPy. cumprod is an autograd.Function whose
backward is exact with zeros in the input.

Installed on shanshui and shanshui.Tensor by ``install``.
"""
import builtins as _builtins
import collections as _collections

import numpy as _np

from . import _C
from ._tensor_extras import _values_indices, _wrap_dim

_NAMED = {}


def _named(name, fields, *values):
    if name not in _NAMED:
        nt = _collections.namedtuple(name, fields)
        nt.__module__ = "shanshui.return_types"
        _NAMED[name] = nt
    return _NAMED[name](*values)


def _i64(a):
    return _C.from_numpy(_np.ascontiguousarray(_np.asarray(a, dtype=_np.int64)))


def _np_of(t):
    return t.detach().contiguous().numpy()


def _check_tensor(x, op, arg="input"):
    if not isinstance(x, _C.Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


# ---- scans -----------------------------------------------------------------------------------
def _np_cumprod(a, axis):
    return _np.cumprod(a, axis=axis).astype(a.dtype, copy=False)


def _cumprod_grad(x, g, axis):
    """d/dx_k of sum_i g_i prod_{j<=i} x_j, exact with zeros:
    grad_k = (prod_{j<k} x_j) * R_k with R_k = g_k + x_{k+1} R_{k+1}."""
    x = _np.moveaxis(x, axis, 0)
    g = _np.moveaxis(g, axis, 0)
    n = x.shape[0]
    excl = _np.ones_like(x)
    if n > 1:
        excl[1:] = _np.cumprod(x[:-1], axis=0)
    r = _np.empty_like(g)
    acc = _np.zeros_like(g[0]) if n else None
    for k in range(n - 1, -1, -1):
        acc = g[k] + (x[k + 1] * acc if k + 1 < n else 0)
        r[k] = acc
    return _np.ascontiguousarray(_np.moveaxis(excl * r, 0, axis))


def _cumprod_function():
    from .autograd import Function

    class CumprodBackward(Function):
        @staticmethod
        def forward(ctx, x, axis):
            ctx.axis = axis
            ctx.save_for_backward(x)
            return _C.from_numpy(_np.ascontiguousarray(_np_cumprod(_np_of(x), axis)))

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return _C.from_numpy(_cumprod_grad(_np_of(x), _np_of(g).astype(_np_of(x).dtype), ctx.axis)), None

    return CumprodBackward


_CUMPROD = None


def cumprod(input, dim, *, dtype=None, out=None):
    """Cumulative product along `dim`; the gradient is exact when the input holds zeros."""
    global _CUMPROD
    _check_tensor(input, "cumprod")
    x = input if dtype is None else input.to(dtype)
    if x.dtype == _C.dtype.bool or not x.dtype.is_floating_point and dtype is None:
        x = x.to(_C.dtype.int64)
    if x.dim() == 0:
        _wrap_dim(dim, 0, "cumprod")
        return x.clone()
    d = _wrap_dim(dim, x.dim(), "cumprod")
    if not x.dtype.is_floating_point:
        return _C.from_numpy(_np.ascontiguousarray(_np.cumprod(_np_of(x), axis=d)))
    if _CUMPROD is None:
        _CUMPROD = _cumprod_function()
    return _CUMPROD.apply(x, d)


def _cum_extreme(input, dim, name, better):
    _check_tensor(input, name)
    if input.dim() == 0:
        _wrap_dim(dim, 0, name)
        return _values_indices(name, input.clone(), _i64(0))
    d = _wrap_dim(dim, input.dim(), name)
    a = _np.moveaxis(_np_of(input), d, 0)
    idx = _np.zeros(a.shape, _np.int64)
    if a.shape[0] and a.size:
        cur, best = a[0].copy(), _np.zeros(a.shape[1:], _np.int64)
        floating = a.dtype.kind == "f"
        for k in range(a.shape[0]):
            x = a[k]
            take = better(x, cur)  # ties take the later index, as torch does
            if floating:
                take = _np.isnan(x) | (~_np.isnan(cur) & take)
            cur = _np.where(take, x, cur)
            best = _np.where(take, k, best)
            idx[k] = best
    idx = _i64(_np.moveaxis(idx, 0, d))
    return _values_indices(name, input.gather(d, idx), idx)


def cummax(input, dim):
    """(values, indices) of the running maximum along `dim`; values carry the gradient."""
    return _cum_extreme(input, dim, "cummax", _np.greater_equal)


def cummin(input, dim):
    """(values, indices) of the running minimum along `dim`; values carry the gradient."""
    return _cum_extreme(input, dim, "cummin", _np.less_equal)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference along `dim` (bool inputs give logical xor, as in torch)."""
    _check_tensor(input, "diff")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"diff expects n to be non-negative, but got {n}")
    d = _wrap_dim(dim, input.dim(), "diff")
    parts = []
    for name, t in (("prepend", prepend), ("append", append)):
        if t is None:
            parts.append(None)
            continue
        if not isinstance(t, _C.Tensor):
            shape = list(input.shape)
            shape[d] = 1
            t = _C.full(shape, t, dtype=input.dtype)
        if t.dim() != input.dim():
            raise RuntimeError(f"diff expects prepend or append to be the same dimension as input: {name} has "
                               f"shape {list(t.shape)}, input has shape {list(input.shape)}")
        parts.append(t)
    x = _C.cat([p for p in (parts[0], input, parts[1]) if p is not None], d) if prepend is not None or \
        append is not None else input
    for _ in range(n):
        m = x.size(d)
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = (hi != lo) if x.dtype == _C.dtype.bool else hi - lo
    return x


# ---- order statistics ------------------------------------------------------------------------
def _spread(x, hit, value):
    """`value` (detached) plus a zero term whose gradient spreads evenly over the `hit` elements."""
    count = hit.sum().to(x.dtype)
    zero = _C.where(hit, x - value, _C.zeros_like(x)).sum() / count
    return value + zero


def _along_last(input, dim, op):
    """(dim, its size, the values as NumPy with that dim last) for a reduction along one
    dim, after torch's checks: a valid dim of non-zero size."""
    d = _wrap_dim(dim, input.dim(), op)
    n = input.size(d)
    if n == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size (input shape "
                         f"{list(input.shape)})")
    return d, n, _np.moveaxis(_np_of(input), d, -1)


def median(input, dim=None, keepdim=False):
    """Lower median: of all elements (gradient spread evenly over ties, as torch), or along `dim` ->
    (values, indices); NaN propagates."""
    _check_tensor(input, "median")
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"median() input tensor cannot be empty (input shape {list(input.shape)})")
        a = _np_of(input).reshape(-1)
        if a.dtype.kind == "f" and _np.isnan(a).any():
            v = _np.array(_np.nan, a.dtype)
        else:
            v = _np.sort(a, kind="stable")[(a.size - 1) // 2]
        value = _C.from_numpy(_np.array(v, a.dtype))
        if not input.requires_grad:
            return value
        hit = input.isnan() if _np.isnan(v) else input == value
        return _spread(input, hit, value)
    if input.dim() == 0:
        _wrap_dim(dim, 0, "median")
        return _values_indices("median", input.clone(), _i64(0))
    d, n, a = _along_last(input, dim, "median")
    order = _np.argsort(a, axis=-1, kind="stable")  # NaN sorts last
    idx = order[..., (n - 1) // 2]
    if a.dtype.kind == "f":
        nan = _np.isnan(a)
        idx = _np.where(nan.any(-1), _np.argmax(nan, -1), idx)  # first NaN
    idx = _i64(_np.expand_dims(idx, -1))
    idx = _C.from_numpy(_np.ascontiguousarray(_np.moveaxis(idx.numpy(), -1, d)))
    values = input.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return _values_indices("median", values, idx)


def _nan_zeroed(input):
    if not input.dtype.is_floating_point:
        return input
    return _C.where(input.isnan(), _C.zeros_like(input), input)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum treating NaN as zero (NaN positions get no gradient)."""
    _check_tensor(input, "nansum")
    x = _nan_zeroed(input if dtype is None else input.to(dtype))
    if dim is None:
        return x.sum(tuple(range(x.dim())), keepdim=True).reshape([1] * x.dim()) if keepdim else x.sum()
    return x.sum(dim, keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over the non-NaN elements."""
    _check_tensor(input, "nanmean")
    if not (input.dtype if dtype is None else dtype).is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {input.dtype}")
    x = input if dtype is None else input.to(dtype)
    count = nansum((~x.isnan()).to(x.dtype), dim, keepdim)
    return nansum(x, dim, keepdim) / count


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) of all elements or along `dim`."""
    _check_tensor(input, "aminmax")
    if input.numel() == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity")
    if dim is None:
        if keepdim:
            dims = tuple(range(input.dim()))
            return _named("aminmax", ("min", "max"), input.amin(dims, keepdim=True), input.amax(dims, keepdim=True))
        return _named("aminmax", ("min", "max"), input.amin(), input.amax())
    return _named("aminmax", ("min", "max"), input.amin(dim, keepdim=keepdim), input.amax(dim, keepdim=keepdim))


def mode(input, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along `dim` (the smallest on count ties) and the
    index of its last occurrence, as torch."""
    _check_tensor(input, "mode")
    if input.dim() == 0:
        _wrap_dim(dim, 0, "mode")
        return _values_indices("mode", input.clone(), _i64(0))
    d, n, a = _along_last(input, dim, "mode")
    rows = a.reshape(-1, n)
    out = _np.empty(rows.shape[0], _np.int64)
    for r, row in enumerate(rows):
        vals, inv, counts = _np.unique(row, return_inverse=True, return_counts=True)
        best = int(_np.argmax(counts))  # first max count = smallest value
        out[r] = n - 1 - int(_np.argmax((inv == best)[::-1]))
    idx = _np.moveaxis(out.reshape(a.shape[:-1] + (1,)), -1, d)
    idx = _i64(idx)
    values = input.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return _values_indices("mode", values, idx)


# ---- counting --------------------------------------------------------------------------------
def _as_tensor_like(a, like):
    return _C.from_numpy(_np.ascontiguousarray(_np.asarray(a, dtype=_np_of(like).dtype)))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted; torch's CPU unique sorts even when sorted=False), optionally the
    inverse indices and the counts; with `dim`, the distinct slices along `dim`."""
    _check_tensor(input, "unique")
    a = _np_of(input)
    if dim is None:
        vals, inv, counts = _np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = _wrap_dim(dim, input.dim(), "unique")
        if a.shape[d] == 0 or a.size == 0:
            if a.shape[d] != 0:
                raise RuntimeError(f"unique_dim: Number of zero sized dimensions is more than one, so unique "
                                   f"cannot be applied (input shape {list(a.shape)})")
            vals, inv, counts = a, _np.zeros(0, _np.int64), _np.zeros(0, _np.int64)
        else:
            vals, inv, counts = _np.unique(a, return_inverse=True, return_counts=True, axis=d)
            inv = inv.reshape(-1)
    out = [_as_tensor_like(vals, input)]
    if return_inverse:
        out.append(_i64(inv))
    if return_counts:
        out.append(_i64(counts))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values (or slices along `dim`)."""
    _check_tensor(input, "unique_consecutive")
    a = _np_of(input)
    if dim is None:
        flat = a.reshape(-1)
        new = _np.ones(flat.size, bool)
        new[1:] = flat[1:] != flat[:-1]
        vals = flat[new]
        inv_shape = a.shape
    else:
        d = _wrap_dim(dim, input.dim(), "unique_consecutive")
        m = _np.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        new = _np.ones(m.shape[0], bool)
        if m.shape[0] > 1:
            new[1:] = (m[1:] != m[:-1]).any(axis=1)
        vals = _np.compress(new, a, axis=d)
        inv_shape = (a.shape[d],)
    inv = (_np.cumsum(new) - 1).reshape(inv_shape)
    starts = _np.flatnonzero(new)
    counts = _np.diff(_np.append(starts, new.size))
    out = [_as_tensor_like(vals, input)]
    if return_inverse:
        out.append(_i64(inv))
    if return_counts:
        out.append(_i64(counts))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Counts (or summed weights) of each value of a 1-D non-negative integer tensor (no gradient)."""
    _check_tensor(input, "bincount")
    if input.dim() != 1 or input.dtype.is_floating_point or input.dtype == _C.dtype.bool:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got dtype {input.dtype}, "
                           f"shape {list(input.shape)})")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    a = _np_of(input)
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs (found a negative value)")
    if weights is None:
        return _i64(_np.bincount(a, minlength=minlength))
    if weights.dim() != 1 or weights.size(0) != a.size:
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input (weights shape "
                           f"{list(weights.shape)}, input shape {list(input.shape)})")
    w = _np_of(weights)
    out_dt = w.dtype if w.dtype.kind == "f" else _np.float64
    return _C.from_numpy(_np.ascontiguousarray(_np.bincount(a, weights=w, minlength=minlength).astype(out_dt)))


def histc(input, bins=100, min=0, max=0):
    """Histogram of `bins` equal-width bins over [min, max] (the data range when both are 0);
    elements outside are ignored (no gradient)."""
    _check_tensor(input, "histc")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"histc: expected a floating point input, got {input.dtype}")
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, but got {bins}")
    a = _np_of(input).reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max must be larger than min (min={min}, max={max})")
    a = a[(a >= lo) & (a <= hi)]
    pos = ((a.astype(_np.float64) - lo) * bins / (hi - lo)).astype(_np.int64)
    pos = _np.minimum(pos, bins - 1)
    return _C.from_numpy(_np.bincount(pos, minlength=bins).astype(_np_of(input).dtype))


# ---- shape utilities -------------------------------------------------------------------------
def tile(input, dims):
    """Repeat `input` dims[i] times along each dim (dims padded with 1s on the left)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(dims) < input.dim():
        dims = (1,) * (input.dim() - len(dims)) + dims
    return input.repeat(*dims)


def _tile_method(self, *dims):
    return tile(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)


def tensor_split(input, indices_or_sections, dim=0):
    """Split into sections (an int: sizes differ by at most one) or at the given indices; views."""
    _check_tensor(input, "tensor_split")
    if input.dim() == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim(dim, input.dim(), "tensor_split")
    n = input.size(d)
    s = indices_or_sections
    if isinstance(s, _C.Tensor):
        if s.dim() > 1 or s.dtype.is_floating_point:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor of integers, but got a tensor with {s.dim()} dims")
        s = s.item() if s.dim() == 0 else s.tolist()
    if isinstance(s, int):
        if s <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {s}")
        q, r = divmod(n, s)
        bounds = [k * q + _builtins.min(k, r) for k in range(s + 1)]
    else:
        bounds = [0] + [_builtins.min(_builtins.max(i + n if i < 0 else i, 0), n) for i in s] + [n]
    return tuple(input.narrow(d, a, _builtins.max(b - a, 0)) if b > a else input.narrow(d, _builtins.min(a, n), 0)
                 for a, b in zip(bounds[:-1], bounds[1:]))


def _index_mask(input, dim, index, op):
    d = _wrap_dim(dim, input.dim(), op)
    if index.dtype != _C.dtype.int64 or index.dim() > 1:
        raise IndexError(f"{op}(): Expected a long tensor for index with at most one dimension, but got "
                         f"{index.dtype} of shape {list(index.shape)}")
    n = input.size(d) if input.dim() else 1
    idx = _np_of(index).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{op}(): index out of range for dimension {d} of size {n} (input shape "
                         f"{list(input.shape)})")
    hit = _np.zeros(n, bool)
    hit[idx % n if n else idx] = True
    shape = [1] * input.dim()
    if shape:
        shape[d] = n
    return _C.from_numpy(hit.reshape(shape))


def index_fill(input, dim, index, value):
    """A copy of input with the slices at `index` along `dim` set to `value` (a number or 0-d tensor)."""
    _check_tensor(input, "index_fill")
    if isinstance(value, _C.Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s)")
        return _C.where(_index_mask(input, dim, index, "index_fill"), value.to(input.dtype), input)
    return input.masked_fill(_index_mask(input, dim, index, "index_fill"), value)


def _index_fill_(self, dim, index, value):
    return self.copy_(index_fill(self, dim, index, value))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of x1 [..., P, M] and x2 [..., R, M] -> [..., P, R]."""
    from ._tensor_extras import _safe_root
    _check_tensor(x1, "cdist", "x1")
    _check_tensor(x2, "cdist", "x2")
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D, X2 got: {x2.dim()}D")
    if x1.size(-1) != x2.size(-1):
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {x1.size(-1)} X2: {x2.size(-1)}")
    if not x1.dtype.is_floating_point or not x2.dtype.is_floating_point:
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}, X2 got: {x2.dtype}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # [..., P, R, M]
    p = float(p)
    if p == float("inf"):
        return d.abs().amax(-1) if d.size(-1) else d.sum(-1)
    if p == 0:
        return (d != 0).to(d.dtype).sum(-1)
    if p == 1:
        return d.abs().sum(-1)
    if p == 2:
        return _safe_root((d * d).sum(-1), 2)
    return _safe_root((d.abs() ** p).sum(-1), p)


def block_diag(*tensors):
    """A block-diagonal matrix of the given 0-, 1- or 2-D tensors (differentiable in each block)."""
    mats = []
    for k, t in enumerate(tensors):
        _check_tensor(t, "block_diag", "tensors")
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {k} has "
                               f"{t.dim()} dimensions")
        mats.append(t.reshape([1, 1]) if t.dim() == 0 else t.unsqueeze(0) if t.dim() == 1 else t)
    if not mats:
        return _C.zeros([0, 0])
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = _C.promote_types(dtype, m.dtype) if hasattr(_C, "promote_types") else dtype
    cols = sum(m.size(1) for m in mats)
    rows, c0 = [], 0
    for m in mats:
        m = m.to(dtype)
        r, c = m.size(0), m.size(1)
        parts = [_C.zeros([r, c0], dtype=dtype), m, _C.zeros([r, cols - c0 - c], dtype=dtype)]
        rows.append(_C.cat(parts, 1))
        c0 += c
    return _C.cat(rows, 0)


def install(ns):
    """Put the functions in the namespace `ns` (the shanshui module dict) and on Tensor."""
    from ._einsum import einsum  # it uses this module's helpers

    T = _C.Tensor
    for f in (cumprod, cummax, cummin, diff, median, nanmean, nansum, aminmax, mode, unique, unique_consecutive,
              bincount, histc, tensor_split, index_fill):
        ns[f.__name__] = f
        setattr(T, f.__name__, f)
    for f in (einsum, cdist, block_diag, tile):
        ns[f.__name__] = f
    T.tile = _tile_method
    T.index_fill_ = _index_fill_
