"""Edge cases of the ops in python/shanshui/_ops_extras.py against torch (the ordinary
cases are rows of test_oracle_ops.py): zeros in cumprod, ties and NaN in cummax /
median / mode, empty inputs, einsum's structure (one bmm per contraction), the
in-place index_fill_, and the errors raised for bad arguments.
"""
import numpy as np
import pytest
import torch

import shanshui as ss


def pair(a, grad=None):
    a = np.asarray(a)
    s, t = ss.from_numpy(a.copy()), torch.from_numpy(a.copy())
    if grad if grad is not None else a.dtype.kind == "f":
        s.requires_grad_(True)
        t.requires_grad_(True)
    return s, t


def same(a, b, rtol=1e-10, atol=1e-12):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b)
        for u, v in zip(a, b):
            same(u, v, rtol, atol)
        return
    x, y = a.detach().numpy(), b.detach().numpy()
    assert x.shape == y.shape, f"shape {x.shape} vs torch {y.shape}"
    assert str(x.dtype) == str(y.dtype), f"dtype {x.dtype} vs torch {y.dtype}"
    np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def grads(fn, *arrays):
    """Values and float64 input gradients of fn under shanshui and torch, compared."""
    ins = [pair(a) for a in arrays]
    so, to = fn(ss, *[s for s, _ in ins]), fn(torch, *[t for _, t in ins])
    same(so, to)
    so, to = (so if isinstance(so, (tuple, list)) else [so]), (to if isinstance(to, (tuple, list)) else [to])
    rng = np.random.default_rng(7)
    ls = lt = 0
    for a, b in zip(so, to):
        if b.requires_grad:
            w = rng.standard_normal(tuple(b.shape))
            ls = ls + (a * ss.from_numpy(w)).sum()
            lt = lt + (b * torch.from_numpy(w)).sum()
    ls.backward()
    lt.backward()
    for s, t in ins:
        if t.requires_grad:
            same(s.grad, t.grad)


# ---- cumprod ---------------------------------------------------------------------------------
@pytest.mark.parametrize("zeros", [[], [(0, 0)], [(1, 2)], [(1, 1), (1, 3)], [(2, 0), (2, 4)]])
def test_cumprod_grad_with_zeros(zeros):
    x = np.random.default_rng(1).uniform(-2, 2, (3, 5))
    for i, j in zeros:
        x[i, j] = 0
    grads(lambda M, a: M.cumprod(a, 1), x)
    grads(lambda M, a: a.cumprod(0), x)


def test_cumprod_edge_cases():
    grads(lambda M, a: M.cumprod(a, 0), np.zeros((0, 3)))
    grads(lambda M, a: M.cumprod(a, 0), np.array(1.5))
    grads(lambda M, a: M.cumprod(a, -1, dtype=M.float64), np.array([[0.0, 0.0, 2.0]]))
    same(ss.cumprod(ss.tensor([True, True, False]), 0), torch.cumprod(torch.tensor([True, True, False]), 0))
    with pytest.raises(IndexError, match="cumprod"):
        ss.cumprod(ss.ones(2, 3), 2)


def test_cummax_cummin_ties_nan_empty():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, np.nan, 1.0, np.nan], [2.0, 1.0, 1.0, 0.0, 0.0, 4.0, 4.0, -1.0]])
    for f in (lambda M, a: tuple(M.cummax(a, 1)), lambda M, a: tuple(a.cummin(-1))):
        s, t = pair(x, False)
        same(f(ss, s), f(torch, t))
    grads(lambda M, a: tuple(M.cummax(a, 1)), x[1:])  # ties: the gradient goes to the later index
    grads(lambda M, a: tuple(M.cummin(a, 0)), np.zeros((0, 2)))
    same(tuple(ss.cummax(ss.tensor([[3, 1, 3]]), 1)), tuple(torch.cummax(torch.tensor([[3, 1, 3]]), 1)))


# ---- diff ------------------------------------------------------------------------------------
def test_diff_edge_cases():
    grads(lambda M, a: M.diff(a, n=3), np.random.default_rng(2).standard_normal((2, 3)))  # n > size: empty
    grads(lambda M, a: M.diff(a, n=0, dim=0), np.ones((2, 3)))
    grads(lambda M, a: M.diff(a, dim=0, prepend=a.sum(0, keepdim=True)), np.arange(6.0).reshape(2, 3))
    s, t = pair([True, False, False, True])
    same(ss.diff(s), torch.diff(t))
    s, t = pair(np.array([1, 4, 9, 16]))
    same(s.diff(append=s[:2]), t.diff(append=t[:2]))
    with pytest.raises(RuntimeError, match="diff"):
        ss.diff(ss.tensor(1.0))
    with pytest.raises(RuntimeError, match="diff"):
        ss.diff(ss.ones(2, 3), prepend=ss.ones(3))


