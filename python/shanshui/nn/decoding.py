"""Greedy and beam search for encoder-decoders that decode step by step.

Any model with these two methods can be searched:

    state = model.encode(src)                      # anything: a KV cache, a GRU state, a tuple...
    logits, state = model.decode_step(tokens, state)   # tokens int64 [N] -> logits [N, V]

and, for beam search, a way to reorder the state's batch rows: the model's
``reorder_state(state, index)`` if it has one, else the state's own
``reorder(index)`` (TransformerDecoderCache, KeyValueCache, Seq2Seq.Memory
have it), else ``index_select(0, index)`` on every tensor of a (nested)
tuple / list / dict (tensors hold the batch in dim 0).

The search itself is the C++ one (nn/decoding/search.h): scores are
sum(log p) / length ** length_penalty with length counting EOS; beam search
follows Hugging Face's BeamSearchScorer, early_stopping False / True / "never"
as there; with beam_size=1 it is greedy search.

A Transformer with a key/value cache:

    class Translator(nn.Module):
        def encode(self, src):
            memory = self.transformer.encoder(self.pos(self.src_emb(src)), src_key_padding_mask=src == PAD)
            return self.transformer.decoder.init_cache(memory, memory_key_padding_mask=src == PAD)

        def decode_step(self, tokens, cache):          # batch_first
            y = self.pos(self.tgt_emb(tokens.unsqueeze(1)), offset=cache.length)
            return self.out(self.transformer.decoder.forward_step(y, cache))[:, 0], cache

    result = nn.beam_search(model, src, beam_size=4, max_len=20)
    result.sequences, result.scores, result.lengths
"""
from .. import _C
from .._C import Tensor

_Cnn = _C.nn
KeyValueCache = _Cnn.KeyValueCache
TransformerDecoderCache = _Cnn.TransformerDecoderCache
SearchResult = _Cnn.SearchResult
sequence_score = _Cnn.sequence_score

__all__ = ["greedy_search", "beam_search", "sequence_score", "SearchResult", "KeyValueCache",
           "TransformerDecoderCache"]


def _reorder(model, state, index):
    if hasattr(model, "reorder_state"):
        return model.reorder_state(state, index)
    return _reorder_default(state, index)


def _reorder_default(state, index):
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    if isinstance(state, (tuple, list)):
        return type(state)(_reorder_default(s, index) for s in state)
    if isinstance(state, dict):
        return {k: _reorder_default(v, index) for k, v in state.items()}
    if hasattr(state, "reorder"):
        state.reorder(index)
        return state
    raise TypeError(f"beam_search: cannot reorder a decoder state of type {type(state).__name__}; give the model "
                    "a reorder_state(state, index) method or the state a reorder(index) method")


def _batch_size(src, batch_size, op):
    if batch_size is not None:
        return int(batch_size)
    if isinstance(src, Tensor) and src.dim() >= 1:
        return int(src.shape[0])
    raise ValueError(f"{op}: pass batch_size= when src is not a batch-first tensor (got {type(src).__name__})")


def _check_model(model, op):
    for name in ("encode", "decode_step"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"{op}: the model must have an {name} method (see shanshui.nn.decoding)")


def _stepper(model, holder):
    def step(tokens):
        out = model.decode_step(tokens, holder[0])
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("decode_step(tokens, state) must return (logits, state)")
        logits, holder[0] = out
        return logits
    return step


def greedy_search(model, src, max_len=50, *, bos_idx=1, eos_idx=2, pad_idx=0, length_penalty=1.0,
                  batch_size=None):
    """The most likely token at every step, until EOS or max_len tokens.

    src is passed to model.encode; its dim 0 is the batch unless batch_size is given.
    Returns a SearchResult: sequences [B, L] (EOS included, then pad_idx), scores [B], lengths [B].
    """
    _check_model(model, "greedy_search")
    b = _batch_size(src, batch_size, "greedy_search")
    holder = [model.encode(src)]
    return _Cnn._greedy_search(_stepper(model, holder), b, max_len, bos_idx, eos_idx, pad_idx, float(length_penalty))


def beam_search(model, src, beam_size=4, max_len=50, *, bos_idx=1, eos_idx=2, pad_idx=0, length_penalty=1.0,
                num_return_sequences=1, early_stopping=False, batch_size=None):
    """Beam search: the beam_size best hypotheses per source, extended together.

    early_stopping: False (stop a source once its beam_size finished hypotheses beat every live
    beam at its current length, Hugging Face's default), True (as soon as there are beam_size of
    them) or "never" (only once no live beam can beat them at any length: exact).
    Returns a SearchResult: sequences [B, num_return_sequences, L], best first; scores and lengths [B, R].
    """
    _check_model(model, "beam_search")
    modes = {False: _Cnn._EarlyStopping.heuristic, True: _Cnn._EarlyStopping.immediate,
             "never": _Cnn._EarlyStopping.never}
    if not any(early_stopping is k or (isinstance(k, str) and early_stopping == k) for k in modes):
        raise ValueError(f"beam_search: early_stopping must be False, True or 'never', got {early_stopping!r}")
    mode = modes["never"] if isinstance(early_stopping, str) else modes[bool(early_stopping)]
    b = _batch_size(src, batch_size, "beam_search")
    if beam_size < 1:  # checked again in C++; here before encode runs
        raise ValueError(f"beam_search: beam_size must be at least 1, got {beam_size}")
    holder = [model.encode(src)]

    def reorder(index):
        holder[0] = _reorder(model, holder[0], index)

    return _Cnn._beam_search(_stepper(model, holder), reorder, b, beam_size, max_len, bos_idx, eos_idx, pad_idx,
                             float(length_penalty), num_return_sequences, mode)
