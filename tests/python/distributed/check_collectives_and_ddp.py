"""Run on N ranks by tests/python/test_distributed.py (mpirun -np N python this.py).

Checks collectives, mismatch errors and DDP against a one-process reference;
exits non-zero (with a message) on the first failure, prints "OK rank r/N" at the end.
"""
import sys

import numpy as np

import shanshui as ss
import shanshui.distributed as dist
from shanshui.nn.parallel import DistributedDataParallel as DDP
from shanshui.utils.data import DistributedSampler


def check(cond, what):
    if not cond:
        print(f"FAIL rank {dist.get_rank()}: {what}", flush=True)
        sys.exit(1)


dist.init_process_group(backend="mpi")
r, w = dist.get_rank(), dist.get_world_size()

# all_reduce exact on integers (every op), MEAN on floats.
vals = [[(q + 1) * (i - 2) + 7 * q for i in range(6)] for q in range(w)]
for op, f in [(dist.ReduceOp.SUM, lambda c: sum(c)), (dist.ReduceOp.MAX, max), (dist.ReduceOp.MIN, min),
              (dist.ReduceOp.AVG, lambda c: sum(c) // w)]:
    t = ss.tensor(vals[r], dtype=ss.int64)
    dist.all_reduce(t, op=op)
    check(t.tolist() == [f([vals[q][i] for q in range(w)]) for i in range(6)], f"all_reduce {op}")
m = ss.full((3,), float(2 * r), dtype=ss.float64)
dist.all_reduce(m, op=dist.ReduceOp.AVG)
check(m.tolist() == [float(w - 1)] * 3, "all_reduce AVG float")

# broadcast and all_gather return what each rank sent.
for src in range(w):
    b = ss.arange(4).reshape(2, 2) + 10 * r
    dist.broadcast(b, src=src)
    check(b.tolist() == (ss.arange(4).reshape(2, 2) + 10 * src).tolist(), f"broadcast from {src}")
out = []
dist.all_gather(out, ss.full((2,), float(r)))
check([o.tolist() for o in out] == [[float(q)] * 2 for q in range(w)], "all_gather")
big = ss.zeros(2 * w)
dist.all_gather_into_tensor(big, ss.full((2,), float(r)))
check(big.tolist() == [float(q) for q in range(w) for _ in range(2)], "all_gather_into_tensor")

# Mismatched shapes raise on every rank (ValueError), and the group stays usable.
if w > 1:
    try:
        dist.all_reduce(ss.ones(2, 3) if r == 0 else ss.ones(3))
        check(False, "mismatched shapes did not raise")
    except ValueError as e:
        check("differ across ranks" in str(e), f"message: {e}")
dist.barrier()


# DDP: ranks on shards vs one process on the full batch, 20 SGD steps, float64.
class Net(ss.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = ss.nn.Linear(5, 16, dtype=ss.float64)
        self.fc2 = ss.nn.Linear(16, 3, dtype=ss.float64)

    def forward(self, x):
        return self.fc2(ss.tanh(self.fc1(x)))


def net(seed):
    ss.manual_seed(seed)
    return Net()


n = 12
rng = np.random.default_rng(0)
x = ss.tensor(rng.standard_normal((n, 5)), dtype=ss.float64)
y = ss.tensor(rng.standard_normal((n, 3)), dtype=ss.float64)
ref = net(7)
ref_opt = ss.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
model = DDP(net(7 if r == 0 else 100 + r), bucket_cap_mb=0.0005)
check(model.reducer.num_buckets > 1, "several buckets")
check(list(model.state_dict())[0].startswith("module."), "state_dict prefix")
opt = ss.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sampler = DistributedSampler(n, shuffle=False)
idx = ss.tensor(list(sampler), dtype=ss.int64)
xs, ys = x.index_select(0, idx), y.index_select(0, idx)
loss_fn = ss.nn.MSELoss()
for _ in range(20):
    ref_opt.zero_grad()
    loss_fn(ref(x), y).backward()
    ref_opt.step()
    opt.zero_grad()
    loss_fn(model(xs), ys).backward()
    opt.step()
for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
    diff = float((p - q).abs().max())
    check(diff < 1e-6, f"{name} differs from the one-process run by {diff}")
    got = []
    dist.all_gather(got, p.detach())
    check(all(ss.equal(g, got[0]) for g in got), f"{name} differs across ranks")
print(f"OK rank {r}/{w}", flush=True)
