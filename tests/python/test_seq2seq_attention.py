"""Additive / Luong attention and the recurrent Seq2Seq against direct PyTorch
re-implementations of their formulas with the same weights (forward and all
gradients), and gumbel_softmax / hard_attention statistics.
"""
import numpy as np
import pytest

try:
    import torch
except ImportError as e:  # the oracle must fail loudly, never skip
    raise ImportError("the PyTorch oracle tests need torch: pip install -r requirements-test.txt") from e

import shanshui as ss
from shanshui import nn

F = nn.functional
RTOL, ATOL = 1e-5, 1e-6


def to_ss(t, requires_grad=False):
    x = ss.from_numpy(np.ascontiguousarray(t.detach().numpy())).clone()
    if requires_grad:
        x.requires_grad_(True)
    return x


def to_np(x):
    return x.detach().numpy()


def close(a, b, what, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(to_np(a), b.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


def torch_params(ours):
    return {k: torch.from_numpy(to_np(v).copy()).requires_grad_(True) for k, v in ours.named_parameters()}


def torch_additive(p, q, k, v, mask, prefix=""):
    """score = v^T tanh(W_h h_i + W_s s + b), softmax over source positions, context = sum alpha_i h_i."""
    single = q.dim() == 2
    if single:
        q = q.unsqueeze(1)
    e = torch.tanh((k @ p[prefix + "key_proj.weight"].T).unsqueeze(1)
                   + (q @ p[prefix + "query_proj.weight"].T + p[prefix + "query_proj.bias"]).unsqueeze(2))
    scores = (e @ p[prefix + "v.weight"].T).squeeze(-1)
    if mask is not None:
        scores = scores.masked_fill(mask.unsqueeze(1), float("-inf"))
    w = torch.softmax(scores, -1)
    c = w @ v
    return (c.squeeze(1), w.squeeze(1)) if single else (c, w)


@pytest.mark.parametrize("single", [True, False])
@pytest.mark.parametrize("masked", [True, False])
def test_additive_attention_matches_torch_formula(single, masked):
    ss.manual_seed(0)
    B, S, Tq, Dk, Dq, Dv, A = 3, 6, 4, 5, 4, 3, 7
    att = nn.AdditiveAttention(Dk, Dq, A)
    p = torch_params(att)
    rng = np.random.default_rng(0)
    tq = torch.from_numpy(rng.standard_normal((B, Dq) if single else (B, Tq, Dq)).astype(np.float32)).requires_grad_()
    tk = torch.from_numpy(rng.standard_normal((B, S, Dk)).astype(np.float32)).requires_grad_()
    tv = torch.from_numpy(rng.standard_normal((B, S, Dv)).astype(np.float32)).requires_grad_()
    tmask = torch.from_numpy(np.arange(S)[None, :] >= np.array([6, 4, 2])[:, None]) if masked else None
    sq, sk, sv = to_ss(tq, True), to_ss(tk, True), to_ss(tv, True)
    smask = ss.from_numpy(tmask.numpy().copy()) if masked else None
    c, w = att(sq, sk, sv, key_padding_mask=smask)
    tc, tw = torch_additive(p, tq, tk, tv, tmask)
    close(c, tc, "context")
    close(w, tw, "weights")
    gc = rng.standard_normal(tuple(tc.shape)).astype(np.float32)
    gw = rng.standard_normal(tuple(tw.shape)).astype(np.float32)
    ((c * ss.from_numpy(gc)).sum() + (w * ss.from_numpy(gw)).sum()).backward()
    ((tc * torch.from_numpy(gc)).sum() + (tw * torch.from_numpy(gw)).sum()).backward()
    for a, b, n in [(sq, tq, "query"), (sk, tk, "keys"), (sv, tv, "values")]:
        close(a.grad, b.grad, n + " grad")
    for name, prm in att.named_parameters():
        close(prm.grad, p[name].grad, name + " grad")


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_attention_matches_torch_formula(score):
    ss.manual_seed(1)
    att = nn.LuongAttention(4, 4, score=score)
    p = torch_params(att)
    rng = np.random.default_rng(1)
    tq = torch.from_numpy(rng.standard_normal((2, 3, 4)).astype(np.float32)).requires_grad_()
    tk = torch.from_numpy(rng.standard_normal((2, 5, 4)).astype(np.float32)).requires_grad_()
    sq, sk = to_ss(tq, True), to_ss(tk, True)
    c, w = att(sq, sk)
    kp = tk @ p["key_proj.weight"].T if score == "general" else tk
    tw = torch.softmax(tq @ kp.transpose(1, 2), -1)
    tc = tw @ tk
    close(c, tc, "context")
    close(w, tw, "weights")
    (c.sum() + (w * w).sum()).backward()
    (tc.sum() + (tw * tw).sum()).backward()
    close(sq.grad, tq.grad, "query grad")
    close(sk.grad, tk.grad, "keys grad")


def test_attention_bad_input():
    att = nn.AdditiveAttention(3, 2, 4)
    with pytest.raises(ValueError):
        att(ss.randn(2, 5), ss.randn(2, 4, 3))
    with pytest.raises(ValueError, match="key_padding_mask"):
        att(ss.randn(2, 2), ss.randn(2, 4, 3), key_padding_mask=ss.zeros(2, 5, dtype=ss.bool))
    with pytest.raises(ValueError):
        nn.LuongAttention(3, 4, score="dot")


class TorchSeq2Seq(torch.nn.Module):
    """The formulas of shanshui.nn.Seq2Seq written in torch, with the same parameter names."""

    def __init__(self, V, E, H, A, attention):
        super().__init__()
        self.src_embed = torch.nn.Embedding(V, E, padding_idx=0)
        self.encoder = torch.nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.bridge = torch.nn.Linear(2 * H, H)
        self.tgt_embed = torch.nn.Embedding(V, E, padding_idx=0)
        if attention:
            self.attention = torch.nn.Module()
            self.attention.key_proj = torch.nn.Linear(2 * H, A, bias=False)
            self.attention.query_proj = torch.nn.Linear(H, A)
            self.attention.v = torch.nn.Linear(A, 1, bias=False)
        self.decoder = torch.nn.GRUCell(E + 2 * H, H)
        self.out = torch.nn.Linear(H + 2 * H + E, V)
        self.use_attention = attention

    def forward(self, src, tgt_in, mask):
        h, hn = self.encoder(self.src_embed(src))
        summary = torch.cat([hn[0], hn[1]], 1)
        s = torch.tanh(self.bridge(summary))
        emb = self.tgt_embed(tgt_in)
        p = dict(self.named_parameters())
        states, ctxs, ws = [], [], []
        for t in range(tgt_in.shape[1]):
            if self.use_attention:
                c, w = torch_additive(p, s, h, h, mask, prefix="attention.")
                ws.append(w)
            else:
                c = summary
            s = self.decoder(torch.cat([emb[:, t], c], 1), s)
            states.append(s)
            ctxs.append(c)
        logits = self.out(torch.cat([torch.stack(states, 1), torch.stack(ctxs, 1), emb], 2))
        return logits, (torch.stack(ws, 1) if ws else None)


@pytest.mark.parametrize("attention", [True, False])
def test_seq2seq_matches_torch_reimplementation(attention):
    ss.manual_seed(2)
    V, E, H, A = 9, 6, 5, 4
    ours = nn.Seq2Seq(V, V, embed_dim=E, hidden_size=H, attention_dim=A, attention=attention)
    theirs = TorchSeq2Seq(V, E, H, A, attention)
    theirs.load_state_dict({k: torch.from_numpy(to_np(v).copy()) for k, v in ours.state_dict().items()})
    src_np = np.array([[3, 4, 5, 6, 0], [7, 8, 3, 4, 5]])
    tgt_np = np.array([[1, 5, 4], [1, 3, 8]])
    mask_np = src_np == 0
    logits, w = ours(ss.from_numpy(src_np), ss.from_numpy(tgt_np))  # mask derived from pad_idx
    tl, tw = theirs(torch.from_numpy(src_np), torch.from_numpy(tgt_np), torch.from_numpy(mask_np))
    close(logits, tl, "logits")
    if attention:
        close(w, tw, "attention weights")
        assert np.all(to_np(w)[0, :, 4] == 0)
    else:
        assert w is None
    g = np.random.default_rng(3).standard_normal(tuple(tl.shape)).astype(np.float32)
    (logits * ss.from_numpy(g)).sum().backward()
    (tl * torch.from_numpy(g)).sum().backward()
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tp[name].grad, name + " grad")
    tokens, gw = ours.greedy_decode(ss.from_numpy(src_np), 4)
    assert tokens.dtype == ss.int64 and tokens.shape[0] == 2
    assert (gw is not None) == attention
    mem = ours.encode(ss.from_numpy(src_np))
    step_logits, state, step_w = ours.decode_step(mem, ss.from_numpy(tgt_np[:, 0].copy()), mem.state)
    close(step_logits, tl[:, 0], "decode_step logits")


def test_gumbel_softmax_statistics_and_straight_through():
    logits = ss.tensor([[1.0, 0.0, -1.0, 0.5]])
    ss.manual_seed(0)
    y = F.gumbel_softmax(logits.expand(20000, 4), tau=1.0, hard=True)
    yn = to_np(y)
    assert set(np.unique(yn)) <= {0.0, 1.0} and np.all(yn.sum(1) == 1)
    p = torch.softmax(torch.tensor([[1.0, 0.0, -1.0, 0.5]]), -1).numpy()[0]
    assert np.abs(yn.mean(0) - p).max() < 0.015
    x = ss.randn(3, 6, dtype=ss.float64, requires_grad=True)
    w = ss.randn(3, 6, dtype=ss.float64)
    ss.manual_seed(7)
    (F.gumbel_softmax(x, tau=0.5) * w).sum().backward()
    g_soft = to_np(x.grad).copy()
    x.grad = None
    ss.manual_seed(7)
    yh = F.gumbel_softmax(x, 0.5, True)  # positional (logits, tau, hard) as torch
    (yh * w).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), g_soft, rtol=1e-12, atol=1e-14)
    ss.manual_seed(3)
    a = to_np(F.gumbel_softmax(x, dim=0))
    ss.manual_seed(3)
    b = to_np(F.gumbel_softmax(x, dim=0))
    assert np.array_equal(a, b) and np.allclose(a.sum(0), 1)


def test_hard_attention_samples_one_location():
    ss.manual_seed(0)
    p = ss.tensor([[0.2, 0.5, 0.3, 0.0]]).expand(20000, 4).contiguous()
    idx, w = F.hard_attention(p)
    assert tuple(idx.shape) == (20000,) and idx.dtype == ss.int64
    wn = to_np(w)
    assert np.all(wn.sum(1) == 1) and np.all(wn[np.arange(20000), to_np(idx)] == 1)
    assert np.abs(wn.mean(0) - np.array([0.2, 0.5, 0.3, 0.0])).max() < 0.015
    scores = ss.randn(2, 5, dtype=ss.float64, requires_grad=True)
    _, w = F.hard_attention(ss.softmax(scores, -1), straight_through=True)
    v = ss.randn(2, 5, dtype=ss.float64)
    (w * v).sum().backward()
    ts = torch.from_numpy(to_np(scores).copy()).requires_grad_()
    (torch.softmax(ts, -1) * torch.from_numpy(to_np(v).copy())).sum().backward()
    np.testing.assert_allclose(to_np(scores.grad), ts.grad.numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError):
        F.hard_attention(ss.tensor([[0.5, -0.5]]))
