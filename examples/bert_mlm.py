"""BERT-style masked language model pretrained on the fortunes Debian ships.

    PYTHONPATH=python python3 examples/bert_mlm.py            # pretrain, evaluate, fill in blanks
    PYTHONPATH=python python3 examples/bert_mlm.py --short    # the test suite's run

The text is /usr/share/games/fortunes (Debian's `fortunes` package, about
2.5 MB of English): each fortune is lower-cased and split into words and
punctuation; the most frequent words form the vocabulary (the rest is [UNK]).
Fortunes are packed into fixed-length sequences; every tenth fortune is held
out. Training masks 15% of the tokens with BERT's 80/10/10 rule
(nn.functional.mask_tokens) and predicts them with nn.BertForMaskedLM (token +
position + segment embeddings, post-LN encoder, an MLM head tied to the token
embedding). Reported on held-out text: masked-token accuracy and perplexity,
against the unigram baseline (predicting every masked word from word
frequencies alone). Then it fills in the masked words of a few sentences.
"""
import argparse
import collections
import glob
import json
import math
import os
import re
import time

import numpy as np

import shanshui as ss
from shanshui import nn
from shanshui.nn import functional as F

FORTUNES = "/usr/share/games/fortunes"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(5)
EXAMPLES = ["the best way to predict the future is to [MASK] it .",
            "a [MASK] in the hand is worth two in the bush .",
            "there is no place like [MASK] .",
            "you will be [MASK] by a tall dark stranger ."]


def read_fortunes():
    files = [f for f in sorted(glob.glob(os.path.join(FORTUNES, "*"))) if os.path.isfile(f)
             and not f.endswith((".dat", ".u8")) and not os.path.islink(f)]
    if not files:
        raise SystemExit(f"bert_mlm: no fortunes under {FORTUNES}; install Debian's `fortunes` package")
    texts = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            texts += [t.strip() for t in fh.read().split("\n%\n") if t.strip()]
    return texts


def tokenize(text):
    return re.findall(r"[a-z0-9']+|[.,!?;:\"()-]", text.lower())


def build(texts, vocab_size, seq_len):
    words = [tokenize(t) for t in texts]
    held = set(range(0, len(words), 10))
    counts = collections.Counter(w for i, ws in enumerate(words) if i not in held for w in ws)
    itos = SPECIALS + [w for w, _ in counts.most_common(vocab_size - len(SPECIALS))]
    stoi = {w: i for i, w in enumerate(itos)}

    def pack(indices):
        ids = [CLS]
        seqs = []
        for i in indices:
            for w in words[i] + ["[SEP]"]:
                ids.append(stoi.get(w, UNK))
                if len(ids) == seq_len:
                    seqs.append(ids)
                    ids = [CLS]
        return np.array(seqs, dtype=np.int64)

    train = pack([i for i in range(len(words)) if i not in held])
    test = pack(sorted(held))
    # The baseline predicts every masked word from training-set word frequencies. Special
    # tokens ([UNK] included, as in BERT) are never masked, so they get no probability.
    unigram = np.zeros(len(itos))
    for w, c in counts.items():
        unigram[stoi.get(w, UNK)] += c
    unigram[:len(SPECIALS)] = 0
    return itos, stoi, train, test, unigram / unigram.sum()


def masked_logits(model, inputs, sel):
    """The MLM head's scores at the selected positions only, [n, vocab]: the encoder runs
    on every token, the (vocabulary-sized) head only where a prediction is scored."""
    hidden, _ = model.bert(inputs)
    return model.cls(hidden[sel])


def evaluate(model, test, unigram, vocab, batch, seed=1234):
    """Masked-token accuracy and perplexity on held-out text, and the unigram baseline's."""
    model.eval()
    ss.manual_seed(seed)  # the same masks every evaluation
    nll = correct = count = uni_nll = uni_correct = 0.0
    with ss.no_grad():
        for i in range(0, len(test), batch):
            ids = ss.from_numpy(test[i:i + batch])
            inputs, labels = F.mask_tokens(ids, mask_token_id=MASK, vocab_size=vocab, mlm_probability=0.15,
                                           special_tokens_mask=ids < len(SPECIALS))
            sel = labels != -100
            lp = F.log_softmax(masked_logits(model, inputs, sel), -1)
            tgt = labels[sel]
            nll += -lp.gather(1, tgt.unsqueeze(1)).sum().item()
            correct += (lp.argmax(-1) == tgt).sum().item()
            count += tgt.numel()
            t = tgt.numpy()
            uni_nll += -np.log(unigram[t] + 1e-12).sum()
            uni_correct += (t == unigram.argmax()).sum()
    return {"accuracy": correct / count, "perplexity": math.exp(nll / count),
            "unigram_accuracy": uni_correct / count, "unigram_perplexity": math.exp(uni_nll / count),
            "masked_tokens": int(count)}