# ---- median, nansum, nanmean, aminmax, mode --------------------------------------------------
def test_median_ties_nan_and_errors():
    grads(lambda M, a: M.median(a), np.array([[1.0, 2.0, 2.0], [2.0, 3.0, 0.0]]))  # gradient spread over ties
    grads(lambda M, a: M.median(a), np.array([4.0]))
    s, t = pair(np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]]), False)
    same(ss.median(s), torch.median(t))
    same(tuple(ss.median(s, 1)), tuple(torch.median(t, 1)))
    s, t = pair(np.array([[5, 1, 2, 8]]))
    same(tuple(s.median(1)), tuple(t.median(1)))
    with pytest.raises(RuntimeError, match="median"):
        ss.median(ss.ones(0))
    with pytest.raises(IndexError, match="median"):
        ss.median(ss.ones(2, 0), 1)
    with pytest.raises(IndexError, match="median"):
        ss.median(ss.ones(2, 3), 2)


def test_nansum_nanmean():
    x = np.array([[1.0, np.nan, 2.0], [np.nan, 4.0, 3.0]])
    for f in (lambda M, a: M.nansum(a), lambda M, a: a.nansum(1), lambda M, a: M.nansum(a, (0, 1), keepdim=True),
              lambda M, a: M.nanmean(a), lambda M, a: a.nanmean(0, keepdim=True), lambda M, a: M.nansum(a, keepdim=True)):
        grads(f, x)
    s, t = pair(np.array([[np.nan, 1.0], [np.nan, 2.0]]), False)  # an all-NaN slice: NaN (0 / 0)
    same(ss.nanmean(s, 0), torch.nanmean(t, 0))
    same(ss.nansum(ss.tensor([1, 2])), torch.nansum(torch.tensor([1, 2])))
    with pytest.raises(RuntimeError, match="nanmean"):
        ss.nanmean(ss.tensor([1, 2]))


def test_aminmax_and_mode():
    grads(lambda M, a: tuple(M.aminmax(a, dim=0)), np.array([[1.0, 5.0], [3.0, 2.0], [0.0, 7.0]]))
    with pytest.raises(RuntimeError, match="aminmax"):
        ss.aminmax(ss.ones(0))
    r = ss.aminmax(ss.tensor([3.0, -1.0]))
    assert r.min.item() == -1.0 and r.max.item() == 3.0
    x = np.array([[1.0, 2.0, 2.0, 1.0, 3.0], [5.0, 5.0, 4.0, 4.0, 0.0]])
    grads(lambda M, a: tuple(M.mode(a, 1)), x)
    grads(lambda M, a: tuple(a.mode()), np.array([2.5]))
    with pytest.raises(IndexError, match="mode"):
        ss.mode(ss.ones(2, 0))


# ---- unique, bincount, histc -----------------------------------------------------------------
def test_unique_variants():
    for a in (np.array([3.0, 1.0, 2.0, 1.0, 3.0]), np.zeros(0, np.int64), np.array([[True, False], [True, True]])):
        s, t = pair(a, False)
        same(ss.unique(s, return_inverse=True, return_counts=True), torch.unique(t, return_inverse=True,
                                                                                  return_counts=True))
        same(ss.unique_consecutive(s, return_inverse=True, return_counts=True),
             torch.unique_consecutive(t, return_inverse=True, return_counts=True))
    s, t = pair(np.array([[1, 2], [1, 2], [0, 5]]))
    same(ss.unique(s, dim=0, return_inverse=True), torch.unique(t, dim=0, return_inverse=True))
    same(ss.unique(s, dim=-1, return_counts=True), torch.unique(t, dim=-1, return_counts=True))
    same(s.unique_consecutive(dim=0, return_inverse=True), t.unique_consecutive(dim=0, return_inverse=True))
    with pytest.raises(IndexError, match="unique"):
        ss.unique(s, dim=2)


def test_bincount_histc():
    s, t = pair(np.array([], np.int64))
    same(ss.bincount(s), torch.bincount(t))
    same(ss.bincount(s, minlength=3), torch.bincount(t, minlength=3))
    s, t = pair(np.array([1, 1, 4]))
    w = np.array([0.5, 1.5, 2.0], np.float32)
    same(ss.bincount(s, ss.from_numpy(w)), torch.bincount(t, torch.from_numpy(w)))
    same(ss.bincount(s, ss.tensor([1, 2, 3])), torch.bincount(t, torch.tensor([1, 2, 3])))
    for bad in (ss.tensor([[1, 2]]), ss.tensor([1.0]), ss.tensor([-1, 2])):
        with pytest.raises(RuntimeError, match="bincount"):
            ss.bincount(bad)
    with pytest.raises(RuntimeError, match="bincount"):
        ss.bincount(ss.tensor([1, 2]), ss.tensor([1.0]))
    x = np.array([0.0, 1.0, 1.0, 2.5, 3.0, -1.0, 7.0], np.float32)
    for kw in ({}, {"bins": 3}, {"bins": 4, "min": 0, "max": 3}, {"bins": 2, "min": 1, "max": 1}):
        same(ss.histc(ss.from_numpy(x), **kw), torch.histc(torch.from_numpy(x), **kw))
    same(ss.histc(ss.zeros(0), bins=3), torch.histc(torch.zeros(0), bins=3))
    with pytest.raises(RuntimeError, match="histc"):
        ss.histc(ss.ones(3), bins=3, min=2, max=1)


