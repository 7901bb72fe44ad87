"""Key/value-cache decoding (TransformerDecoder.init_cache / forward_step,
MultiheadAttention.forward_cached, PositionalEncoding offset) against torch's
full causal forward on identical weights: outputs, and gradients flowing back
through the cache to the target, the memory and every parameter."""
import numpy as np
import pytest
import torch

import shanshui as ss
import shanshui.nn as snn
from nn_torch_helpers import assert_close, load_torch_state, to_ss


def make_decoders(norm_first, batch_first, d=16, nhead=4, layers=2, dt=torch.float32):
    torch.manual_seed(0)
    layer = torch.nn.TransformerDecoderLayer(d, nhead, 32, dropout=0.1, batch_first=batch_first,
                                             norm_first=norm_first, dtype=dt)
    ref = torch.nn.TransformerDecoder(layer, layers, norm=torch.nn.LayerNorm(d, dtype=dt))
    with torch.no_grad():  # non-trivial norms and biases
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ss_dt = ss.float64 if dt == torch.float64 else ss.float32
    ours = snn.TransformerDecoder(snn.TransformerDecoderLayer(d, nhead, 32, dropout=0.1, batch_first=batch_first,
                                                              norm_first=norm_first, dtype=ss_dt),
                                  layers, norm=snn.LayerNorm(d, dtype=ss_dt))
    load_torch_state(ours, ref)
    ref.eval()
    ours.eval()
    return ours, ref


def padding_mask(n, s):
    kpm = torch.zeros(n, s, dtype=torch.bool)
    kpm[1, -2:] = True
    kpm[n - 1, -1] = True
    return kpm


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
def test_step_decoding_equals_torch_full_causal_forward(norm_first, batch_first):
    ours, ref = make_decoders(norm_first, batch_first)
    n, t, s, d = 3, 7, 5, 16
    td = 1 if batch_first else 0
    rng = np.random.default_rng(1)
    tgt_np = rng.standard_normal((n, t, d) if batch_first else (t, n, d)).astype(np.float32)
    mem_np = rng.standard_normal((n, s, d) if batch_first else (s, n, d)).astype(np.float32)
    kpm = padding_mask(n, s)

    tgt_t = torch.tensor(tgt_np, requires_grad=True)
    mem_t = torch.tensor(mem_np, requires_grad=True)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(t)
    out_t = ref(tgt_t, mem_t, tgt_mask=mask, tgt_is_causal=True, memory_key_padding_mask=kpm)

    tgt_s = ss.tensor(tgt_np).requires_grad_()
    mem_s = ss.tensor(mem_np).requires_grad_()
    cache = ours.init_cache(mem_s, memory_key_padding_mask=to_ss(kpm))
    # One position at a time, then the rest as a block of three (a prompt-style step).
    steps = [ours.forward_step(tgt_s.narrow(td, i, 1), cache) for i in range(4)]
    steps.append(ours.forward_step(tgt_s.narrow(td, 4, 3), cache))
    assert cache.length == t and cache.batch_size == n
    out_s = ss.cat(steps, td)
    assert_close(out_s, out_t, rtol=1e-5, atol=1e-5)

    w = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.tensor(w)).sum().backward()
    (out_s * ss.tensor(w)).sum().backward()
    assert_close(tgt_s.grad, tgt_t.grad, rtol=1e-4, atol=1e-5)
    assert_close(mem_s.grad, mem_t.grad, rtol=1e-4, atol=1e-5)
    ours_p = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        assert_close(ours_p[name].grad, p.grad, rtol=1e-4, atol=1e-5)


def test_cache_reorder_and_cross_attention_weights():
    ours, ref = make_decoders(False, True)
    n, t, s, d = 3, 4, 5, 16
    torch.manual_seed(2)
    tgt, mem, kpm = torch.randn(n, t, d), torch.randn(n, s, d), padding_mask(n, s)
    cache = ours.init_cache(to_ss(mem), memory_key_padding_mask=to_ss(kpm), need_weights=True)
    ours.forward_step(to_ss(tgt[:, :2]), cache)
    w = cache.cross_attn_weights[-1]
    assert tuple(w.shape) == (n, 2, s)
    # torch's last layer cross-attention weights, recomputed from its own sublayers.
    with torch.no_grad():
        mask = torch.nn.Transformer.generate_square_subsequent_mask(2)
        x = ref.layers[0](tgt[:, :2], mem, tgt_mask=mask, memory_key_padding_mask=kpm)
        last = ref.layers[1]
        x = last.norm1(x + last.self_attn(x, x, x, attn_mask=mask, need_weights=False)[0])
        _, w_t = last.multihead_attn(x, mem, mem, key_padding_mask=kpm, need_weights=True)
    assert_close(w, w_t, rtol=1e-5, atol=1e-6)

    index = ss.tensor([2, 0, 0, 1])
    cache.reorder(index)
    assert cache.batch_size == 4
    nxt = ours.forward_step(to_ss(tgt[[2, 0, 0, 1], 2:]), cache)
    with torch.no_grad():
        full = ref(tgt[[2, 0, 0, 1]], mem[[2, 0, 0, 1]], tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(t),
                   memory_key_padding_mask=kpm[[2, 0, 0, 1]])
    assert_close(nxt, full[:, 2:], rtol=1e-5, atol=1e-5)


