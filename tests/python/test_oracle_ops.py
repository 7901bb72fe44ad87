"""PyTorch oracle: every op's forward values and gradients against torch.

Each case is one op applied to random inputs (with broadcasting where the op
broadcasts). It runs in float32 (rtol 1e-5) and float64 (rtol 1e-10), on
contiguous inputs and on non-contiguous ones (transposed / strided views).
The same lambda drives both libraries where the APIs agree, which also checks
that shanshui's names and argument orders are PyTorch's.
"""
import zlib

import numpy as np
import pytest

try:
    import torch
except ImportError as e:  # the oracle must fail loudly, never skip
    raise ImportError("the PyTorch oracle suite needs torch==2.13.0: pip install -r requirements-test.txt") from e

import shanshui as ss

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
SS_DT = {"float32": ss.float32, "float64": ss.float64}
NP_DT = {"float32": np.float32, "float64": np.float64}


# ---- input specs ----------------------------------------------------------------------------
# ("f", shape, lo, hi): float in [lo, hi] (requires grad); ("F", ...) same without grad;
# ("i", shape, high): int64 in [0, high); ("p", shape, n): a permutation-like int64 index without repeats
# along the last dim; ("b", shape): bool mask.
def F(*shape, lo=-2.0, hi=2.0):
    return ("f", shape, lo, hi)


def Fng(*shape, lo=-2.0, hi=2.0):
    return ("F", shape, lo, hi)


def I(shape, high):
    return ("i", shape, high)


def B(*shape):
    return ("b", shape)


def U(*shape, lo=-2.0, hi=2.0):
    """Floats with distinct values (no ties) for max/min/sort-like ops."""
    return ("u", shape, lo, hi)


def make_array(spec, dtype, rng, noncontig):
    kind, shape = spec[0], spec[1]
    if kind in "fFu":
        lo, hi = spec[2], spec[3]
        n = int(np.prod(shape)) if shape else 1
        if kind == "u":
            vals = rng.permutation(n).astype(np.float64) / max(n, 1) * (hi - lo) + lo
            vals += rng.uniform(0, 0.1 / max(n, 1), n)
        else:
            vals = rng.uniform(lo, hi, n)
        a = vals.reshape(shape).astype(NP_DT[dtype])
    elif kind == "i":
        a = rng.integers(0, spec[2], size=shape).astype(np.int64)
    else:
        a = rng.random(shape) < 0.5
    if noncontig:
        a = noncontiguous_copy(a)
    return a


def noncontiguous_copy(a):
    """The same values in a non-contiguous layout: transposed, else strided by 2 along a dim."""
    if a.ndim >= 2 and a.shape[-1] > 1 and a.shape[-2] > 1:
        return np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    for d in range(a.ndim):
        if a.shape[d] > 1:
            shape = list(a.shape)
            shape[d] *= 2
            b = np.zeros(shape, a.dtype)
            sl = tuple(slice(None, None, 2) if k == d else slice(None) for k in range(a.ndim))
            b[sl] = a
            return b[sl]
    return a  # one element or fewer: every layout is contiguous


def make_inputs(specs, dtype, noncontig, seed):
    rng = np.random.default_rng(seed)
    ss_in, th_in = [], []
    for spec in specs:
        a = make_array(spec, dtype, rng, noncontig)
        s = ss.from_numpy(a)  # keeps numpy's strides: non-contiguous when a is
        t = torch.from_numpy(a.copy())
        if spec[0] in "fu":
            s.requires_grad_(True)
            t.requires_grad_(True)
        if noncontig:
            assert not s.is_contiguous() or a.size <= 1
        ss_in.append(s)
        th_in.append(t)
    return ss_in, th_in


def as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def to_np(x):
    return x.detach().numpy()


def compare(a, b, tol, what):
    a, b = to_np(a), to_np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    assert str(a.dtype) == str(b.dtype), f"{what}: dtype {a.dtype} != torch {b.dtype}"
    if a.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, err_msg=what, **tol)


