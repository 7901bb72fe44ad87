"""The three translators the demo compares, all built from shanshui.nn.

- TransformerTranslator: nn.Transformer encoder-decoder ("Attention is all you need"),
  decoding through the decoder's key/value cache.
- GRUTranslator(attention=False): nn.Seq2Seq without attention, a bidirectional GRU
  encoder whose final states are the only thing the decoder sees (Cho et al. 2014):
  the "simple RNN" of the comparison.
- GRUTranslator(attention=True): nn.Seq2Seq with additive (Bahdanau) attention: the
  decoder state is s_t = GRU([E y_{t-1}; c_t], s_{t-1}), c_t = sum_i alpha_ti h_i.

Every model has forward(src, tgt_in) -> logits [B, T, V] (teacher forcing), the
search protocol of shanshui.nn.greedy_search / beam_search (encode(src) -> state,
decode_step(tokens, state) -> (logits [B, V], state)), and
cross_attention(src, out_tokens) -> weights [B, T, S] (or None) for heatmaps.
Token 0 is padding, 1 <bos>, 2 <eos> (number_words.Vocab does the same).
"""
import shanshui as ss
from shanshui import nn

PAD, BOS, EOS = 0, 1, 2


class TransformerTranslator(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, d_model=128, nhead=4, num_layers=2, dim_feedforward=256,
                 dropout=0.1, max_len=128):
        super().__init__()
        self.d_model = d_model
        self.src_emb = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        self.pos = nn.PositionalEncoding(d_model, dropout=dropout, max_len=max_len, batch_first=True)
        self.transformer = nn.Transformer(d_model, nhead, num_layers, num_layers, dim_feedforward, dropout,
                                          batch_first=True)
        self.out = nn.Linear(d_model, tgt_vocab)

    def _embed(self, emb, tokens, offset=0):
        # No sqrt(d_model) scaling: with N(0, 1) embeddings it would drown the positional signal.
        return self.pos(emb(tokens), offset=offset)

    def memory(self, src):
        return self.transformer.encoder(self._embed(self.src_emb, src), src_key_padding_mask=src == PAD)

    def forward(self, src, tgt_in):
        # Padded target positions come after EOS: the causal mask already hides them from
        # real ones and the loss ignores them, so no tgt_key_padding_mask (the fused causal kernel runs).
        t = tgt_in.shape[1]
        h = self.transformer.decoder(self._embed(self.tgt_emb, tgt_in), self.memory(src),
                                     tgt_mask=nn.Transformer.generate_square_subsequent_mask(t), tgt_is_causal=True,
                                     memory_key_padding_mask=src == PAD)
        return self.out(h)

    # ---- the search protocol: the state is the decoder's key/value cache ----
    def encode(self, src, need_weights=False):
        return self.transformer.decoder.init_cache(self.memory(src), memory_key_padding_mask=src == PAD,
                                                   need_weights=need_weights)

    def decode_step(self, tokens, cache):
        y = self._embed(self.tgt_emb, tokens.unsqueeze(1), offset=cache.length)
        return self.out(self.transformer.decoder.forward_step(y, cache))[:, 0], cache

    @ss.no_grad()
    def cross_attention(self, src, out_tokens):
        """Head-averaged cross-attention of the last decoder layer [B, T, S] while reading out_tokens
        (BOS is prepended), from one cached step over all positions."""
        cache = self.encode(src, need_weights=True)
        tgt_in = ss.cat([ss.full((src.shape[0], 1), BOS, dtype=ss.int64), out_tokens[:, :-1]], 1)
        self.transformer.decoder.forward_step(self._embed(self.tgt_emb, tgt_in), cache)
        return cache.cross_attn_weights[-1]


class GRUTranslator(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, emb=64, hidden=128, attention=True, dropout=0.1):
        super().__init__()
        self.s2s = nn.Seq2Seq(src_vocab, tgt_vocab, embed_dim=emb, hidden_size=hidden, attention_dim=hidden,
                              attention=attention, bidirectional=True, dropout=dropout, pad_idx=PAD, bos_idx=BOS,
                              eos_idx=EOS)

    def forward(self, src, tgt_in):
        return self.s2s(src, tgt_in)[0]

    # ---- the search protocol: the state is (encoded source, decoder state); both reorder by default ----
    def encode(self, src):
        mem = self.s2s.encode(src)
        return mem, mem.state

    def decode_step(self, tokens, state):
        mem, s = state
        logits, s, _ = self.s2s.decode_step(mem, tokens, s)
        return logits, (mem, s)

    @ss.no_grad()
    def cross_attention(self, src, out_tokens):
        tgt_in = ss.cat([ss.full((src.shape[0], 1), BOS, dtype=ss.int64), out_tokens[:, :-1]], 1)
        return self.s2s(src, tgt_in)[1]