def test_mha_forward_cached_matches_torch_and_gradcheck():
    torch.manual_seed(3)
    e, h, n, t = 8, 2, 2, 5
    ref = torch.nn.MultiheadAttention(e, h, batch_first=True)
    ours = snn.MultiheadAttention(e, h, batch_first=True)
    load_torch_state(ours, ref)
    x = torch.randn(n, t, e)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(t)
    y_t, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
    cache = snn.KeyValueCache()
    ys = [ours.forward_cached(to_ss(x[:, i:i + 1]), cache, append=True)[0] for i in range(t)]
    assert len(cache) == t and tuple(cache.key.shape) == (n, h, t, e // h)
    assert_close(ss.cat(ys, 1), y_t, rtol=1e-5, atol=1e-6)

    # Cross-attention to a projected memory, with a float padding mask, vs torch.
    mem = torch.randn(n, 6, e)
    fkpm = torch.zeros(n, 6)
    fkpm[0, 4:] = float("-inf")
    y_t, w_t = ref(x, mem, mem, key_padding_mask=fkpm)
    kv = ours.project_key_value(to_ss(mem), to_ss(mem))
    y_s, w_s = ours.forward_cached(to_ss(x), kv, append=False, key_padding_mask=to_ss(fkpm), need_weights=True)
    assert_close(y_s, y_t, rtol=1e-5, atol=1e-6)
    assert_close(w_s, w_t, rtol=1e-5, atol=1e-6)

    # float64 finite differences through the cached path, into the cache's source too.
    m64 = snn.MultiheadAttention(e, h, batch_first=True, dtype=ss.float64)
    past = ss.randn(n, 3, e, dtype=ss.float64).requires_grad_()
    q = ss.randn(n, 2, e, dtype=ss.float64).requires_grad_()

    def f(q, past):
        c = m64.project_key_value(past, past)
        return m64.forward_cached(q, c, append=True)[0]
    assert ss.autograd.gradcheck(f, (q, past))


def test_positional_encoding_offset_and_errors():
    pe = snn.PositionalEncoding(8, dropout=0.0, max_len=10, batch_first=True)
    full = pe(ss.zeros(2, 6, 8))
    assert_close(pe(ss.zeros(2, 2, 8), offset=4), full[:, 4:6].numpy(), rtol=0, atol=0)
    lpe = snn.LearnedPositionalEmbedding(10, 8, batch_first=True)
    assert_close(lpe(ss.zeros(1, 3, 8), offset=2), lpe.weight[2:5].unsqueeze(0).detach().numpy(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="max_len"):
        pe(ss.zeros(1, 3, 8), offset=8)
    with pytest.raises(ValueError, match="offset"):
        pe(ss.zeros(1, 3, 8), offset=-1)

    ours, _ = make_decoders(False, True)
    mem = ss.randn(2, 5, 16)
    with pytest.raises(ValueError, match="memory_key_padding_mask"):
        ours.init_cache(mem, memory_key_padding_mask=ss.zeros(2, 4, dtype=ss.bool))
    with pytest.raises(ValueError, match="3-D memory"):
        ours.init_cache(ss.randn(5, 16))
    cache = ours.init_cache(mem)
    with pytest.raises(ValueError, match="forward_step"):
        ours.forward_step(ss.randn(3, 1, 16), cache)
    with pytest.raises(IndexError, match="reorder"):
        cache.reorder(ss.tensor([0, 2]))
    other = snn.TransformerDecoder(snn.TransformerDecoderLayer(16, 4, 32, batch_first=True), 3)
    with pytest.raises(ValueError, match="layers"):
        other.forward_step(ss.randn(2, 1, 16), cache)
    mha = snn.MultiheadAttention(8, 2, add_bias_kv=True)
    with pytest.raises(ValueError, match="add_bias_kv"):
        mha.forward_cached(ss.randn(1, 2, 8), snn.KeyValueCache(), append=True)