# ---- cases: (id, shanshui fn, torch fn or None for the same, input specs) -------------------------
CASES = [
    # unary
    ("neg", lambda M, x: M.neg(x), None, [F(3, 4)]),
    ("neg_op", lambda M, x: -x, None, [F(3, 4)]),
    ("exp", lambda M, x: M.exp(x), None, [F(3, 4)]),
    ("log", lambda M, x: M.log(x), None, [F(3, 4, lo=0.2, hi=3.0)]),
    ("sqrt", lambda M, x: x.sqrt(), None, [F(3, 4, lo=0.2, hi=3.0)]),
    ("rsqrt", lambda M, x: M.rsqrt(x), None, [F(3, 4, lo=0.2, hi=3.0)]),
    ("abs", lambda M, x: M.abs(x), None, [U(3, 4)]),
    ("sign", lambda M, x: M.sign(x), None, [U(3, 4)]),
    ("sin", lambda M, x: M.sin(x), None, [F(3, 4)]),
    ("cos", lambda M, x: M.cos(x), None, [F(3, 4)]),
    ("tanh", lambda M, x: M.tanh(x), None, [F(3, 4)]),
    ("sigmoid", lambda M, x: M.sigmoid(x), None, [F(3, 4)]),
    ("relu", lambda M, x: M.relu(x), None, [U(3, 4)]),
    ("gelu", lambda M, x: ss.gelu(x), lambda M, x: torch.nn.functional.gelu(x), [F(3, 4)]),
    ("gelu_tanh", lambda M, x: ss.gelu(x, approximate="tanh"),
     lambda M, x: torch.nn.functional.gelu(x, approximate="tanh"), [F(3, 4)]),
    ("elu", lambda M, x: ss.elu(x, 0.7), lambda M, x: torch.nn.functional.elu(x, 0.7), [U(3, 4)]),
    ("leaky_relu", lambda M, x: ss.leaky_relu(x, 0.2), lambda M, x: torch.nn.functional.leaky_relu(x, 0.2), [U(3, 4)]),
    ("clamp", lambda M, x: M.clamp(x, -0.5, 0.7), None, [U(3, 4)]),
    ("clamp_min", lambda M, x: x.clamp(min=-0.5), None, [U(3, 4)]),
    ("clamp_max", lambda M, x: x.clamp(max=0.3), None, [U(3, 4)]),
    # binary, broadcasting
    ("add", lambda M, a, b: M.add(a, b), None, [F(3, 4), F(4)]),
    ("add_alpha", lambda M, a, b: M.add(a, b, alpha=2.5), None, [F(2, 3, 4), F(3, 1)]),
    ("sub", lambda M, a, b: a - b, None, [F(3, 1), F(1, 4)]),
    ("sub_alpha", lambda M, a, b: M.sub(a, b, alpha=-0.5), None, [F(3, 4), F(3, 4)]),
    ("mul", lambda M, a, b: a * b, None, [F(2, 3, 4), F(2, 1, 4)]),
    ("div", lambda M, a, b: a / b, None, [F(3, 4), F(4, lo=0.5, hi=2.0)]),
    ("pow", lambda M, a, b: M.pow(a, b), None, [F(3, 4, lo=0.5, hi=2.0), F(3, 4)]),
    ("pow_bcast", lambda M, a, b: a ** b, None, [F(3, 1, lo=0.5, hi=2.0), F(4)]),
    ("maximum", lambda M, a, b: M.maximum(a, b), None, [U(3, 4), U(4, lo=-1.9, hi=1.9)]),
    ("minimum", lambda M, a, b: M.minimum(a, b), None, [U(3, 4), U(3, 1, lo=-1.9, hi=1.9)]),
    ("matmul_op", lambda M, a, b: a @ b, None, [F(3, 5), F(5, 4)]),
    # with Python scalars (wrapped-number promotion keeps the tensor's dtype)
    ("add_scalar", lambda M, x: x + 2, None, [F(3, 4)]),
    ("radd_scalar", lambda M, x: 1.5 + x, None, [F(3, 4)]),
    ("rsub_scalar", lambda M, x: 2 - x, None, [F(3, 4)]),
    ("mul_scalar", lambda M, x: x * 0.25, None, [F(3, 4)]),
    ("div_scalar", lambda M, x: x / 3, None, [F(3, 4)]),
    ("rdiv_scalar", lambda M, x: 2.0 / x, None, [F(3, 4, lo=0.5, hi=2.0)]),
    ("pow_scalar", lambda M, x: x ** 2, None, [F(3, 4)]),
    ("pow_half", lambda M, x: x ** 0.5, None, [F(3, 4, lo=0.5, hi=2.0)]),
    ("rpow_scalar", lambda M, x: 2 ** x, None, [F(3, 4)]),
    # more math: rounding (zero gradient; frac passes it), unary functions, binary ops, compositions
    ("floor", lambda M, x: M.floor(x), None, [F(3, 4, lo=-5, hi=5)]),
    ("ceil", lambda M, x: x.ceil(), None, [F(3, 4, lo=-5, hi=5)]),
    ("trunc", lambda M, x: M.trunc(x), None, [F(3, 4, lo=-5, hi=5)]),
    ("round", lambda M, x: M.round(x), None, [F(3, 4, lo=-5, hi=5)]),
    ("round_decimals", lambda M, x: M.round(x, decimals=2), None, [F(3, 4, lo=-20, hi=20)]),
    ("round_neg_decimals", lambda M, x: x.round(decimals=-1), None, [F(3, 4, lo=-200, hi=200)]),
    ("frac", lambda M, x: M.frac(x), None, [F(3, 4, lo=-5, hi=5)]),
    ("log1p", lambda M, x: M.log1p(x), None, [F(3, 4, lo=-0.9, hi=3.0)]),
    ("expm1", lambda M, x: x.expm1(), None, [F(3, 4)]),
    ("log2", lambda M, x: M.log2(x), None, [F(3, 4, lo=0.2, hi=3.0)]),
    ("log10", lambda M, x: x.log10(), None, [F(3, 4, lo=0.2, hi=3.0)]),
    ("tan", lambda M, x: M.tan(x), None, [F(3, 4, lo=-1.2, hi=1.2)]),
    ("atan", lambda M, x: M.atan(x), None, [F(3, 4, lo=-3.0, hi=3.0)]),
    ("arctan", lambda M, x: M.arctan(x), None, [F(3, 4)]),
    ("asin", lambda M, x: M.asin(x), None, [F(3, 4, lo=-0.95, hi=0.95)]),
    ("acos", lambda M, x: x.acos(), None, [F(3, 4, lo=-0.95, hi=0.95)]),
    ("sinh", lambda M, x: M.sinh(x), None, [F(3, 4)]),
    ("cosh", lambda M, x: x.cosh(), None, [F(3, 4)]),
    ("asinh", lambda M, x: M.asinh(x), None, [F(3, 4, lo=-3.0, hi=3.0)]),
    ("acosh", lambda M, x: M.acosh(x), None, [F(3, 4, lo=1.1, hi=4.0)]),
    ("atanh", lambda M, x: M.atanh(x), None, [F(3, 4, lo=-0.9, hi=0.9)]),
    ("erf", lambda M, x: M.erf(x), None, [F(3, 4)]),
    ("erfc", lambda M, x: x.erfc(), None, [F(3, 4)]),
    ("erfinv", lambda M, x: M.erfinv(x), None, [F(3, 4, lo=-0.95, hi=0.95)]),
    ("logit", lambda M, x: M.logit(x), None, [F(3, 4, lo=0.05, hi=0.95)]),
    ("logit_eps", lambda M, x: x.logit(eps=0.2), None, [F(3, 4, lo=0.0, hi=1.0)]),
    ("nan_to_num", lambda M, x: M.nan_to_num(x, nan=1.0), None, [F(3, 4)]),
    ("atan2", lambda M, a, b: M.atan2(a, b), None, [F(3, 4), F(4)]),
    ("arctan2", lambda M, a, b: a.arctan2(b), None, [F(3, 1), F(1, 4)]),
    ("hypot", lambda M, a, b: M.hypot(a, b), None, [F(3, 4), F(3, 1)]),
    ("logaddexp", lambda M, a, b: M.logaddexp(a, b), None, [F(3, 4, lo=-5, hi=5), F(4, lo=-5, hi=5)]),
    ("xlogy", lambda M, a, b: M.xlogy(a, b), None, [F(3, 4), F(4, lo=0.2, hi=3.0)]),
    ("fmod", lambda M, a, b: M.fmod(a, b), None, [F(3, 4, lo=-5, hi=5), F(4, lo=0.5, hi=2.0)]),
    ("fmod_scalar", lambda M, a: a.fmod(-1.5), None, [F(3, 4, lo=-5, hi=5)]),
    ("remainder", lambda M, a, b: M.remainder(a, b), None, [F(3, 4, lo=-5, hi=5), F(3, 1, lo=-2.0, hi=2.0)]),
    ("mod_op", lambda M, a, b: a % b, None, [F(3, 4, lo=-5, hi=5), F(4, lo=0.5, hi=2.0)]),
    ("mod_scalar", lambda M, a: a % 1.5, None, [F(3, 4, lo=-5, hi=5)]),
    ("lerp_scalar", lambda M, a, b: M.lerp(a, b, 0.3), None, [F(3, 4), F(4)]),
    ("lerp_scalar_hi", lambda M, a, b: a.lerp(b, 0.8), None, [F(3, 4), F(3, 4)]),
    ("lerp_tensor", lambda M, a, b, w: M.lerp(a, b, w), None, [F(3, 4), F(3, 4), F(4, lo=0.0, hi=1.0)]),
    ("addcmul", lambda M, x, a, b: M.addcmul(x, a, b, value=0.5), None, [F(3, 4), F(3, 1), F(4)]),
    ("addcdiv", lambda M, x, a, b: x.addcdiv(a, b, value=-2), None, [F(3, 4), F(4), F(3, 4, lo=0.5, hi=2.0)]),
    ("addmm", lambda M, x, a, b: M.addmm(x, a, b, beta=0.5, alpha=2.0), None, [F(4), F(3, 5), F(5, 4)]),
    ("addmm_default", lambda M, x, a, b: x.addmm(a, b), None, [F(3, 4), F(3, 5), F(5, 4)]),
    # selection
    ("where", lambda M, c, a, b: M.where(c, a, b), None, [B(3, 4), F(3, 4), F(4)]),
    ("where_scalar", lambda M, c, a: M.where(c, a, 0.5), None, [B(3, 4), F(3, 4)]),
    ("masked_fill", lambda M, x, m: x.masked_fill(m, -1.5), None, [F(3, 4), B(4)]),
    # reductions
    ("sum_all", lambda M, x: x.sum(), None, [F(3, 4)]),
    ("sum_dim", lambda M, x: x.sum(1), None, [F(2, 3, 4)]),
    ("sum_dims_keep", lambda M, x: M.sum(x, (0, 2), keepdim=True), None, [F(2, 3, 4)]),
    ("sum_neg", lambda M, x: x.sum(dim=-1), None, [F(3, 4)]),
    ("mean_all", lambda M, x: x.mean(), None, [F(3, 4)]),
    ("mean_dim", lambda M, x: M.mean(x, dim=0, keepdim=True), None, [F(3, 4)]),
    ("prod_dim", lambda M, x: M.prod(x, 1), None, [F(3, 4, lo=0.5, hi=1.5)]),
    ("prod_all", lambda M, x: x.prod(), None, [F(3, 4, lo=0.5, hi=1.5)]),
    ("var", lambda M, x: x.var(1), None, [F(3, 4)]),
    ("var_all", lambda M, x: M.var(x), None, [F(3, 4)]),
    ("var_biased", lambda M, x: M.var(x, 0, correction=0), None, [F(3, 4)]),
    ("std", lambda M, x: x.std(dim=1, keepdim=True), None, [F(3, 4)]),
    ("std_unbiased_false", lambda M, x: M.std(x, 0, unbiased=False), None, [F(3, 4)]),
    ("logsumexp", lambda M, x: M.logsumexp(x, 1), None, [F(3, 4)]),
    ("logsumexp_keep", lambda M, x: x.logsumexp((0, 1), keepdim=True), None, [F(2, 3, 4)]),
    ("amax", lambda M, x: M.amax(x, 1), None, [U(3, 4)]),
    ("amin", lambda M, x: x.amin((0, 1)), None, [U(2, 3, 4)]),
    ("max_all", lambda M, x: M.max(x), None, [U(3, 4)]),
    ("min_all", lambda M, x: x.min(), None, [U(3, 4)]),
    ("max_dim", lambda M, x: tuple(M.max(x, 1)), None, [U(3, 4)]),
    ("min_dim_keep", lambda M, x: tuple(x.min(dim=0, keepdim=True)), None, [U(3, 4)]),
    ("max_values", lambda M, x: x.max(dim=-1).values, None, [U(3, 4)]),
    ("argmax", lambda M, x: M.argmax(x, 1), None, [U(3, 4)]),
    ("argmax_all", lambda M, x: x.argmax(), None, [U(3, 4)]),
    ("argmin", lambda M, x: x.argmin(dim=0, keepdim=True), None, [U(3, 4)]),
    ("softmax", lambda M, x: M.softmax(x, 1), None, [F(3, 4)]),
    ("softmax0", lambda M, x: x.softmax(0), None, [F(2, 3, 4)]),
    ("log_softmax", lambda M, x: M.log_softmax(x, -1), None, [F(3, 4)]),
    ("cumsum", lambda M, x: M.cumsum(x, 1), None, [F(3, 4)]),
    # linear algebra
    ("matmul_1d_1d", lambda M, a, b: M.matmul(a, b), None, [F(5), F(5)]),
    ("matmul_1d_2d", lambda M, a, b: M.matmul(a, b), None, [F(5), F(5, 3)]),
    ("matmul_2d_1d", lambda M, a, b: M.matmul(a, b), None, [F(3, 5), F(5)]),
    ("matmul_2d", lambda M, a, b: M.matmul(a, b), None, [F(3, 5), F(5, 4)]),
    ("matmul_batched", lambda M, a, b: M.matmul(a, b), None, [F(2, 3, 5), F(5, 4)]),
    ("matmul_bcast", lambda M, a, b: M.matmul(a, b), None, [F(2, 1, 3, 5), F(3, 5, 2)]),
    # permuted and broadcast batch dims: read in place by the batched GEMM, not reshaped
    ("matmul_permuted_4d", lambda M, a, b: M.matmul(a.permute(0, 2, 1, 3), b.transpose(-1, -2)), None,
     [F(2, 4, 3, 5), F(2, 3, 6, 5)]),
    ("matmul_bcast_strided", lambda M, a, b: M.matmul(a.transpose(0, 1), b.expand(2, 3, 5, 2)), None,
     [F(3, 2, 4, 5), F(1, 3, 5, 2)]),
    ("bmm_transposed", lambda M, a, b: M.bmm(a.transpose(1, 2), b.transpose(0, 1)), None,
     [F(2, 5, 3), F(5, 2, 4)]),
    ("mm", lambda M, a, b: M.mm(a, b), None, [F(3, 5), F(5, 4)]),
    ("bmm", lambda M, a, b: M.bmm(a, b), None, [F(2, 3, 5), F(2, 5, 4)]),
    ("linear", lambda M, x, w, b: ss._C.linear(x, w, b), lambda M, x, w, b: torch.nn.functional.linear(x, w, b),
     [F(2, 3, 5), F(4, 5), F(4)]),
    # views and shape
    ("reshape", lambda M, x: x.reshape(4, 3), None, [F(3, 4)]),
    ("reshape_neg", lambda M, x: M.reshape(x, (-1, 2)), None, [F(3, 4)]),
    ("view", lambda M, x: x.contiguous().view(2, 6), None, [F(3, 4)]),
    ("transpose", lambda M, x: M.transpose(x, 0, 2), None, [F(2, 3, 4)]),
    ("t", lambda M, x: x.t(), None, [F(3, 4)]),
    ("T", lambda M, x: x.T, None, [F(3, 4)]),
    ("mT", lambda M, x: x.mT, None, [F(2, 3, 4)]),
    ("permute", lambda M, x: x.permute(2, 0, 1), None, [F(2, 3, 4)]),
    ("flatten", lambda M, x: M.flatten(x, 1), None, [F(2, 3, 4)]),
    ("unflatten", lambda M, x: x.unflatten(1, (2, 2)), None, [F(3, 4)]),
    ("squeeze", lambda M, x: x.squeeze(), None, [F(3, 1, 4)]),
    ("squeeze_dim", lambda M, x: M.squeeze(x, 1), None, [F(3, 1, 4)]),
    ("unsqueeze", lambda M, x: x.unsqueeze(-1), None, [F(3, 4)]),
    ("expand", lambda M, x: x.expand(2, 3, 4), None, [F(3, 1)]),
    ("expand_as", lambda M, x, y: x.expand_as(y), None, [F(4), Fng(3, 4)]),
    ("narrow", lambda M, x: M.narrow(x, 1, 1, 2), None, [F(3, 4)]),
    ("select", lambda M, x: x.select(1, -1), None, [F(3, 4)]),
    ("cat", lambda M, a, b: M.cat([a, b], 1), None, [F(3, 4), F(3, 2)]),
    ("stack", lambda M, a, b: M.stack((a, b), dim=-1), None, [F(3, 4), F(3, 4)]),
    ("split", lambda M, x: M.split(x, 2, dim=1), None, [F(3, 5)]),
    ("split_sizes", lambda M, x: x.split([1, 3], 1), None, [F(3, 4)]),
    ("chunk", lambda M, x: x.chunk(2, 0), None, [F(3, 4)]),
    ("unbind", lambda M, x: M.unbind(x, 1), None, [F(3, 4)]),
    ("repeat", lambda M, x: x.repeat(2, 1, 3), None, [F(3, 4)]),
    ("tril", lambda M, x: M.tril(x), None, [F(4, 4)]),
    ("triu", lambda M, x: x.triu(1), None, [F(3, 4)]),
    ("clone", lambda M, x: x.clone(), None, [F(3, 4)]),
    ("contiguous", lambda M, x: x.contiguous() * 1, None, [F(3, 4)]),
    ("to_float64", lambda M, x: x.to(M.float64) * 1, None, [F(3, 4)]),
    # indexing
    ("getitem_int", lambda M, x: x[1], None, [F(3, 4)]),
    ("getitem_slices", lambda M, x: x[1:, ::2], None, [F(3, 4)]),
    ("getitem_mixed", lambda M, x: x[..., None, -1], None, [F(2, 3, 4)]),
    ("getitem_tensor", lambda M, x, i: x[i], None, [F(5, 3), I((4,), 5)]),
    ("getitem_tensor_dim1", lambda M, x, i: x[:, i], None, [F(3, 5), I((2, 2), 5)]),
    ("getitem_two_tensors", lambda M, x, i, j: x[i, j], None, [F(4, 5), I((3,), 4), I((3,), 5)]),
    ("getitem_bool", lambda M, x, m: x[m], None, [F(3, 4), B(3, 4)]),
    ("getitem_list", lambda M, x: x[[0, 2, 2]], None, [F(3, 4)]),
    ("gather", lambda M, x, i: M.gather(x, 1, i), None, [F(3, 4), I((3, 5), 4)]),
    ("scatter_add", lambda M, x, i, s: M.scatter_add(x, 0, i, s), None, [F(3, 4), I((2, 4), 3), F(2, 4)]),
    ("index_select", lambda M, x, i: M.index_select(x, 0, i), None, [F(4, 3), I((5,), 4)]),
    ("index_add", lambda M, x, i, s: x.index_add(1, i, s, alpha=2.0), None, [F(3, 4), I((5,), 4), F(3, 5)]),
    ("embedding", lambda M, w, i: ss.embedding(w, i), lambda M, w, i: torch.nn.functional.embedding(i, w),
     [F(6, 3), I((2, 4), 6)]),
    # scans, order statistics, einsum and utilities (python/shanshui/_ops_extras.py)
    ("cumprod", lambda M, x: M.cumprod(x, 1), None, [F(3, 4)]),
    ("cumprod_neg_dim", lambda M, x: x.cumprod(dim=-3), None, [F(3, 2, 4)]),
    ("cummax", lambda M, x: tuple(M.cummax(x, 1)), None, [U(3, 5)]),
    ("cummin", lambda M, x: tuple(x.cummin(dim=0)), None, [U(4, 3)]),
    ("diff", lambda M, x: M.diff(x), None, [F(3, 5)]),
    ("diff_n2_dim0", lambda M, x: x.diff(n=2, dim=0), None, [F(5, 3)]),
    ("diff_prepend_append", lambda M, x, p, a: M.diff(x, dim=1, prepend=p, append=a), None,
     [F(3, 4), F(3, 2), F(3, 1)]),
    ("median_all_odd", lambda M, x: M.median(x), None, [U(3, 5)]),
    ("median_all_even", lambda M, x: x.median(), None, [U(3, 4)]),
    ("median_dim", lambda M, x: tuple(M.median(x, 1)), None, [U(3, 4)]),
    ("median_dim_keep", lambda M, x: tuple(x.median(dim=-2, keepdim=True)), None, [U(5, 3)]),
    ("nansum", lambda M, x: M.nansum(x, 1), None, [F(3, 4)]),
    ("nanmean", lambda M, x: x.nanmean(), None, [F(3, 4)]),
    ("aminmax", lambda M, x: tuple(M.aminmax(x)), None, [U(3, 4)]),
    ("aminmax_dim", lambda M, x: tuple(x.aminmax(dim=-1, keepdim=True)), None, [U(3, 4)]),
    ("einsum_mm", lambda M, a, b: M.einsum("ij,jk->ik", a, b), None, [F(3, 5), F(5, 4)]),
    ("einsum_bmm", lambda M, a, b: M.einsum("bij,bjk->bik", a, b), None, [F(2, 3, 5), F(2, 5, 4)]),
    ("einsum_implicit", lambda M, a, b: M.einsum("bji,bjk", a, b), None, [F(2, 5, 3), F(2, 5, 4)]),
    ("einsum_attention", lambda M, q, k: M.einsum("bhqd,bkhd->bhqk", q, k), None, [F(2, 3, 4, 5), F(2, 6, 3, 5)]),
    ("einsum_ellipsis_bcast", lambda M, a, b: M.einsum("...ij,...jk->...ik", a, b), None,
     [F(2, 1, 3, 4), F(3, 4, 2)]),
    ("einsum_three", lambda M, a, b, c: M.einsum("ij,jk,kl->li", a, b, c), None, [F(2, 3), F(3, 4), F(4, 2)]),
    ("einsum_outer", lambda M, a, b: M.einsum("i,j", a, b), None, [F(3), F(4)]),
    ("einsum_trace", lambda M, x: M.einsum("ii", x), None, [F(4, 4)]),
    ("einsum_diag_batch", lambda M, x, v: M.einsum("bii,bj->bij", x, v), None, [F(2, 3, 3), F(2, 4)]),
    ("einsum_sum_permute", lambda M, x: M.einsum("ijk->kj", x), None, [F(2, 3, 4)]),
    ("einsum_list", lambda M, a, b: M.einsum("i,i->", [a, b]), None, [F(5), F(5)]),
    ("tile", lambda M, x: M.tile(x, (2, 1, 3)), None, [F(3, 4)]),
    ("tile_method_short", lambda M, x: x.tile(2), None, [F(3, 4)]),
    ("tensor_split_sections", lambda M, x: M.tensor_split(x, 3, dim=1), None, [F(3, 7)]),
    ("tensor_split_indices", lambda M, x: x.tensor_split([1, 3, 9], dim=-1), None, [F(2, 5)]),
    ("index_fill", lambda M, x, i: M.index_fill(x, 1, i, -1.5), None, [F(3, 5), I((4,), 5)]),
    ("index_fill_tensor_value", lambda M, x, v: x.index_fill(0, M.tensor([0, 2]), v.sum()), None, [F(3, 4), F(2)]),
    ("cdist", lambda M, a, b: M.cdist(a, b), None, [F(4, 3), F(5, 3)]),
    ("cdist_batched_p1", lambda M, a, b: M.cdist(a, b, p=1), None, [U(2, 4, 3), U(2, 5, 3, lo=-1.9, hi=1.9)]),
    ("cdist_p3", lambda M, a, b: M.cdist(a, b, p=3.0), None, [F(4, 3), F(5, 3)]),
    ("cdist_pinf", lambda M, a, b: M.cdist(a, b, p=float("inf")), None, [U(4, 3), U(2, 3, lo=-1.9, hi=1.9)]),
    ("block_diag", lambda M, a, b, c: M.block_diag(a, b, c), None, [F(2, 3), F(4), F(1, 1)]),
]

