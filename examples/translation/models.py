"""The three translators the demo compares, all built from shanshui.nn.

- TransformerTranslator: nn.Transformer encoder-decoder ("Attention is all you need").
- GRUTranslator(attention=False): a GRU encoder whose final state is the only thing
  the decoder sees (Sutskever et al. 2014): the "simple RNN" of the comparison.
- GRUTranslator(attention=True): the same with additive (Bahdanau) attention: the
  decoder state is s_t = GRU([y_{t-1}; c_t], s_{t-1}), c_t = sum_i alpha_ti h_i.

Every model has forward(src, tgt_in) -> logits [B, T, V] (teacher forcing) and
greedy(src, max_len) -> (tokens [B, <=max_len], cross-attention [B, T, S] or None).
Token 0 is padding, 1 <bos>, 2 <eos> (number_words.Vocab).
"""
import math

import shanshui as ss
from shanshui import nn

PAD, BOS, EOS = 0, 1, 2


class TransformerTranslator(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, d_model=128, nhead=4, num_layers=2, dim_feedforward=256,
                 dropout=0.1, max_len=64):
        super().__init__()
        self.d_model = d_model
        self.src_emb = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        self.pos = nn.SinusoidalPositionalEncoding(d_model, max_len=max_len, dropout=dropout, batch_first=True)
        self.transformer = nn.Transformer(d_model, nhead, num_layers, num_layers, dim_feedforward, dropout,
                                          batch_first=True)
        self.out = nn.Linear(d_model, tgt_vocab)

    def _embed(self, emb, tokens):
        # No sqrt(d_model) scaling: with N(0, 1) embeddings it would drown the positional signal.
        return self.pos(emb(tokens))

    def encode(self, src):
        return self.transformer.encoder(self._embed(self.src_emb, src), src_key_padding_mask=src == PAD)

    def decode(self, memory, src, tgt_in):
        t = tgt_in.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        h = self.transformer.decoder(self._embed(self.tgt_emb, tgt_in), memory, tgt_mask=mask,
                                     tgt_key_padding_mask=tgt_in == PAD, memory_key_padding_mask=src == PAD)
        return self.out(h)

    def forward(self, src, tgt_in):
        return self.decode(self.encode(src), src, tgt_in)

    def cross_attention(self, memory, src, tgt_in):
        """Head-averaged weights of the last decoder layer's cross-attention [B, T, S]."""
        dec = self.transformer.decoder
        x = self._embed(self.tgt_emb, tgt_in)
        t = tgt_in.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        layers = list(dec.layers)
        for layer in layers[:-1]:
            x = layer(x, memory, tgt_mask=mask, tgt_key_padding_mask=tgt_in == PAD,
                      memory_key_padding_mask=src == PAD)
        last = layers[-1]
        # Post-LN layer: self-attention block, then the cross-attention whose weights we want.
        sa, _ = last.self_attn(x, x, x, attn_mask=mask, key_padding_mask=tgt_in == PAD, need_weights=False)
        x = last.norm1(x + sa)
        _, w = last.multihead_attn(x, memory, memory, key_padding_mask=src == PAD, need_weights=True)
        return w

    @ss.no_grad()
    def greedy(self, src, max_len):
        memory = self.encode(src)
        b = src.shape[0]
        ys = ss.full((b, 1), BOS, dtype=ss.int64)
        done = ss.zeros(b, dtype=ss.bool)
        for _ in range(max_len):
            nxt = self.decode(memory, src, ys)[:, -1].argmax(-1)
            nxt = ss.where(done, ss.full_like(nxt, PAD), nxt)
            ys = ss.cat([ys, nxt.unsqueeze(1)], 1)
            done = done | (nxt == EOS)
            if bool(done.all()):
                break
        return ys[:, 1:], self.cross_attention(memory, src, ys[:, :-1])


class GRUTranslator(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, emb=64, hidden=128, attention=True):
        super().__init__()
        self.attention = attention
        self.hidden = hidden
        self.src_emb = nn.Embedding(src_vocab, emb, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        ctx = 2 * hidden if attention else 0
        if attention:
            self.attn = nn.AdditiveAttention(query_dim=hidden, key_dim=2 * hidden, hidden_dim=hidden)
        self.cell = nn.GRUCell(emb + ctx, hidden)
        self.out = nn.Linear(hidden + ctx, tgt_vocab)

    def encode(self, src):
        h, h_n = self.encoder(self.src_emb(src))           # h [B, S, 2H]; h_n [2, B, H]
        s0 = ss.tanh(self.bridge(ss.cat([h_n[0], h_n[1]], -1)))
        return h, s0

    def _step(self, y_prev, s, h, src_mask):
        e = self.tgt_emb(y_prev)
        if self.attention:
            c, w = self.attn(s, h, h, key_padding_mask=src_mask)   # c [B, 2H], w [B, S]
            s = self.cell(ss.cat([e, c], -1), s)
            return self.out(ss.cat([s, c], -1)), s, w
        s = self.cell(e, s)
        return self.out(s), s, None

    def forward(self, src, tgt_in):
        h, s = self.encode(src)
        mask = src == PAD
        logits = []
        for t in range(tgt_in.shape[1]):
            o, s, _ = self._step(tgt_in[:, t], s, h, mask)
            logits.append(o)
        return ss.stack(logits, 1)

    @ss.no_grad()
    def greedy(self, src, max_len):
        h, s = self.encode(src)
        mask = src == PAD
        b = src.shape[0]
        y = ss.full((b,), BOS, dtype=ss.int64)
        done = ss.zeros(b, dtype=ss.bool)
        out, weights = [], []
        for _ in range(max_len):
            o, s, w = self._step(y, s, h, mask)
            y = ss.where(done, ss.full_like(y, PAD), o.argmax(-1))
            out.append(y)
            if w is not None:
                weights.append(w)
            done = done | (y == EOS)
            if bool(done.all()):
                break
        return ss.stack(out, 1), (ss.stack(weights, 1) if weights else None)