def fill_in(model, stoi, itos, sentence, seq_len):
    """The sentence with each [MASK] replaced by the model's three best words."""
    ids = [CLS]
    for k, piece in enumerate(sentence.split("[MASK]")):
        if k:
            ids.append(MASK)
        ids += [stoi.get(w, UNK) for w in tokenize(piece)]
    ids = (ids + [SEP])[:seq_len]
    with ss.no_grad():
        logits = model(ss.tensor([ids], dtype=ss.int64))[0].numpy()
    words = []
    for pos, i in enumerate(ids[1:-1], 1):
        if i == MASK:
            top = np.argsort(-logits[pos, len(SPECIALS):])[:3] + len(SPECIALS)  # never a special token
            words.append("[" + "/".join(itos[int(t)] for t in top) + "]")
        else:
            words.append(itos[i])
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000, help="optimizer steps")
    ap.add_argument("--batch-size", type=int, default=32, help="sequences per step")
    ap.add_argument("--seq-len", type=int, default=64, help="tokens per sequence ([CLS] included)")
    ap.add_argument("--vocab", type=int, default=5000, help="vocabulary size, special tokens included")
    ap.add_argument("--hidden", type=int, default=128, help="hidden size (intermediate size is 4x)")
    ap.add_argument("--layers", type=int, default=3, help="encoder layers")
    ap.add_argument("--heads", type=int, default=4, help="attention heads")
    ap.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate (linear warmup and decay)")
    ap.add_argument("--threads", type=int, default=2, help="threads for the library and BLAS")
    ap.add_argument("--seed", type=int, default=0, help="seeds weights, masks and batches")
    ap.add_argument("--out", default="out/bert_mlm", help="folder for loss.png and results.json")
    ap.add_argument("--short", action="store_true",
                    help="the test suite's quick run: 150 steps, a smaller model, 200 held-out sequences")
    args = ap.parse_args()
    if args.short:
        args.steps, args.hidden, args.layers, args.vocab = 150, 64, 2, 2000
    wall0 = time.time()
    ss.set_num_threads(args.threads)
    ss.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    itos, stoi, train, test, unigram = build(read_fortunes(), args.vocab, args.seq_len)
    if args.short:
        test = test[:200]
    vocab = len(itos)
    print(f"fortunes: {len(train)} training and {len(test)} held-out sequences of {args.seq_len} tokens; "
          f"vocabulary {vocab}")
    model = nn.BertForMaskedLM(vocab_size=vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                               num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                               max_position_embeddings=args.seq_len, hidden_dropout_prob=0.1,
                               attention_probs_dropout_prob=0.1)
    opt = ss.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, args.steps // 20)
    sched = ss.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (args.steps - s) / max(1, args.steps - warm)))
    rng = np.random.default_rng(args.seed)
    losses = []
    try:
        from tqdm import tqdm
        bar = tqdm(range(args.steps), desc="pretraining", dynamic_ncols=True, mininterval=0.5)
    except ImportError:
        bar = range(args.steps)
    t0 = time.time()
    for step in bar:
        model.train()
        ids = ss.from_numpy(train[rng.integers(0, len(train), args.batch_size)])
        inputs, labels = F.mask_tokens(ids, mask_token_id=MASK, vocab_size=vocab, mlm_probability=0.15,
                                       special_tokens_mask=ids < len(SPECIALS))
        sel = labels != -100
        # The same loss as cross_entropy(model(inputs), labels, ignore_index=-100), without
        # scoring the 85% of positions that are ignored anyway.
        loss = F.cross_entropy(masked_logits(model, inputs, sel), labels[sel])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if hasattr(bar, "set_postfix") and step % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}",
                            tok_s=f"{(step + 1) * args.batch_size * args.seq_len / (time.time() - t0):.0f}")
    secs = time.time() - t0
    r = evaluate(model, test, unigram, vocab, 64)
    print(f"held-out masked tokens ({r['masked_tokens']}): accuracy {100 * r['accuracy']:.1f}% "
          f"(unigram {100 * r['unigram_accuracy']:.1f}%), perplexity {r['perplexity']:.1f} "
          f"(unigram {r['unigram_perplexity']:.1f}); {secs:.0f} s of training")
    model.eval()
    fills = [fill_in(model, stoi, itos, s, args.seq_len) for s in EXAMPLES]
    for s, f in zip(EXAMPLES, fills):
        print(f"  {s}\n    -> {f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.5))
        k = max(1, len(losses) // 100)
        ax.plot(np.convolve(losses, np.ones(k) / k, mode="valid"), label="masked-LM loss")
        ax.axhline(math.log(r["unigram_perplexity"]), color="C1", ls="--", label="unigram baseline (held out)")
        ax.set_xlabel("step"), ax.set_ylabel("cross-entropy (nats)"), ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "loss.png"), dpi=120)
        plt.close(fig)
    except ImportError:
        print("matplotlib not installed: no figure")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({**r, "seconds": secs, "wall_seconds": time.time() - wall0, "args": vars(args), "first_loss": losses[0],
                   "final_loss": float(np.mean(losses[-20:])), "fill_in": dict(zip(EXAMPLES, fills))}, f, indent=1)
    return {**r, "losses": losses}


if __name__ == "__main__":
    main()