VALUE_CASES = [  # no gradient: compare values only
    ("eq", lambda M, a, b: a == b, [("i", (3, 4), 3), ("i", (4,), 3)]),
    ("ne", lambda M, a, b: M.ne(a, b), [("i", (3, 4), 3), ("i", (3, 4), 3)]),
    ("lt", lambda M, a, b: a < b, [Fng(3, 4), Fng(4)]),
    ("le_scalar", lambda M, a: a <= 0.5, [Fng(3, 4)]),
    ("gt", lambda M, a, b: M.gt(a, b), [Fng(3, 1), Fng(4)]),
    ("ge_scalar", lambda M, a: 0 >= a, [Fng(3, 4)]),
    ("logical_and", lambda M, a, b: M.logical_and(a, b), [B(3, 4), B(4)]),
    ("logical_or", lambda M, a, b: a | b, [B(3, 4), B(3, 4)]),
    ("logical_xor", lambda M, a, b: M.logical_xor(a, b), [B(3, 4), B(3, 4)]),
    ("logical_not", lambda M, a: ~a, [B(3, 4)]),
    ("floor_divide", lambda M, a, b: M.floor_divide(a, b + 1), [("i", (3, 4), 20), ("i", (4,), 5)]),
    ("remainder", lambda M, a, b: M.remainder(a - 10, b + 1), [("i", (3, 4), 20), ("i", (4,), 5)]),
    ("int_add_float_scalar", lambda M, a: a + 1.5, [("i", (3, 4), 20)]),
    ("int_div", lambda M, a: a / 2, [("i", (3, 4), 20)]),
    ("int_sum", lambda M, a: a.sum(0), [("i", (3, 4), 20)]),
    ("bool_sum", lambda M, a: a.sum(), [B(3, 4)]),
    ("all", lambda M, a: M.all(a), [B(3, 4)]),
    ("any_dim", lambda M, a: a.any(1), [B(3, 4)]),
    ("nonzero", lambda M, a: M.nonzero(a), [B(3, 4)]),
    ("one_hot", lambda M, i: ss.one_hot(i, 5), [("i", (2, 3), 5)]),
    ("isnan", lambda M, x: M.isnan(x.log()), [Fng(3, 4)]),
    ("arange_float_step", lambda M: M.arange(0, 1, 0.25), []),
    ("linspace", lambda M: M.linspace(-1, 1, 7), []),
    ("eye", lambda M: M.eye(3, 4), []),
    ("cumprod_int", lambda M, a: M.cumprod(a, 0), [("i", (4, 3), 4)]),
    ("mode", lambda M, a: tuple(M.mode(a)), [("i", (4, 9), 3)]),
    ("mode_dim0_keep", lambda M, a: tuple(a.mode(0, keepdim=True)), [("i", (9, 4), 3)]),
    ("unique", lambda M, a: M.unique(a), [("i", (3, 5), 6)]),
    ("unique_inverse_counts", lambda M, a: M.unique(a, return_inverse=True, return_counts=True), [("i", (3, 5), 6)]),
    ("unique_dim", lambda M, a: a.unique(dim=1, return_inverse=True, return_counts=True), [("i", (2, 8), 2)]),
    ("unique_consecutive", lambda M, a: M.unique_consecutive(a, return_inverse=True, return_counts=True),
     [("i", (12,), 2)]),
    ("unique_consecutive_dim", lambda M, a: a.unique_consecutive(return_counts=True, dim=0), [("i", (8, 2), 2)]),
    ("bincount", lambda M, a: M.bincount(a), [("i", (10,), 5)]),
    ("bincount_weights_minlength", lambda M, a, w: a.bincount(w, minlength=8), [("i", (10,), 5), Fng(10)]),
    ("histc", lambda M, x: M.histc(x, bins=6), [Fng(20)]),
    ("histc_range", lambda M, x: x.histc(5, min=-1, max=1), [Fng(20)]),
]
ONE_HOT_TORCH = {"one_hot": lambda M, i: torch.nn.functional.one_hot(i, 5)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("name,ss_fn,th_fn,specs", CASES, ids=[c[0] for c in CASES])
def test_forward_and_grad(name, ss_fn, th_fn, specs, layout, dtype):
    tol = TOL[dtype]
    th_fn = th_fn or ss_fn
    seed = zlib.crc32(name.encode())
    ss_in, th_in = make_inputs(specs, dtype, layout == "noncontiguous", seed)
    ss_out = as_list(ss_fn(ss, *ss_in))
    th_out = as_list(th_fn(torch, *th_in))
    assert len(ss_out) == len(th_out), f"{name}: {len(ss_out)} outputs, torch {len(th_out)}"
    for k, (a, b) in enumerate(zip(ss_out, th_out)):
        compare(a, b, tol, f"{name} output {k}")

    # Backward with the same random upstream gradient for every float output.
    rng = np.random.default_rng(seed + 1)
    ss_loss, th_loss = None, None
    for a, b in zip(ss_out, th_out):
        if not b.requires_grad:
            continue
        w = rng.standard_normal(tuple(b.shape)).astype(NP_DT[dtype] if b.dtype != torch.float64 else np.float64)
        sl = (a * ss.from_numpy(w)).sum()
        tl = (b * torch.from_numpy(w)).sum()
        ss_loss = sl if ss_loss is None else ss_loss + sl
        th_loss = tl if th_loss is None else th_loss + tl
    if th_loss is None:
        return
    ss_loss.backward()
    th_loss.backward()
    for k, (a, b) in enumerate(zip(ss_in, th_in)):
        if not b.requires_grad:
            continue
        assert a.grad is not None, f"{name}: input {k} got no gradient"
        compare(a.grad, b.grad, tol, f"{name} grad of input {k}")


@pytest.mark.parametrize("name,fn,specs", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values(name, fn, specs):
    ss_in, th_in = make_inputs(specs, "float32", False, zlib.crc32(name.encode()))
    th_fn = ONE_HOT_TORCH.get(name, fn)
    ss_out, th_out = as_list(fn(ss, *ss_in)), as_list(th_fn(torch, *th_in))
    assert len(ss_out) == len(th_out)
    for k, (a, b) in enumerate(zip(ss_out, th_out)):
        compare(a, b, TOL["float32"], f"{name} output {k}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zero_size(dtype):
    a = np.zeros((0, 3), NP_DT[dtype])
    s, t = ss.from_numpy(a).requires_grad_(), torch.from_numpy(a).requires_grad_()
    for f in (lambda M, x: x.sum(0), lambda M, x: (x * 2).exp(), lambda M, x: x.T @ x, lambda M, x: x.mean(1)):
        compare(f(ss, s), f(torch, t), TOL[dtype], "zero-size")
    (s.sum() * 2).backward()
    (t.sum() * 2).backward()
    compare(s.grad, t.grad, TOL[dtype], "zero-size grad")


def test_seeded_random_is_reproducible():
    ss.manual_seed(123)
    a = [ss.rand(5), ss.randn(2, 3), ss.randint(0, 10, (4,)), ss.randperm(6)]
    ss.manual_seed(123)
    b = [ss.rand(5), ss.randn(2, 3), ss.randint(0, 10, (4,)), ss.randperm(6)]
    for x, y in zip(a, b):
        assert ss.equal(x, y)
    r = ss.rand(10000)
    assert 0.0 <= r.min().item() and r.max().item() < 1.0
    assert abs(r.mean().item() - 0.5) < 0.02
    n = ss.randn(20000, dtype=ss.float64)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    assert sorted(ss.randperm(6).tolist()) == list(range(6))
