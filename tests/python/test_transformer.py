"""shanshui.nn attention modules against torch.nn with identical weights (torch's
state_dict copied into ours): MultiheadAttention, the Transformer layers, stacks
and the full Transformer, forward and backward (inputs and every parameter), in
eval mode, float32 (rtol 1e-5) and float64; plus the positional encodings."""
import math

import numpy as np
import pytest
import torch

import shanshui as ss
import shanshui.nn as snn

TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-9, atol=1e-10)}
SS_DT = {torch.float32: ss.float32, torch.float64: ss.float64}


def to_ss(t, grad=False):
    x = ss.tensor(t.detach().numpy())
    return x.requires_grad_() if grad else x


def copy_weights(ours, theirs):
    ours.load_state_dict({k: to_ss(v) for k, v in theirs.state_dict().items()})


def close(a, b, dt):
    assert a is not None and b is not None
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL[dt])


def check_module(ours, theirs, inputs, call, dt, grad_inputs=True):
    """Runs call(module, *inputs) on both, compares outputs, then input and parameter grads."""
    ours.eval()
    theirs.eval()
    copy_weights(ours, theirs)
    assert [k for k, _ in ours.state_dict().items()] == list(theirs.state_dict().keys())
    t_in = [x.detach().clone().requires_grad_(grad_inputs and x.is_floating_point()) if isinstance(x, torch.Tensor)
            else x for x in inputs]
    s_in = [to_ss(x, grad_inputs and x.is_floating_point()) if isinstance(x, torch.Tensor) else x for x in inputs]
    t_out, s_out = call(theirs, *t_in), call(ours, *s_in)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    s_out = s_out if isinstance(s_out, tuple) else (s_out,)
    loss_t, loss_s = 0, 0
    rng = np.random.default_rng(0)
    for a, b in zip(s_out, t_out):
        if b is None:
            assert a is None
            continue
        close(a, b, dt)
        w = rng.standard_normal(tuple(b.shape))
        loss_t = loss_t + (b * torch.tensor(w, dtype=b.dtype)).sum()
        loss_s = loss_s + (a * ss.tensor(w).to(SS_DT[dt])).sum()
    loss_t.backward()
    loss_s.backward()
    for a, b in zip(s_in, t_in):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            if b.grad is None:  # e.g. a mask torch drops under the is_causal hint
                assert a.grad is None or float(a.grad.abs().max()) == 0.0
            else:
                close(a.grad, b.grad, dt)
    ours_p = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert name in ours_p, name
        if p.grad is None:
            assert ours_p[name].grad is None or float(ours_p[name].grad.abs().max()) == 0.0, name
        else:
            close(ours_p[name].grad, p.grad, dt)


def randn(*shape, dt=torch.float32):
    return torch.randn(*shape, dtype=dt)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention(dt, need_weights, average, batch_first):
    torch.manual_seed(0)
    L, N, E, H = 5, 3, 8, 2
    t = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=dt)
    s = snn.MultiheadAttention(E, H, batch_first=batch_first, dtype=SS_DT[dt])
    x = randn(N, L, E, dt=dt) if batch_first else randn(L, N, E, dt=dt)
    kpm = torch.zeros(N, L, dtype=torch.bool)
    kpm[0, 3:] = True
    am = torch.randn(L, L, dtype=dt)

    def call(m, x, kpm, am):
        return m(x, x, x, key_padding_mask=kpm, attn_mask=am, need_weights=need_weights,
                 average_attn_weights=average)
    check_module(s, t, [x, kpm, am], call, dt)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("opts", [dict(), dict(kdim=3, vdim=5), dict(add_bias_kv=True), dict(add_zero_attn=True),
                                  dict(bias=False), dict(kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True)])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_cross_attention_options(dt, opts, need_weights):
    torch.manual_seed(1)
    L, S, N, E, H = 4, 6, 2, 8, 4
    t = torch.nn.MultiheadAttention(E, H, dtype=dt, **opts)
    s = snn.MultiheadAttention(E, H, dtype=SS_DT[dt], **opts)
    q = randn(L, N, E, dt=dt)
    k = randn(S, N, opts.get("kdim", E), dt=dt)
    v = randn(S, N, opts.get("vdim", E), dt=dt)
    am = torch.rand(N * H, L, S) > 0.7
    am[..., 0] = False
    check_module(s, t, [q, k, v, am], lambda m, q, k, v, am: m(q, k, v, attn_mask=am, need_weights=need_weights), dt)


