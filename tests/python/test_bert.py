"""shanshui.nn.BertModel / BertForMaskedLM against Hugging Face transformers'
BertModel / BertForMaskedLM with identical weights (HF's state_dict loaded into
ours, strictly), in eval mode: outputs and the gradient of every parameter, with
padding in attention_mask and two segments in token_type_ids, float32 and
float64. Plus shanshui.nn.functional.mask_tokens' statistics and bad input."""
import numpy as np
import pytest
import torch
import transformers

import shanshui as ss
import shanshui.nn as snn
import shanshui.nn.functional as F

# float32: rtol 1e-5 plus an absolute floor of 1e-5 of the tensor's largest entry (gradients
# summed over many tokens carry rounding of that order); float64 is held to 1e-9.
TOL = {torch.float32: (1e-5, 1e-5), torch.float64: (1e-9, 1e-10)}
SS_DT = {torch.float32: ss.float32, torch.float64: ss.float64}
CFG = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
           max_position_embeddings=16, type_vocab_size=2)


def hf_model(cls, dt, seed=0, **over):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(**{**CFG, **over}, attn_implementation="eager")
    m = cls(cfg).to(dt).eval()
    # BERT's N(0, 0.02) init leaves attention nearly uniform; larger weights exercise every term.
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.add_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.1))
    return m


def to_ss(t):
    return ss.tensor(t.detach().numpy().copy())


