"""Shape and linear-algebra conveniences composed in Python from differentiable
primitives (index_select, expand, cat, mul, sum), under torch's names: flip,
roll, repeat_interleave, movedim, masked_select, hstack / vstack, outer, dot,
diag, trace, count_nonzero, broadcast_tensors, meshgrid, argwhere, reciprocal.

Installed on shanshui and shanshui.Tensor by ``install``.
"""
import builtins as _builtins

import numpy as _np

from . import _C


def _index(idx):
    return _C.from_numpy(_np.ascontiguousarray(_np.asarray(idx, dtype=_np.int64)))


def _wrap(dim, ndim, op):
    n = _builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def flip(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = input
    for d in dims:
        d = _wrap(d, input.dim(), "flip")
        out = out.index_select(d, _index(_np.arange(input.size(d) - 1, -1, -1)))
    return out


def roll(input, shifts, dims=None):
    if dims is None:
        return roll(input.flatten(), shifts, 0).view(list(input.shape))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    out = input
    for s, d in zip(shifts, dims):
        d = _wrap(d, input.dim(), "roll")
        n = input.size(d)
        if n:
            out = out.index_select(d, _index((_np.arange(n) - s) % n))
    return out


def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    if dim is None:
        input, dim = input.flatten(), 0
    d = _wrap(dim, input.dim(), "repeat_interleave")
    reps = repeats.tolist() if isinstance(repeats, _C.Tensor) else repeats
    return input.index_select(d, _index(_np.repeat(_np.arange(input.size(d)), reps)))


def movedim(input, source, destination):
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    n = input.dim()
    src = [_wrap(s, n, "movedim") for s in src]
    dst = [_wrap(s, n, "movedim") for s in dst]
    order = [d for d in range(n) if d not in src]
    perm = [None] * n
    for s, t in zip(src, dst):
        perm[t] = s
    rest = iter(order)
    return input.permute([p if p is not None else next(rest) for p in perm])


def masked_select(input, mask):
    shape = list(_np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    return input.broadcast_to(shape)[mask.broadcast_to(shape)]


def hstack(tensors):
    return _C.cat(list(tensors), 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    return _C.cat([t.reshape(1, -1) if t.dim() < 2 else t for t in tensors], 0)


def outer(input, vec2):
    return input.unsqueeze(1) * vec2.unsqueeze(0)


def dot(input, other):
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input.numel() != other.numel():
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensor [{input.numel()}] and src "
                           f"[{other.numel()}] to have the same number of elements, but got {input.numel()} and "
                           f"{other.numel()} elements respectively")
    if input.dtype != other.dtype:
        raise RuntimeError(f"dot: expected both vectors to have same dtype, but found {input.dtype} and {other.dtype}")
    return (input * other).sum()


def diag(input, diagonal=0):
    if diagonal != 0:
        raise NotImplementedError("diag: only diagonal=0 is supported")
    if input.dim() == 1:
        return _C.eye(input.numel(), dtype=input.dtype) * input
    if input.dim() == 2:
        return input.diagonal()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")


def trace(input):
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return input.diagonal().sum()


def count_nonzero(input, dim=None):
    nz = input != 0
    return nz.sum() if dim is None else nz.sum(dim)


def broadcast_tensors(*tensors):
    shape = list(_np.broadcast_shapes(*(tuple(t.shape) for t in tensors)))
    return tuple(t.broadcast_to(shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got '{indexing}'")
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.numel() for t in ts]
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(t.reshape(view).expand(shape))
    if swap:  # "xy" is "ij" on the first two inputs swapped, with the outputs swapped back
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def argwhere(input):
    return input.nonzero()


def reciprocal(input):
    return 1.0 / input


def install(ns):
    T = _C.Tensor
    for f in (flip, roll, repeat_interleave, movedim, masked_select, outer, dot, diag, trace, count_nonzero, argwhere,
              reciprocal):
        ns[f.__name__] = f
        setattr(T, f.__name__, f)
    T.swapdims = T.transpose
    T.moveaxis = ns["moveaxis"] = movedim
    ns["swapdims"] = _C.transpose
    for f in (hstack, vstack, broadcast_tensors, meshgrid):
        ns[f.__name__] = f
    ns["take_along_dim"] = lambda input, indices, dim: input.gather(dim, indices)