def test_mha_unbatched_float_kpm_and_causal_hint():
    torch.manual_seed(2)
    L, E, H = 5, 8, 2
    t = torch.nn.MultiheadAttention(E, H)
    s = snn.MultiheadAttention(E, H)
    x = randn(L, E)
    kpm = torch.zeros(L)
    kpm[4] = -math.inf
    check_module(s, t, [x, kpm], lambda m, x, kpm: m(x, x, x, key_padding_mask=kpm), torch.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(L)
    check_module(s, t, [x, mask], lambda m, x, mask: m(x, x, x, attn_mask=mask, is_causal=True, need_weights=False),
                 torch.float32)


def test_mha_errors():
    with pytest.raises(ValueError, match="divisible"):
        snn.MultiheadAttention(10, 3)
    m = snn.MultiheadAttention(8, 2)
    x = ss.randn(5, 3, 8)
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        m(x, x, x, attn_mask=ss.zeros(5, 4, dtype=ss.bool))
    with pytest.raises(ValueError):
        m(x, x, x, key_padding_mask=ss.zeros(3, 4, dtype=ss.bool))
    with pytest.raises(RuntimeError):
        m(x, x, x, is_causal=True)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_decoder_layers(dt, norm_first, activation):
    torch.manual_seed(3)
    d, h, ff, S, T, N = 8, 2, 16, 5, 4, 3
    kw = dict(dim_feedforward=ff, activation=activation, norm_first=norm_first, batch_first=True)
    te, se = (torch.nn.TransformerEncoderLayer(d, h, dtype=dt, **kw),
              snn.TransformerEncoderLayer(d, h, dtype=SS_DT[dt], **kw))
    src = randn(N, S, d, dt=dt)
    kpm = torch.zeros(N, S, dtype=torch.bool)
    kpm[1, 4] = True
    check_module(se, te, [src, kpm], lambda m, x, kpm: m(x, src_key_padding_mask=kpm), dt)
    td, sd = (torch.nn.TransformerDecoderLayer(d, h, dtype=dt, **kw),
              snn.TransformerDecoderLayer(d, h, dtype=SS_DT[dt], **kw))
    tgt, mem = randn(N, T, d, dt=dt), randn(N, S, d, dt=dt)
    tm = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=dt)
    check_module(sd, td, [tgt, mem, tm, kpm],
                 lambda m, x, mem, tm, kpm: m(x, mem, tgt_mask=tm, memory_key_padding_mask=kpm, tgt_is_causal=True), dt)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer(dt, norm_first):
    torch.manual_seed(4)
    d, h, S, T, N = 8, 2, 6, 5, 2
    kw = dict(d_model=d, nhead=h, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
              norm_first=norm_first)
    t = torch.nn.Transformer(dtype=dt, **kw)
    s = snn.Transformer(dtype=SS_DT[dt], **kw)
    src, tgt = randn(S, N, d, dt=dt), randn(T, N, d, dt=dt)
    tm = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=dt)
    skpm = torch.zeros(N, S, dtype=torch.bool)
    skpm[0, 5] = True
    check_module(s, t, [src, tgt, tm, skpm],
                 lambda m, a, b, tm, k: m(a, b, tgt_mask=tm, src_key_padding_mask=k, memory_key_padding_mask=k), dt)


def test_stacks_and_mask_helper():
    torch.manual_seed(5)
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2, norm=torch.nn.LayerNorm(8),
                                    enable_nested_tensor=False)
    s = snn.TransformerEncoder(snn.TransformerEncoderLayer(8, 2, 16), 2, norm=snn.LayerNorm(8))
    x = randn(5, 2, 8)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    check_module(s, t, [x, mask], lambda m, x, mask: m(x, mask=mask), torch.float32)
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16), 2)
    sd = snn.TransformerDecoder(snn.TransformerDecoderLayer(8, 2, 16), 2)
    check_module(sd, td, [x, randn(3, 2, 8)], lambda m, x, mem: m(x, mem), torch.float32)
    np.testing.assert_array_equal(snn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_positional_encodings():
    d, n = 6, 20
    pe = snn.functional.sinusoidal_positional_encoding(n, d, dtype=ss.float64).numpy()
    pos = np.arange(n)[:, None]
    i = np.arange(0, d, 2)[None, :]
    np.testing.assert_allclose(pe[:, 0::2], np.sin(pos / 10000 ** (i / d)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(pos / 10000 ** (i / d)), rtol=1e-12, atol=1e-12)
    m = snn.PositionalEncoding(d, dropout=0.0, max_len=n)
    assert len(m.state_dict()) == 0
    x = ss.randn(7, 2, d)
    np.testing.assert_allclose(m(x).numpy(), x.numpy() + pe[:7, None, :].astype(np.float32), rtol=1e-6, atol=1e-6)
    lp = snn.LearnedPositionalEmbedding(n, d)
    assert list(dict(lp.state_dict()).keys()) == ["weight"]
    lp(x).sum().backward()
    assert lp.weight.grad is not None
