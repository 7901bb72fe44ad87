"""Graphs for the node classification demo (examples/gat_cora.py).

- load_graph(path): Cora from cora.safetensors or from the original Planetoid files
  (ind.cora.{x,y,tx,ty,allx,ally,graph,test.index}; see ../shared/data/README.md).
- make_csbm(): a contextual stochastic block model, so the demo runs without data.

Every loader returns a dict of numpy arrays: x float32 [N, F] (rows normalised
to sum 1, as the GAT and GCN reference code's preprocess_features), y int64 [N],
edge_index int64 [2, E] (both directions, no self loops, sorted by source then
target), train / val / test int64 node indices, name and classes.
"""
import os
import pickle

import numpy as np

SPLITS = ("train", "val", "test")


def _normalise_rows(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(x.sum(1, keepdims=True), 1.0)


def _coalesce(src, dst, n):
    """Both directions, self loops dropped, duplicates merged, sorted (torch_geometric's to_undirected)."""
    src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = src != dst
    key = np.unique(src[keep].astype(np.int64) * n + dst[keep])
    return np.stack([key // n, key % n]).astype(np.int64)


def load_safetensors_graph(path):
    import shanshui as ss  # the library's own safetensors reader
    t = {k: v.numpy() for k, v in ss.load(path).items()}
    missing = [k for k in ("x", "y", "edge_index", "train_idx", "val_idx", "test_idx") if k not in t]
    if missing:
        raise SystemExit(f"gat_cora: {path} lacks the tensors {missing}")
    g = {"x": _normalise_rows(t["x"]), "y": t["y"].astype(np.int64), "edge_index": t["edge_index"].astype(np.int64)}
    g.update({s: t[f"{s}_idx"].astype(np.int64) for s in SPLITS})
    return g


class _Unpickler(pickle.Unpickler):
    # The Planetoid pickles name scipy's old private modules (scipy.sparse.csr); their
    # classes live in scipy.sparse itself now.
    def find_class(self, module, name):
        if module.startswith("scipy.sparse."):
            module = "scipy.sparse"
        return super().find_class(module, name)


def load_planetoid(folder, name="cora"):
    """The split of Yang et al. (2016) as the GCN reference code (kipf/gcn utils.load_data) builds it."""
    parts = {}
    for key in ("x", "y", "tx", "ty", "allx", "ally", "graph"):
        with open(os.path.join(folder, f"ind.{name}.{key}"), "rb") as f:
            parts[key] = _Unpickler(f, encoding="latin1").load()
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)  # noqa: E731
    test_index = np.loadtxt(os.path.join(folder, f"ind.{name}.test.index"), dtype=np.int64)
    test_sorted = np.sort(test_index)
    tx, ty = dense(parts["tx"]), np.asarray(parts["ty"])
    # Citeseer has test ids with no node in tx (isolated nodes): pad them with zero rows.
    span = test_sorted[-1] - test_sorted[0] + 1
    if span != len(test_sorted):
        tx_full, ty_full = np.zeros((span, tx.shape[1]), tx.dtype), np.zeros((span, ty.shape[1]), ty.dtype)
        tx_full[test_sorted - test_sorted[0]], ty_full[test_sorted - test_sorted[0]] = tx, ty
        tx, ty = tx_full, ty_full
    x = np.vstack([dense(parts["allx"]), tx])
    labels = np.vstack([np.asarray(parts["ally"]), ty])
    # The test rows come in the order of test.index: put each at its node id.
    x[test_index], labels[test_index] = x[test_sorted], labels[test_sorted]
    n_train = np.asarray(parts["y"]).shape[0]
    src = np.array([s for s, nbrs in parts["graph"].items() for _ in nbrs], dtype=np.int64)
    dst = np.array([d for nbrs in parts["graph"].values() for d in nbrs], dtype=np.int64)
    return {"x": _normalise_rows(x), "y": labels.argmax(1).astype(np.int64), "edge_index": _coalesce(src, dst, len(x)),
            "train": np.arange(n_train), "val": np.arange(n_train, n_train + 500), "test": test_sorted}


def load_graph(path, fmt="auto"):
    """path: a cora.safetensors file, or a folder holding it or the ind.cora.* files.
    fmt: "safetensors", "planetoid" or "auto" (the safetensors file when the folder has one)."""
    if not os.path.exists(path):
        raise SystemExit(f"gat_cora: {path} does not exist")
    if os.path.isfile(path):
        if fmt == "planetoid":
            raise SystemExit(f"gat_cora: --format planetoid wants the folder of the ind.cora.* files, got {path}")
        g = load_safetensors_graph(path)
    else:
        st = os.path.join(path, "cora.safetensors")
        has_planetoid = os.path.exists(os.path.join(path, "ind.cora.graph"))
        if fmt == "safetensors" or (fmt == "auto" and os.path.exists(st)):
            g = load_safetensors_graph(st)
        elif has_planetoid and fmt in ("auto", "planetoid"):
            g = load_planetoid(path)
        else:
            raise SystemExit(f"gat_cora: {path} holds neither cora.safetensors nor ind.cora.* files")
    g["name"], g["classes"] = "Cora", int(g["y"].max()) + 1
    return g


def make_csbm(nodes=1500, classes=5, feats=200, avg_degree=6, p_in=0.8, seed=0):
    """Contextual SBM: an edge stays inside its community with probability p_in; features are a
    faint community signature under unit noise, so neither the graph nor the features alone
    give the labels away. 20 training nodes per class, 300 validation, 500 test."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, nodes)
    src = rng.integers(0, nodes, nodes * avg_degree // 2)
    by_class = [np.flatnonzero(y == c) for c in range(classes)]
    inside = np.array([rng.choice(by_class[y[s]]) for s in src])
    dst = np.where(rng.random(src.size) < p_in, inside, rng.integers(0, nodes, src.size))
    centers = rng.normal(0, 1, (classes, feats))
    # Scaled by 1/sqrt(feats) so rows have about unit norm, like the row-normalised Cora features.
    x = ((centers[y] * 0.1 + rng.normal(0, 1, (nodes, feats))) / np.sqrt(feats)).astype(np.float32)
    perm = rng.permutation(nodes)
    train = np.sort(np.concatenate([perm[y[perm] == c][:20] for c in range(classes)]))
    rest = rng.permutation(np.setdiff1d(perm, train))
    return {"x": x, "y": y.astype(np.int64), "edge_index": _coalesce(src, dst, nodes), "train": train,
            "val": np.sort(rest[:300]), "test": np.sort(rest[300:800]), "name": "generated CSBM", "classes": classes}
