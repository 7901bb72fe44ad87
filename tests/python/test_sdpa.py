"""scaled_dot_product_attention against torch.nn.functional.scaled_dot_product_attention:
values and gradients for unmasked, causal, boolean padding and additive masks, in
float32 and float64, and the fused kernel against the composite path."""
import numpy as np
import pytest
import torch

import shanshui as ss

SF = ss._C.nn.functional
TOL = {"float32": dict(rtol=1e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def pair(shape, dtype, rng):
    a = rng.standard_normal(shape).astype(dtype)
    return ss.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def close(a, b, tol):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)


def masks(kind, B, H, L, S, dtype, rng):
    if kind is None:
        return None, None
    if kind == "pad":  # key padding, True = attend, [B, 1, 1, S]
        lens = rng.integers(1, S + 1, size=B)
        m = np.arange(S)[None, None, None, :] < lens[:, None, None, None]
    elif kind == "bool2d":
        m = rng.random((L, S)) > 0.3
        m[:, 0] = True
    elif kind == "float":
        m = rng.standard_normal((H, L, S)).astype(dtype)
    else:
        raise ValueError(kind)
    return ss.tensor(m), torch.tensor(m)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,causal", [(None, False), (None, True), ("pad", False), ("bool2d", False),
                                         ("float", False)])
@pytest.mark.parametrize("L,S", [(7, 7), (70, 130), (130, 70)])
def test_sdpa_matches_torch(dtype, kind, causal, L, S):
    rng = np.random.default_rng(L * 1000 + S)
    B, H, E, Ev = 2, 3, 8, 5
    (q, tq), (k, tk), (v, tv) = (pair((B, H, n, e), dtype, rng) for n, e in ((L, E), (S, E), (S, Ev)))
    m, tm = masks(kind, B, H, L, S, dtype, rng)
    o = SF.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=causal)
    close(o, to, TOL[dtype])
    g = rng.standard_normal(to.shape).astype(dtype)
    o.backward(ss.tensor(g))
    to.backward(torch.tensor(g))
    for a, b in ((q, tq), (k, tk), (v, tv)):
        close(a.grad, b.grad, TOL[dtype])


@pytest.mark.parametrize("kind,causal", [(None, False), (None, True), ("pad", False), ("float", False)])
def test_fused_matches_composite(kind, causal):
    rng = np.random.default_rng(5)
    B, H, L, S, E = 2, 2, 90, 90, 16
    (q, _), (k, _), (v, _) = (pair((B, H, n, E), "float64", rng) for n in (L, S, S))
    m, _ = masks(kind, B, H, L, S, "float64", rng)
    outs, grads = [], []
    for fn in (lambda *a: SF._scaled_dot_product_flash_attention(*a, attn_mask=m, is_causal=causal),
               lambda *a: SF._scaled_dot_product_attention_math(*a, attn_mask=m, is_causal=causal)):
        qq, kk, vv = (x.detach().clone().requires_grad_() for x in (q, k, v))
        o = fn(qq, kk, vv)
        (o * o).sum().backward()
        outs.append(o)
        grads.append((qq.grad, kk.grad, vv.grad))
    close(outs[0], outs[1], TOL["float64"])
    for a, b in zip(*grads):
        close(a, b, TOL["float64"])


def test_float_mask_gradient_and_scale_match_torch():
    rng = np.random.default_rng(9)
    (q, tq), (k, tk), (v, tv), (m, tm) = (pair(s, "float64", rng) for s in
                                          ((2, 4, 3), (2, 6, 3), (2, 6, 2), (4, 6)))
    o = SF.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, scale=0.3)
    close(o, to, TOL["float64"])
    o.sum().backward()
    to.sum().backward()
    close(m.grad, tm.grad, TOL["float64"])
    close(q.grad, tq.grad, TOL["float64"])


def test_weights_for_visualisation():
    rng = np.random.default_rng(3)
    (q, tq), (k, tk), (v, tv) = (pair(s, "float32", rng) for s in ((1, 2, 5, 4), (1, 2, 6, 4), (1, 2, 6, 4)))
    o, w = SF.scaled_dot_product_attention_with_weights(q, k, v, is_causal=True)
    tw = torch.softmax((tq @ tk.transpose(-1, -2)) / 2.0 + torch.ones(5, 6).tril().log(), -1)
    close(w, tw, TOL["float32"])
    close(o, tw @ tv, TOL["float32"])


def test_errors():
    q, k, v = ss.randn(2, 3, 4), ss.randn(2, 5, 4), ss.randn(2, 5, 6)
    with pytest.raises(RuntimeError, match="is_causal"):
        SF.scaled_dot_product_attention(q, k, v, attn_mask=ss.ones(3, 5, dtype=ss.bool), is_causal=True)
    with pytest.raises(ValueError, match=r"\[3, 4\]"):
        SF.scaled_dot_product_attention(q, k, v, attn_mask=ss.ones(3, 4, dtype=ss.bool))
    with pytest.raises(ValueError):
        SF.scaled_dot_product_attention(q, ss.randn(2, 5, 3), v)
