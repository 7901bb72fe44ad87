"""Train a two-layer MLP on the 8x8 handwritten digits with plain shanshui.

Everything is tensors + autograd: the layers are matmuls, the loss is
log_softmax + gather, and Adam is written out by hand under ss.no_grad()
(the nn and optim packages come later). Run it with `make demo`, or:

    PYTHONPATH=python python3 examples/digits_mlp.py

The data is the 1797-image digits set that scikit-learn ships as
sklearn/datasets/data/digits.csv.gz; it is read straight from that file.
"""
import argparse
import gzip
import importlib.util
import os
import sys
import time

import numpy as np

import shanshui as ss


def find_digits_csv():
    candidates = []
    spec = importlib.util.find_spec("sklearn")  # locate the package without importing it
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates.append(os.path.join(loc, "datasets", "data", "digits.csv.gz"))
    # Debian's python3-sklearn, for a system Python.
    candidates.append("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz")
    for path in candidates:
        if os.path.exists(path):
            return path
    sys.exit("digits_mlp: digits.csv.gz not found; install scikit-learn (pip install scikit-learn)")


def load_digits():
    with gzip.open(find_digits_csv(), "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float64)
    x = (data[:, :-1] / 16.0).astype(np.float32)  # pixels are 0..16
    y = data[:, -1].astype(np.int64)
    return x, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="ss.set_num_threads (small matmuls: 1 is fastest)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ss.manual_seed(args.seed)
    ss.set_num_threads(args.threads)

    # Fixed-seed 80/20 train/test split.
    x_np, y_np = load_digits()
    order = np.random.default_rng(args.seed).permutation(len(x_np))
    n_test = len(x_np) // 5
    test_idx, train_idx = order[:n_test], order[n_test:]
    x_train, y_train = ss.from_numpy(x_np[train_idx]), ss.from_numpy(y_np[train_idx])
    x_test, y_test = ss.from_numpy(x_np[test_idx]), ss.from_numpy(y_np[test_idx])
    n_train = x_train.shape[0]
    print(f"digits: {n_train} train / {x_test.shape[0]} test images of 8x8, 10 classes")

    # 64 -> hidden -> 10, He-style initialisation.
    def init(fan_in, fan_out):
        return (ss.randn(fan_in, fan_out) * (2.0 / fan_in) ** 0.5).requires_grad_()

    w1, b1 = init(64, args.hidden), ss.zeros(args.hidden, requires_grad=True)
    w2, b2 = init(args.hidden, 10), ss.zeros(10, requires_grad=True)
    params = [w1, b1, w2, b2]

    def forward(x):
        return (x @ w1 + b1).relu() @ w2 + b2

    # Adam, by hand: m and v are running means of the gradient and its square.
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    m = [ss.zeros_like(p) for p in params]
    v = [ss.zeros_like(p) for p in params]
    step = 0

    def accuracy(x, y):
        with ss.no_grad():
            return (forward(x).argmax(dim=1) == y).float().mean().item()

    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = ss.randperm(n_train)
        total_loss = 0.0
        for start in range(0, n_train, args.batch_size):
            idx = perm[start:start + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            # Cross-entropy: minus the mean log-probability of the true class.
            logp = forward(xb).log_softmax(dim=1)
            loss = -logp.gather(1, yb.unsqueeze(1)).mean()
            for p in params:
                p.grad = None
            loss.backward()

            step += 1
            with ss.no_grad():
                for p, mi, vi in zip(params, m, v):
                    g = p.grad
                    mi.mul_(beta1).add_(g * (1 - beta1))
                    vi.mul_(beta2).add_(g * g * (1 - beta2))
                    m_hat = mi / (1 - beta1 ** step)
                    v_hat = vi / (1 - beta2 ** step)
                    p.sub_(m_hat / (v_hat.sqrt() + eps) * args.lr)
            total_loss += loss.item() * xb.shape[0]
        elapsed = time.perf_counter() - t0
        print(f"epoch {epoch:3d}/{args.epochs}  loss {total_loss / n_train:.4f}  "
              f"train acc {accuracy(x_train, y_train):.4f}  test acc {accuracy(x_test, y_test):.4f}  "
              f"{n_train / elapsed:,.0f} samples/s", flush=True)

    acc = accuracy(x_test, y_test)
    print(f"final test accuracy: {acc * 100:.2f}%")
    return 0 if acc >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
