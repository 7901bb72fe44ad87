"""The reference workloads W1-W5 of DESIGN.md, written once for any torch-shaped library.

Each ``make_<id>(lib, tiny)`` builds the model and data with ``lib`` (``torch`` or
``shanshui``: the same code runs on both, which doubles as a check that our API is
torch-shaped) and returns a :class:`Workload`: a ``step()`` callable (one training
step or one forward), the model FLOPs of one step, and what one step processes
(``items`` of ``unit``) for the rate column.

FLOP counts are analytic (2 per multiply-add), forward only for inference
workloads and 3x forward for training steps (backward = 2x forward), so the
"fraction of sgemm" column compares like with like across libraries.
"""
from dataclasses import dataclass
from typing import Callable


@dataclass
class Workload:
    step: Callable[[], None]
    flops: float      # model FLOPs per step
    items: float      # items processed per step (tokens, images, ...)
    unit: str         # what the items are ("tok", "img", "step")


class Unavailable(Exception):
    """The library lacks a piece the workload needs (reported as n/a, never faked)."""


def _need(obj, *names):
    for n in names:
        if not hasattr(obj, n):
            raise Unavailable(f"{getattr(obj, '__name__', obj)} has no {n}")
        obj = getattr(obj, n)
    return obj


def _transformer_layer_flops(d, ff, t_q, t_k, cross=False):
    """Forward FLOPs per query token of one Transformer layer."""
    attn = 2 * 4 * d * d + 2 * 2 * t_k * d          # q,k,v,out projections + QK^T and AV
    if cross:
        attn *= 2
    return attn + 2 * 2 * d * ff


# ---- W1: Transformer encoder-decoder training step ---------------------------------------------
def make_W1(lib, tiny=False):
    nn = _need(lib, "nn")
    _need(nn, "Transformer")
    _need(lib, "optim", "Adam")
    vocab, d, heads, ff, layers, batch, t = (1000, 256, 8, 1024, 3, 32, 32) if not tiny else (50, 16, 2, 32, 1, 2, 5)
    lib.manual_seed(0)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb = nn.Embedding(vocab, d)
            self.tgt_emb = nn.Embedding(vocab, d)
            self.transformer = nn.Transformer(d, heads, layers, layers, ff, dropout=0.1, batch_first=True)
            self.generator = nn.Linear(d, vocab)

        def forward(self, src, tgt, tgt_mask):
            h = self.transformer(self.src_emb(src), self.tgt_emb(tgt), tgt_mask=tgt_mask)
            return self.generator(h)

    model = Seq2Seq()
    opt = lib.optim.Adam(model.parameters(), lr=1e-4)
    src = lib.randint(0, vocab, (batch, t))
    tgt = lib.randint(0, vocab, (batch, t + 1))
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:].reshape(-1)
    mask = nn.Transformer.generate_square_subsequent_mask(t)
    F = nn.functional

    def step():
        opt.zero_grad()
        logits = model(src, tgt_in, mask)
        loss = F.cross_entropy(logits.reshape(-1, vocab), tgt_out)
        loss.backward()
        opt.step()

    per_tok = layers * _transformer_layer_flops(d, ff, t, t) + layers * _transformer_layer_flops(d, ff, t, t, True)
    per_tok += 2 * d * vocab
    return Workload(step, 3.0 * per_tok * batch * t, batch * t, "tok")


