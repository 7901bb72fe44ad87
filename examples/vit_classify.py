"""Vision Transformer image classification: Fashion-MNIST (the real 60k/10k) or the 8x8 digits.

    PYTHONPATH=python python3 examples/vit_classify.py                    # Fashion-MNIST
    PYTHONPATH=python python3 examples/vit_classify.py --dataset digits   # sklearn's 8x8 digits
    PYTHONPATH=python python3 examples/vit_classify.py --dataset digits --short   # the test suite's run

A ViT (patch embedding by a strided convolution, CLS token, learned position
embeddings, pre-LN encoder, final norm, linear head) trained with AdamW and a
warmup + cosine schedule. Fashion-MNIST comes from Debian's
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, idx files; its
README lists baselines, e.g. 88.3% for an MLP and 91.6% for two conv layers),
the digits from scikit-learn. Prints test accuracy and writes a confusion
matrix and attention-rollout maps (how much the CLS token draws on each patch,
through all layers; Abnar & Zuidema 2020) for a few test images to --out.
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import time

import numpy as np

import shanshui as ss
from shanshui import nn
from shanshui.nn import functional as F

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
DIGITS_MEAN_STD = (0.3053, 0.3760)  # of all 1797 images, pixels scaled to [0, 1]
FASHION_CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]

# Image size, patch, width, depth, heads, MLP ratio, epochs, batch, peak lr, dropout, and the largest random
# shift (pixels) of the light augmentation; examples/cpp/vit_classify.cpp uses the same numbers.
CONFIGS = {
    "fashion-mnist": dict(img=28, patch=7, dim=64, depth=4, heads=4, mlp_ratio=2.0, epochs=15, batch=64, lr=2e-3,
                          dropout=0.0, shift=0),
    "digits": dict(img=8, patch=2, dim=64, depth=3, heads=4, mlp_ratio=2.0, epochs=40, batch=32, lr=2e-3,
                   dropout=0.1, shift=0),
}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion():
    if not os.path.isdir(FASHION_DIR):
        raise SystemExit(f"vit_classify: {FASHION_DIR} not found; install Debian's dataset-fashion-mnist "
                         "(sudo apt-get install dataset-fashion-mnist) or use --dataset digits")
    def part(kind):
        x = read_idx(os.path.join(FASHION_DIR, f"{kind}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
        y = read_idx(os.path.join(FASHION_DIR, f"{kind}-labels-idx1-ubyte.gz")).astype(np.int64)
        return (x - 0.2860) / 0.3530, y  # the training set's mean and std
    (xtr, ytr), (xte, yte) = part("train"), part("t10k")
    return xtr[:, None], ytr, xte[:, None], yte, FASHION_CLASSES, -0.2860 / 0.3530


def load_digits():
    spec = importlib.util.find_spec("sklearn")
    path = None
    for loc in (spec.submodule_search_locations if spec else []):
        p = os.path.join(loc, "datasets", "data", "digits.csv.gz")
        if os.path.exists(p):
            path = p
    if path is None:
        raise SystemExit("vit_classify: digits.csv.gz not found; pip install scikit-learn")
    with gzip.open(path, "rt") as f:
        d = np.loadtxt(f, delimiter=",")
    x = (d[:, :-1].reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    y = d[:, -1].astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(y))
    tr, te = perm[:1437], perm[1437:]  # the usual 80/20 split
    mean, std = DIGITS_MEAN_STD
    return (x[tr] - mean) / std, y[tr], (x[te] - mean) / std, y[te], [str(i) for i in range(10)], -mean / std


def shift_batch(x, max_shift, fill, rng):
    """Move each image by a random (dy, dx) in [-max_shift, max_shift]^2; uncovered pixels get `fill`
    (the background). Light augmentation that keeps a small ViT from memorising a small training set."""
    if max_shift == 0:
        return x
    b, c, h, w = x.shape
    k = max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (k, k), (k, k)), constant_values=fill)
    off = rng.integers(0, 2 * k + 1, size=(b, 2))
    rows = off[:, 0, None] + np.arange(h)[None]  # [B, h]
    cols = off[:, 1, None] + np.arange(w)[None]  # [B, w]
    return np.ascontiguousarray(padded[np.arange(b)[:, None, None, None], np.arange(c)[None, :, None, None],
                                       rows[:, None, :, None], cols[:, None, None, :]])


def progress(iterable, total, desc):
    try:
        from tqdm import tqdm
        return tqdm(iterable, total=total, desc=desc, dynamic_ncols=True, mininterval=0.5)
    except ImportError:
        return iterable


def evaluate(model, x, y, batch=500):
    model.eval()
    preds = []
    with ss.no_grad():
        for i in range(0, len(x), batch):
            preds.append(model(ss.from_numpy(x[i:i + batch])).argmax(-1).numpy())
    p = np.concatenate(preds)
    return float((p == y).mean()), p


def rollout(attn_maps):
    """Attention rollout: average heads, add the residual (identity), renormalise, multiply through layers."""
    r = None
    for a in attn_maps:  # each [B, heads, N, N]
        a = a.mean(1)
        a = a + np.eye(a.shape[-1])[None]
        a = a / a.sum(-1, keepdims=True)
        r = a if r is None else a @ r
    return r[:, 0, 1:]  # CLS row, over the patches


def save_figures(out, cm, classes, images, maps, grid, losses):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figures")
        return
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "confusion_matrix.png"), dpi=120)
    plt.close(fig)
    fig, axes = plt.subplots(2, len(images), figsize=(2 * len(images), 4.2))
    for k, (img, m) in enumerate(zip(images, maps)):
        axes[0, k].imshow(img[0], cmap="gray")
        axes[1, k].imshow(img[0], cmap="gray")
        axes[1, k].imshow(np.kron(m.reshape(grid, grid), np.ones((img.shape[1] // grid,) * 2)), cmap="jet", alpha=0.5)
        axes[0, k].axis("off"), axes[1, k].axis("off")
    fig.suptitle("attention rollout from the CLS token")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "attention_rollout.png"), dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(losses)
    ax.set_xlabel("step"), ax.set_ylabel("training loss"), ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(CONFIGS), default="fashion-mnist")
    ap.add_argument("--epochs", type=int, default=None, help="default: per dataset")
    ap.add_argument("--threads", type=int, default=None, help="default: OMP_NUM_THREADS or all cores")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="default: out/vit_<dataset>")
    ap.add_argument("--short", action="store_true", help="quick run on a subset (the test suite's)")
    args = ap.parse_args()
    cfg = dict(CONFIGS[args.dataset])
    if args.epochs:
        cfg["epochs"] = args.epochs
    out = args.out or f"out/vit_{args.dataset}"
    os.makedirs(out, exist_ok=True)
    if args.threads:
        ss.set_num_threads(args.threads)
    ss.manual_seed(args.seed)
    xtr, ytr, xte, yte, classes, background = load_fashion() if args.dataset == "fashion-mnist" else load_digits()
    if args.short:  # the test suite's run: a subset of Fashion-MNIST, or all the digits for a few epochs
        xtr, ytr, xte, yte = xtr[:8000], ytr[:8000], xte[:1000], yte[:1000]
        cfg["epochs"] = 2 if args.dataset == "fashion-mnist" else 8
        cfg["batch"] = min(cfg["batch"], 64)  # more, smaller steps: early training gains more per image
    model = nn.ViT(img_size=cfg["img"], patch_size=cfg["patch"], in_chans=1, num_classes=len(classes),
                   embed_dim=cfg["dim"], depth=cfg["depth"], num_heads=cfg["heads"], mlp_ratio=cfg["mlp_ratio"],
                   dropout=cfg["dropout"])
    n_params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = math.ceil(len(xtr) / cfg["batch"])
    total = cfg["epochs"] * steps_per_epoch
    opt = ss.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.05)
    sched = ss.optim.lr_scheduler.WarmupCosineLR(opt, warmup_steps=max(1, total // 20), total_steps=total)
    print(f"{args.dataset}: {len(xtr)} train / {len(xte)} test images; ViT with {n_params} parameters, "
          f"{cfg['epochs']} epochs of {steps_per_epoch} steps")
    rng = np.random.default_rng(args.seed)
    losses = []
    t0 = time.time()
    for epoch in range(cfg["epochs"]):
        model.train()
        perm = rng.permutation(len(xtr))
        bar = progress(range(steps_per_epoch), steps_per_epoch, f"epoch {epoch + 1}/{cfg['epochs']}")
        for s in bar:
            idx = perm[s * cfg["batch"]:(s + 1) * cfg["batch"]]
            x = shift_batch(xtr[idx], cfg["shift"], background, rng)
            loss = F.cross_entropy(model(ss.from_numpy(x)), ss.from_numpy(ytr[idx]), label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if hasattr(bar, "set_postfix") and s % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}",
                                img_s=f"{len(losses) * cfg['batch'] / (time.time() - t0):.0f}")
        acc, _ = evaluate(model, xte, yte)
        print(f"epoch {epoch + 1}: loss {np.mean(losses[-steps_per_epoch:]):.3f}, test accuracy {100 * acc:.2f}%")
    secs = time.time() - t0
    acc, pred = evaluate(model, xte, yte)
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(cm, (yte, pred), 1)
    print(f"final test accuracy {100 * acc:.2f}% ({secs:.0f} s, {len(losses) * cfg['batch'] / secs:.0f} images/s)")
    model.eval()
    with ss.no_grad():
        _, attn = model(ss.from_numpy(xte[:6]), return_attention=True)
    maps = rollout([a.numpy() for a in attn])
    save_figures(out, cm, classes, xte[:6], maps, cfg["img"] // cfg["patch"], losses)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"dataset": args.dataset, "test_accuracy": acc, "parameters": n_params, "seconds": secs,
                   "config": cfg, "first_loss": losses[0], "final_loss": float(np.mean(losses[-20:])),
                   "confusion_matrix": cm.tolist()}, f, indent=1)
    return {"accuracy": acc, "losses": losses}


if __name__ == "__main__":
    main()
