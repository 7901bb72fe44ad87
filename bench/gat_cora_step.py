"""W3 once: ms per GAT training step on a Cora-sized graph (2708 nodes, 10556 edges + loops,
1433 features, 8 heads x 8 hidden, 7 classes, dropout 0.6, Adam), shanshui vs PyG, same process."""
import time

import numpy as np
import torch
from torch_geometric.nn import GATConv

import shanshui as ss


def run(lib, steps=20):
    n, e, f = 2708, 10556, 1433
    rng = np.random.default_rng(0)
    x = (rng.random((n, f)) < 0.0127).astype(np.float32)
    ei = rng.integers(0, n, (2, e)).astype(np.int64)
    y = rng.integers(0, 7, n).astype(np.int64)
    if lib == "torch":
        T, nn, F, opt_cls = torch, torch.nn, torch.nn.functional, torch.optim.Adam
        X, EI, Y = torch.from_numpy(x), torch.from_numpy(ei), torch.from_numpy(y)
        c1, c2 = GATConv(f, 8, heads=8, dropout=0.6), GATConv(64, 7, heads=1, dropout=0.6)
    else:
        F, opt_cls = ss.nn.functional, ss.optim.Adam
        X, EI, Y = ss.from_numpy(x), ss.from_numpy(ei), ss.from_numpy(y)
        c1, c2 = ss.nn.GATConv(f, 8, heads=8, dropout=0.6), ss.nn.GATConv(64, 7, heads=1, dropout=0.6)
    params = list(c1.parameters()) + list(c2.parameters())
    opt = opt_cls(params, lr=0.005, weight_decay=5e-4)

    def step():
        opt.zero_grad()
        h = F.elu(c1(F.dropout(X, 0.6, True), EI))
        out = c2(F.dropout(h, 0.6, True), EI)
        F.cross_entropy(out, Y).backward()
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps * 1e3


if __name__ == "__main__":
    torch.set_num_threads(1)
    ss.set_num_threads(1)
    a, b = run("shanshui"), run("torch")
    print(f"GAT Cora-sized step (1 thread): shanshui {a:.1f} ms, PyG {b:.1f} ms, ratio {a / b:.2f}")