# ---- einsum ----------------------------------------------------------------------------------
def test_einsum_batch_matmul_is_one_bmm(monkeypatch):
    calls = []
    orig = ss._C.bmm
    monkeypatch.setattr(ss._C, "bmm", lambda a, b: calls.append((list(a.shape), list(b.shape))) or orig(a, b))
    q, k = ss.randn(2, 3, 4, 5), ss.randn(2, 3, 6, 5)
    out = ss.einsum("bhqd,bhkd->bhqk", q, k)
    assert calls == [([6, 4, 5], [6, 5, 6])]
    assert list(out.shape) == [2, 3, 4, 6]


@pytest.mark.parametrize("eq,shapes", [
    ("ii->i", [(3, 3)]), ("iij->j", [(2, 2, 4)]), ("ij->", [(2, 3)]), ("i,i", [(4,), (4,)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]), ("...", [(2, 3)]), ("i...->...", [(2, 3, 4)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("ij,kj->ik", [(1, 3), (4, 3)]), ("", [()]), (",->", [(), ()]),
    ("ij,jk", [(0, 3), (3, 2)]), ("ba,ab->", [(3, 2), (2, 3)]),
])
def test_einsum_cases(eq, shapes):
    rng = np.random.default_rng(3)
    grads(lambda M, *xs: M.einsum(eq, *xs), *[rng.standard_normal(s) for s in shapes])


def test_einsum_errors():
    a = ss.ones(2, 3)
    for eq, ops in (("ij,jk->ik", [a]), ("ij->ik", [a]), ("ijk->i", [a]), ("ii->i", [a]), ("ij->ii", [a]),
                    ("ij,jk->ik", [a, ss.ones(4, 2)]), ("i1->i", [a]), ("......", [a])):
        with pytest.raises(RuntimeError, match="einsum"):
            ss.einsum(eq, *ops)


# ---- tile, tensor_split, index_fill, cdist, block_diag ---------------------------------------
def test_tile_tensor_split_edge_cases():
    x = np.arange(10.0).reshape(2, 5)
    grads(lambda M, a: M.tile(a, ()), x)
    grads(lambda M, a: a.tile((0, 2)), x)
    grads(lambda M, a: M.tensor_split(a, 7, dim=1), x)
    grads(lambda M, a: a.tensor_split((-2, 1, 4), 1), x)
    grads(lambda M, a: a.tensor_split(M.tensor(2), 1), x)
    with pytest.raises(RuntimeError, match="sections"):
        ss.tensor_split(ss.ones(3), 0)
    with pytest.raises(RuntimeError, match="tensor_split"):
        ss.tensor_split(ss.tensor(1.0), 2)


def test_index_fill():
    x = np.random.default_rng(4).standard_normal((3, 4))
    grads(lambda M, a: M.index_fill(a, -1, M.tensor([3, -4]), 2.0), x)
    grads(lambda M, a: a.index_fill(0, M.tensor([], dtype=M.int64), 2.0), x)
    s, t = pair(x, False)
    s.index_fill_(1, ss.tensor([0, 2]), -7.0)
    t.index_fill_(1, torch.tensor([0, 2]), -7.0)
    same(s, t)
    # through a non-leaf, the in-place fill keeps the graph
    s, t = pair(x)
    u, v = s * 2, t * 2
    u.index_fill_(0, ss.tensor([1]), 0.5)
    v.index_fill_(0, torch.tensor([1]), 0.5)
    (u * u).sum().backward()
    (v * v).sum().backward()
    same(s.grad, t.grad)
    with pytest.raises(IndexError, match="index_fill"):
        ss.index_fill(ss.ones(2, 3), 1, ss.tensor([3]), 0.0)
    with pytest.raises(IndexError, match="index_fill"):
        ss.index_fill(ss.ones(2, 3), 1, ss.tensor([0.0]), 0.0)


def test_cdist_edge_cases():
    a = np.array([[0.0, 1.0], [2.0, 2.0]])
    grads(lambda M, x, y: M.cdist(x, y), a, a.copy())  # zero distances: zero gradient, as torch
    s, t = pair(a, False)
    same(ss.cdist(s, s.flip(0), p=0), torch.cdist(t, t.flip(0), p=0))
    grads(lambda M, x, y: M.cdist(x, y), np.zeros((0, 2)), a)
    with pytest.raises(RuntimeError, match="cdist"):
        ss.cdist(ss.ones(2, 3), ss.ones(2, 4))
    with pytest.raises(RuntimeError, match="cdist"):
        ss.cdist(ss.ones(3), ss.ones(2, 3))
    with pytest.raises(RuntimeError, match="cdist"):
        ss.cdist(ss.ones(2, 3), ss.ones(2, 3), p=-1)


def test_block_diag():
    grads(lambda M, a, b: M.block_diag(a, b), np.ones((2, 0)), np.arange(3.0))
    same(ss.block_diag(ss.tensor([[1, 2]]), ss.tensor([3])), torch.block_diag(torch.tensor([[1, 2]]), torch.tensor([3])))
    with pytest.raises(RuntimeError, match="block_diag"):
        ss.block_diag(ss.ones(1, 1, 1))
