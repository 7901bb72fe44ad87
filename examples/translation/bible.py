"""English -> Spanish verse pairs from Debian's SWORD Bibles (real data for the demo).

The World English Bible (sword-text-web, module engWEB2015eb) and the Reina-Valera
1909 (sword-text-sparv, module spaRV1909eb), both public domain, are exported with
diatheke and aligned by verse reference (about 31,000 pairs). Words are lowercased
and split from punctuation; rare words become <unk>.
"""
import collections
import re
import shutil
import subprocess

import numpy as np

MODULES = {"en": "engWEB2015eb", "es": "spaRV1909eb"}
WHOLE_BIBLE = "Genesis 1:1-Revelation 22:21"
# "Genesis 1:1: text", "II Kings 3:4: text", "Esther (Greek) 1:1: text", possibly after markup.
_REF = re.compile(r"((?:I{1,3} |IV )?[A-Z][A-Za-z ()]*? \d+:\d+): ?(.*)$")
_TAG = re.compile(r"<[^>]*>")
_TOKEN = re.compile(r"\w+|[^\w\s]")
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"


def export(module, key=WHOLE_BIBLE):
    """{reference: verse text} of a SWORD module, through diatheke."""
    if shutil.which("diatheke") is None:
        raise RuntimeError("diatheke not found: install the Debian packages diatheke sword-text-web sword-text-sparv")
    out = subprocess.run(["diatheke", "-b", module, "-f", "plain", "-k", key], capture_output=True, text=True,
                         check=True).stdout
    verses, ref = {}, None
    for line in out.splitlines():
        m = _REF.search(line)
        if m:
            ref = m.group(1).strip()
            verses[ref] = m.group(2)
        elif ref is not None and line.strip() and line.strip() != f"({module})":
            verses[ref] += " " + line.strip()  # poetry: a verse over several lines
    if not verses:
        raise RuntimeError(f"diatheke returned no verses for module {module} (is its sword-text package installed?)")
    return {r: _TAG.sub(" ", v) for r, v in verses.items()}


def tokenize(text):
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


class Vocab:
    def __init__(self, sentences, size):
        counts = collections.Counter(w for s in sentences for w in s)
        self.itos = [PAD, BOS, EOS, UNK] + [w for w, _ in counts.most_common(size - 4)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, words):
        return [self.stoi.get(w, 3) for w in words]

    def decode(self, ids):
        out = []
        for i in ids:
            if i == 2:
                break
            if i > 2:
                out.append(self.itos[i])
        return out


def load_pairs(max_words=24, seed=0):
    """Tokenized (english, spanish) verse pairs with at most max_words tokens each, shuffled."""
    en, es = export(MODULES["en"]), export(MODULES["es"])
    pairs = []
    for ref in sorted(en.keys() & es.keys()):
        a, b = tokenize(en[ref]), tokenize(es[ref])
        if 0 < len(a) <= max_words and 0 < len(b) <= max_words:
            pairs.append((a, b))
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in rng.permutation(len(pairs))]


def encode_batch(pairs, src_vocab, tgt_vocab):
    """Padded arrays: src [B, S], tgt [B, T] (<bos> words <eos>)."""
    src = [src_vocab.encode(a) for a, _ in pairs]
    tgt = [[1] + tgt_vocab.encode(b) + [2] for _, b in pairs]
    src_a = np.zeros((len(pairs), max(map(len, src))), dtype=np.int64)
    tgt_a = np.zeros((len(pairs), max(map(len, tgt))), dtype=np.int64)
    for i, (s, t) in enumerate(zip(src, tgt)):
        src_a[i, :len(s)] = s
        tgt_a[i, :len(t)] = t
    return src_a, tgt_a
