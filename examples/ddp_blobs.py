"""Data-parallel training on MPI: an MLP classifies three Gaussian blobs.

Each rank trains on its own shard of every epoch (DistributedSampler) while
DistributedDataParallel averages the gradients, so every rank takes the same
steps and ends with the same weights as one process on the combined batches.

    mpirun -np 2 python3 examples/ddp_blobs.py    (as root: add --allow-run-as-root)
    python3 examples/ddp_blobs.py                 (one process: a group of one)

(with PYTHONPATH=python from a source checkout). Exits non-zero unless it
learns the blobs and the ranks agree.
"""
import math
import sys

import numpy as np

import shanshui as ss
import shanshui.distributed as dist
from shanshui.nn.parallel import DistributedDataParallel as DDP
from shanshui.utils.data import DistributedSampler


class MLP(ss.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = ss.nn.Linear(2, 32)
        self.fc2 = ss.nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(ss.tanh(self.fc1(x)))


def main():
    dist.init_process_group()  # the ranks come from mpirun
    rank, world = dist.get_rank(), dist.get_world_size()

    # The same data on every rank: 3 blobs of 200 points.
    rng = np.random.default_rng(0)
    labels = np.arange(600) % 3
    angle = labels * (2 * math.pi / 3)
    points = 2.0 * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.6 * rng.standard_normal((600, 2))
    x_all, y_all = ss.tensor(points.astype(np.float32)), ss.tensor(labels)

    ss.manual_seed(100 + rank)          # different initial weights on each rank...
    model = DDP(MLP())                  # ...replaced by rank 0's here
    opt = ss.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = ss.nn.CrossEntropyLoss()
    sampler = DistributedSampler(len(labels), shuffle=True, seed=0)
    batch = 32                          # per rank

    for epoch in range(10):
        sampler.set_epoch(epoch)        # a new shuffle, the same on every rank
        idx = list(sampler)
        total, steps = 0.0, 0
        for start in range(0, len(idx), batch):
            ix = ss.tensor(idx[start:start + batch])
            opt.zero_grad()
            loss = loss_fn(model(x_all.index_select(0, ix)), y_all.index_select(0, ix))
            loss.backward()             # gradients averaged across ranks here
            opt.step()
            total, steps = total + loss.item(), steps + 1
        mean = ss.tensor([total / steps], dtype=ss.float64)
        dist.all_reduce(mean, op=dist.ReduceOp.AVG)
        if rank == 0:
            print(f"epoch {epoch:2d}  loss {mean.item():.4f}  ({world} rank{'s' if world > 1 else ''})", flush=True)

    with ss.no_grad():
        ix = ss.tensor(list(DistributedSampler(len(labels), shuffle=False, drop_last=True)))
        pred = model(x_all.index_select(0, ix)).argmax(1)
        counts = ss.tensor([int((pred == y_all.index_select(0, ix)).sum().item()), len(ix)])
    dist.all_reduce(counts)             # exact on integers
    acc = counts[0].item() / counts[1].item()
    flat = ss.cat([p.detach().reshape(-1) for p in model.parameters()])
    gathered = []
    dist.all_gather(gathered, flat)
    same = all(ss.equal(g, gathered[0]) for g in gathered)
    if rank == 0:
        print(f"accuracy {acc:.3f} on {counts[1].item()} samples; weights identical on all ranks: "
              f"{'yes' if same else 'NO'}")
    return 0 if acc > 0.9 and same else 1


if __name__ == "__main__":
    sys.exit(main())