def ours_like(cls, ref, dt, **over):
    m = cls(**{**CFG, **over}, dtype=SS_DT[dt])
    res = m.load_state_dict({k: to_ss(v) for k, v in ref.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert list(m.state_dict().keys()) == list(ref.state_dict().keys())
    return m.eval()


def batch(seed=1, B=3, T=10):
    g = np.random.default_rng(seed)
    ids = g.integers(1, CFG["vocab_size"], (B, T))
    mask = np.ones((B, T), dtype=np.int64)
    mask[1, 7:] = 0  # padding at the end of two sequences
    mask[2, 4:] = 0
    ids[mask == 0] = 0  # [PAD]
    tt = np.zeros((B, T), dtype=np.int64)
    tt[0, 5:] = 1
    tt[2, 2:4] = 1
    return ids, mask, tt


def close(a, b, dt):
    a = a.detach().numpy() if isinstance(a, ss.Tensor) else a
    b = b.detach().numpy()
    rtol, scale = TOL[dt]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=scale * max(1.0, float(np.abs(b).max(initial=0.0))))


def compare_grads(ours, ref, dt):
    theirs = dict(ref.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(theirs)  # tied tensors listed once, under the same (first) name
    for n, p in ours.named_parameters():
        assert p.grad is not None, n
        close(p.grad, theirs[n].grad, dt)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
def test_bert_model_matches_hf(dt):
    ref = hf_model(transformers.BertModel, dt)
    ours = ours_like(snn.BertModel, ref, dt)
    ids, mask, tt = batch()
    out = ref(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(tt))
    seq, pooled = ours(ss.tensor(ids), attention_mask=ss.tensor(mask), token_type_ids=ss.tensor(tt))
    close(seq, out.last_hidden_state, dt)
    close(pooled, out.pooler_output, dt)
    res = ours(ss.tensor(ids), ss.tensor(mask), ss.tensor(tt))  # also readable as transformers' output
    close(res.last_hidden_state, out.last_hidden_state, dt)
    close(res.pooler_output, out.pooler_output, dt)
    g = np.random.default_rng(2)
    g1, g2 = g.standard_normal(tuple(seq.shape)), g.standard_normal(tuple(pooled.shape))
    ((out.last_hidden_state * torch.tensor(g1, dtype=dt)).sum()
     + (out.pooler_output * torch.tensor(g2, dtype=dt)).sum()).backward()
    sdt = SS_DT[dt]
    ((seq * ss.tensor(g1).to(sdt)).sum() + (pooled * ss.tensor(g2).to(sdt)).sum()).backward()
    compare_grads(ours, ref, dt)


@pytest.mark.parametrize("dt,act", [(torch.float32, "gelu"), (torch.float64, "gelu"), (torch.float32, "relu"),
                                    (torch.float32, "gelu_new")])
def test_bert_for_masked_lm_matches_hf(dt, act):
    ref = hf_model(transformers.BertForMaskedLM, dt, hidden_act=act)
    ours = ours_like(snn.BertForMaskedLM, ref, dt, hidden_act=act)
    # The decoder is tied to the word embedding on both sides.
    assert ref.cls.predictions.decoder.weight is ref.bert.embeddings.word_embeddings.weight
    ids, mask, tt = batch(3)
    labels = np.where(np.random.default_rng(4).random(ids.shape) < 0.3, ids, -100)
    labels[mask == 0] = -100
    out = ref(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(tt),
              labels=torch.tensor(labels))
    loss, logits = ours(ss.tensor(ids), ss.tensor(mask), ss.tensor(tt), labels=ss.tensor(labels))
    close(logits, out.logits, dt)
    close(loss, out.loss, dt)
    res = ours(ss.tensor(ids), ss.tensor(mask), ss.tensor(tt), labels=ss.tensor(labels))
    close(res.loss, out.loss, dt)
    # Logits alone without labels; backward through the loss reaches the tied weight from both ends.
    close(ours(ss.tensor(ids), ss.tensor(mask), ss.tensor(tt)), out.logits, dt)
    out.loss.backward()
    loss.backward()
    compare_grads(ours, ref, dt)
    w = ours.bert.embeddings.word_embeddings.weight
    assert np.array_equal(ours.cls.predictions.decoder.weight.detach().numpy(), w.detach().numpy())


def test_bert_3d_mask_no_mask_and_hf_config():
    dt = torch.float32
    ref = hf_model(transformers.BertModel, dt, seed=5)
    ours = snn.BertModel(ref.config).eval()  # fields read from transformers' config object
    assert ours.config.hidden_size == CFG["hidden_size"] and ours.config.layer_norm_eps == 1e-12
    ours.load_state_dict({k: to_ss(v) for k, v in ref.state_dict().items()})
    ids, mask, tt = batch(6)
    # A [B, T, T] mask (transformers 5 no longer takes one) means the [B, T] mask repeated over queries.
    m3 = mask[:, None, :].repeat(ids.shape[1], 1)
    out = ref(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
    close(ours(ss.tensor(ids), ss.tensor(m3))[0], out.last_hidden_state, dt)
    out = ref(input_ids=torch.tensor(ids))
    seq, pooled = ours(ss.tensor(ids))
    close(seq, out.last_hidden_state, dt)
    close(pooled, out.pooler_output, dt)
    assert snn.BertModel(**CFG, add_pooling_layer=False)(ss.tensor(ids))[1] is None


def test_bert_state_dict_keys_and_defaults_match_hf():
    hf = transformers.BertForMaskedLM(transformers.BertConfig(**CFG))
    ours = snn.BertForMaskedLM(**CFG)
    assert list(ours.state_dict().keys()) == list(hf.state_dict().keys())
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in hf.named_parameters()]
    c, d = ours.config, transformers.BertConfig()
    default = snn.BertModel(num_hidden_layers=0).config  # BertConfig's defaults (no layers: cheap)
    for f in ["vocab_size", "hidden_size", "num_attention_heads", "intermediate_size", "hidden_act",
              "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
              "initializer_range", "layer_norm_eps", "pad_token_id"]:
        assert getattr(default, f) == getattr(d, f), f
    assert c.vocab_size == 50
    # Init statistics as HF's _init_weights: std 0.02 weights, zero biases, LayerNorm (1, 0).
    sd = dict(ours.state_dict())
    w = sd["bert.encoder.layer.0.attention.self.query.weight"].numpy()
    assert abs(w.std() - 0.02) < 0.004
    assert float(sd["cls.predictions.bias"].abs().sum()) == 0.0
    assert np.all(sd["bert.embeddings.LayerNorm.weight"].numpy() == 1.0)
    # Re-tying after replacing the embedding.
    ours.bert.embeddings.word_embeddings.weight = snn.Parameter(ss.zeros(50, 32))
    ours.tie_weights()
    assert float(ours.cls.predictions.decoder.weight.abs().sum()) == 0.0


def test_bert_dropout_in_train_mode_only():
    ss.manual_seed(0)
    m = snn.BertForMaskedLM(**CFG)
    ids = ss.tensor(batch()[0])
    m.eval()
    with ss.no_grad():
        assert np.array_equal(m(ids).numpy(), m(ids).numpy())
    m.train()
    assert not np.array_equal(m(ids).detach().numpy(), m(ids).detach().numpy())


def test_bert_bad_input():
    m = snn.BertForMaskedLM(**CFG)
    ok = ss.tensor([[1, 2, 3]])
    with pytest.raises(IndexError, match="input_ids.*vocab_size=50"):
        m(ss.tensor([[1, 50, 3]]))
    with pytest.raises(IndexError, match="input_ids"):
        m(ss.tensor([[1, -2, 3]]))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        m(ss.zeros(1, 17, dtype=ss.int64))
    with pytest.raises(ValueError, match=r"attention_mask of shape \[1, 4\]"):
        m(ok, ss.ones(1, 4))
    with pytest.raises(IndexError, match="token_type_ids"):
        m(ok, token_type_ids=ss.tensor([[0, 2, 0]]))
    with pytest.raises(ValueError, match="labels"):
        m(ok, labels=ss.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"hidden size \(30\) is not a multiple of the number of attention heads"):
        snn.BertModel(**{**CFG, "hidden_size": 30})
    with pytest.raises(ValueError, match="hidden_act"):
        snn.BertForMaskedLM(**{**CFG, "hidden_act": "mish"})
    with pytest.raises(TypeError, match="hiden_size"):
        snn.BertModel(hiden_size=32)


def test_mask_tokens_statistics_and_seeding():
    V, MASK = 1000, 4
    ss.manual_seed(0)
    ids = ss.randint(5, V, (300, 400))
    special = ss.zeros(300, 400, dtype=ss.bool)
    special[:, :40] = True
    inputs, labels = F.mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_tokens_mask=special)
    x, inp, lab, sp = ids.numpy(), inputs.numpy(), labels.numpy(), special.numpy()
    sel = lab != -100
    assert not sel[sp].any() and np.array_equal(inp[sp], x[sp])  # special tokens never touched
    assert np.array_equal(lab[sel], x[sel]) and np.array_equal(inp[~sel], x[~sel])
    assert abs(sel.sum() / (~sp).sum() - 0.15) < 0.005
    n = sel.sum()
    to_mask, kept = (inp[sel] == MASK).sum() / n, (inp[sel] == x[sel]).sum() / n
    assert abs(to_mask - 0.8) < 0.01 and abs(kept - 0.1) < 0.01 and abs(1 - to_mask - kept - 0.1) < 0.01
    # An integer special mask (nonzero = special), as transformers' tokenizers return.
    _, lab2 = F.mask_tokens(ids, MASK, V, 0.5, special_tokens_mask=special.to(ss.int64))
    assert not (lab2.numpy()[sp] != -100).any()
    ss.manual_seed(3)
    a = F.mask_tokens(ids, MASK, V)
    ss.manual_seed(3)
    b = F.mask_tokens(ids, MASK, V)
    c = F.mask_tokens(ids, MASK, V)
    assert np.array_equal(a[0].numpy(), b[0].numpy()) and np.array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(b[1].numpy(), c[1].numpy())
    with pytest.raises(ValueError, match="mask_token_id"):
        F.mask_tokens(ids, V, V)
    with pytest.raises(ValueError, match="special_tokens_mask"):
        F.mask_tokens(ids, MASK, V, special_tokens_mask=ss.zeros(2, 2, dtype=ss.bool))
    with pytest.raises(ValueError, match="mlm_probability"):
        F.mask_tokens(ids, MASK, V, mlm_probability=-0.1)


def test_bert_mlm_learns_to_fill_in():
    """A tiny BertForMaskedLM learns to recover masked tokens of sequences that
    repeat one token (readable from the unmasked ones), far above chance (1/15)."""
    ss.manual_seed(0)
    g = np.random.default_rng(0)
    V = 20
    m = snn.BertForMaskedLM(vocab_size=V, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=8, hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0)
    opt = ss.optim.AdamW(m.parameters(), lr=3e-3)

    def data(n):
        return ss.tensor(np.repeat(g.integers(5, V, (n, 1)), 8, 1))

    for _ in range(150):
        ids = data(32)
        inputs, labels = F.mask_tokens(ids, 4, V, 0.15, mask_replace_prob=1.0, random_replace_prob=0.0)
        loss, _ = m(inputs, labels=labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    ids = data(200)
    inputs, labels = F.mask_tokens(ids, 4, V, 0.15, mask_replace_prob=1.0, random_replace_prob=0.0)
    with ss.no_grad():
        pred = m(inputs).argmax(-1).numpy()
    lab = labels.numpy()
    acc = (pred[lab != -100] == lab[lab != -100]).mean()
    print("fill-in accuracy", acc)
    assert acc > 0.8, acc