# ---- W2: ViT training step -------------------------------------------------------------------------
def make_W2(lib, tiny=False):
    """The ViT is spelled out from generic layers (strided Conv2d patch embedding, pre-LN GELU
    TransformerEncoderLayer), so PyTorch, which has no ViT class, runs the very same architecture."""
    nn = _need(lib, "nn")
    _need(nn, "Conv2d")
    _need(nn, "TransformerEncoderLayer")
    _need(lib, "optim", "AdamW")
    img, patch, d, depth, heads, mlp, batch, classes = (32, 4, 192, 6, 3, 768, 64, 10) if not tiny else \
        (8, 4, 12, 1, 2, 24, 2, 10)
    n = (img // patch) ** 2 + 1
    lib.manual_seed(0)

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, d, patch, stride=patch)
            self.cls_token = nn.Parameter(lib.zeros(1, 1, d))
            self.pos_embed = nn.Parameter(0.02 * lib.randn(1, n, d))
            self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(d, heads, mlp, dropout=0.0, activation="gelu",
                                                                    batch_first=True, norm_first=True)
                                         for _ in range(depth)])
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, classes)

        def forward(self, x):
            x = self.patch_embed(x).flatten(2).transpose(1, 2)
            x = lib.cat([self.cls_token.expand(x.shape[0], 1, d), x], 1) + self.pos_embed
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.norm(x[:, 0]))

    model = ViT()
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
    x = lib.randn(batch, 3, img, img)
    y = lib.randint(0, classes, (batch,))
    F = nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    per_img = depth * n * _transformer_layer_flops(d, mlp, n, n) + 2 * (n - 1) * 3 * patch * patch * d
    return Workload(step, 3.0 * per_img * batch, batch, "img")


# ---- W1g, W2g: the GEMMs of a W1 / W2 step alone ----------------------------------------------------
# Every linear layer's three products (forward Y = X W^T, input gradient G W, weight
# gradient G^T X) at the step's shapes, through plain matmul: how fast each library's
# BLAS (ours OpenBLAS, PyTorch's MKL) runs the part of the step that no fusion changes.
def _linear_shapes_W1(tiny):
    vocab, d, ff, layers, rows = (1000, 256, 1024, 3, 32 * 32) if not tiny else (50, 16, 32, 1, 10)
    enc = [(rows, d, 3 * d), (rows, d, d), (rows, d, ff), (rows, ff, d)]
    dec = [(rows, d, 3 * d), (rows, d, d), (rows, d, d), (rows, d, 2 * d), (rows, d, d), (rows, d, ff), (rows, ff, d)]
    return enc * layers + dec * layers + [(rows, d, vocab)]


def _linear_shapes_W2(tiny):
    d, depth, mlp, batch, n, patch = (192, 6, 768, 64, 65, 4) if not tiny else (12, 1, 24, 2, 5, 4)
    rows = batch * n
    block = [(rows, d, 3 * d), (rows, d, d), (rows, d, mlp), (rows, mlp, d)]
    return [(batch * (n - 1), 3 * patch * patch, d)] + block * depth + [(batch, d, 10)]


def _gemm_replay(lib, shapes):
    lib.manual_seed(0)
    ops = [(lib.randn(m, k), lib.randn(n, k), lib.randn(m, n)) for m, k, n in shapes]

    def step():
        for x, w, g in ops:
            lib.matmul(x, w.t())       # forward
            lib.matmul(g, w)           # input gradient
            lib.matmul(g.t(), x)       # weight gradient

    return Workload(step, sum(3 * 2.0 * m * k * n for m, k, n in shapes), 1, "step")


def make_W1g(lib, tiny=False):
    return _gemm_replay(lib, _linear_shapes_W1(tiny))


def make_W2g(lib, tiny=False):
    return _gemm_replay(lib, _linear_shapes_W2(tiny))


# ---- W3: GAT training step on a Cora-sized graph ------------------------------------------------
def make_W3(lib, tiny=False):
    nodes, edges, feats, heads, hidden, classes = (2708, 10556, 1433, 8, 8, 7) if not tiny else (20, 60, 10, 2, 3, 3)
    lib.manual_seed(0)
    if lib.__name__ == "torch":
        try:
            from torch_geometric.nn import GATConv
        except ImportError as e:
            raise Unavailable(f"torch_geometric: {e}") from None
    else:
        GATConv = _need(lib, "nn", "GATConv")
    nn = lib.nn
    F = nn.functional

    class GAT(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = GATConv(feats, hidden, heads=heads, dropout=0.6)
            self.conv2 = GATConv(hidden * heads, classes, heads=1, concat=False, dropout=0.6)

        def forward(self, x, edge_index):
            x = F.dropout(x, 0.6, self.training)
            x = F.elu(self.conv1(x, edge_index))
            x = F.dropout(x, 0.6, self.training)
            return self.conv2(x, edge_index)

    model = GAT()
    opt = lib.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
    x = (lib.rand(nodes, feats) < 0.01).to(lib.float32)
    edge_index = lib.randint(0, nodes, (2, edges))
    y = lib.randint(0, classes, (nodes,))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x, edge_index), y)
        loss.backward()
        opt.step()

    flops = 2 * nodes * feats * heads * hidden + 2 * nodes * heads * hidden * classes
    return Workload(step, 3.0 * flops, 1, "step")


# ---- W4: multi-head attention forward, inference, batch 1 ------------------------------------
def make_W4(lib, tiny=False):
    MHA = _need(lib, "nn", "MultiheadAttention")
    length, d, heads = (128, 512, 8) if not tiny else (4, 8, 2)
    lib.manual_seed(0)
    mha = MHA(d, heads, batch_first=True)
    mha.eval()
    x = lib.randn(1, length, d)

    def step():
        with lib.no_grad():
            mha(x, x, x, need_weights=False)

    return Workload(step, 2 * length * 4 * d * d + 2 * 2 * length * length * d, 1, "call")


# ---- W5: scaled dot-product attention forward + backward, causal ----------------------------------
def _sdpa_step(lib, sdpa, tiny):
    b, h, t, dh = (4, 8, 1024, 64) if not tiny else (1, 2, 8, 4)
    lib.manual_seed(0)
    q, k, v = (lib.randn(b, h, t, dh, requires_grad=True) for _ in range(3))
    g = lib.randn(b, h, t, dh)

    def step():
        for p in (q, k, v):
            p.grad = None
        sdpa(q, k, v).backward(g)

    fwd = 2 * 2 * b * h * t * t * dh / 2  # causal: half the score matrix
    return Workload(step, 3.0 * fwd, 1, "step")


def make_W5(lib, tiny=False):
    sdpa = _need(lib, "nn", "functional", "scaled_dot_product_attention")
    return _sdpa_step(lib, lambda q, k, v: sdpa(q, k, v, is_causal=True), tiny)


# W5u: the same through the unfused composite path (QK^T, softmax, AV with the T x T
# matrices materialised), each library's own: the yardstick of W5's fused >= 1.5x goal.
def make_W5u(lib, tiny=False):
    if lib.__name__ == "torch":
        math = lib.ops.aten._scaled_dot_product_attention_math
        return _sdpa_step(lib, lambda q, k, v: math(q, k, v, is_causal=True)[0], tiny)
    math = _need(lib, "nn", "functional", "_scaled_dot_product_attention_math")
    return _sdpa_step(lib, lambda q, k, v: math(q, k, v, is_causal=True), tiny)


# ---- the sgemm rate everything is measured against -------------------------------------------------
def make_SGEMM(lib, tiny=False):
    n = 1024 if not tiny else 32
    lib.manual_seed(0)
    a, b = lib.randn(n, n), lib.randn(n, n)

    def step():
        lib.matmul(a, b)

    return Workload(step, 2.0 * n ** 3, 1, "call")


WORKLOADS = {
    "W1": ("Transformer enc-dec training step (d 256, 3+3 layers, batch 32x32 tokens, Adam)", make_W1),
    "W2": ("ViT training step (32x32, patch 4, d 192, depth 6, batch 64, AdamW)", make_W2),
    "W1g": ("the GEMMs of a W1 step alone (each linear layer: forward, input and weight gradients)", make_W1g),
    "W2g": ("the GEMMs of a W2 step alone (each linear layer: forward, input and weight gradients)", make_W2g),
    "W3": ("GAT training step, Cora-sized graph (8x8 heads, Adam)", make_W3),
    "W4": ("MultiheadAttention forward, batch 1, L 128, d 512, 8 heads", make_W4),
    "W5": ("SDPA forward+backward, B 4, H 8, T 1024, D 64, causal", make_W5),
    "W5u": ("W5 through the unfused path (T x T scores materialised)", make_W5u),
    "SGEMM": ("sgemm 1024^3 float32 (the reference rate)", make_SGEMM),
}
