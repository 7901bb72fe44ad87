"""shanshui.distributed, DistributedDataParallel and DistributedSampler.

The multi-process checks run tests/python/distributed/check_collectives_and_ddp.py
under `mpirun -np 2` and `-np 3` (each run bounded by a timeout); the rest run
in this process, a group of one.
"""
import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.utils.data

import shanshui as ss
import shanshui.distributed as dist
from shanshui.nn.parallel import DistributedDataParallel as DDP
from shanshui.utils.data import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MPIRUN = shutil.which("mpirun")


def mpi_env():
    env = dict(os.environ)
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1", OMPI_MCA_mpi_yield_when_idle="1",
               PYTHONPATH=os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", ""))
    return env


@pytest.mark.skipif(not dist.is_available() or MPIRUN is None, reason="shanshui built without MPI, or no mpirun")
@pytest.mark.parametrize("np_", [2, 3])
def test_collectives_and_ddp_under_mpirun(np_):
    script = os.path.join(HERE, "distributed", "check_collectives_and_ddp.py")
    p = subprocess.run(["timeout", "-k", "10", "120", MPIRUN, "-np", str(np_), sys.executable, script],
                       env=mpi_env(), capture_output=True, text=True, timeout=150)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    for r in range(np_):
        assert f"OK rank {r}/{np_}" in out, out


def test_group_of_one():
    dist.init_process_group()
    dist.init()  # idempotent
    assert dist.is_initialized()
    assert dist.get_rank() == 0 and dist.get_world_size() == 1
    t = ss.tensor([1, -3, 5])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT, dist.ReduceOp.AVG):
        dist.all_reduce(t, op=op)
        assert t.tolist() == [1, -3, 5]
    out = []
    dist.all_gather(out, t)
    assert len(out) == 1 and out[0].tolist() == [1, -3, 5]
    dist.broadcast(t, src=0)
    dist.barrier()
    with pytest.raises(ValueError, match="src 1"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="output_tensor has shape"):
        dist.all_gather_into_tensor(ss.zeros(5), ss.zeros(2))
    with pytest.raises(TypeError, match="bool"):
        dist.all_reduce(ss.tensor([True]), op=dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="async_op"):
        dist.all_reduce(t, async_op=True)
    with pytest.raises(ValueError, match="backend 'nccl'"):
        dist.init_process_group(backend="nccl")
    with pytest.raises(ValueError, match="world_size=4"):
        dist.init_process_group(world_size=4)


def test_non_contiguous_all_reduce_writes_through_the_view():
    dist.init_process_group()
    base = ss.arange(12, dtype=ss.float64).reshape(3, 4)
    view = base.t()
    dist.all_reduce(view, op=dist.ReduceOp.AVG)
    assert base.tolist() == ss.arange(12, dtype=ss.float64).reshape(3, 4).tolist()


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False), (12, 4, False),
                                                  (7, 2, True), (0, 2, False)])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(list(range(n)), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ref = torch.utils.data.DistributedSampler(list(range(n)), num_replicas=replicas, rank=rank, shuffle=False,
                                                  drop_last=drop_last)
        assert list(ours) == list(ref)
        assert len(ours) == len(ref) and ours.total_size == ref.total_size


def test_sampler_shuffle_is_seeded_per_epoch_and_shards_cover_the_data():
    def shards(epoch, seed=3):
        out = []
        for rank in range(3):
            s = DistributedSampler(20, num_replicas=3, rank=rank, seed=seed)
            s.set_epoch(epoch)
            out.append(list(s))
        return out
    e0, e1 = shards(0), shards(1)
    assert e0 == shards(0) and e0 != e1
    assert all(len(s) == 7 for s in e0)
    flat = [i for s in e0 for i in s]
    assert set(flat) == set(range(20)) and len(flat) == 21  # one index of padding
    with pytest.raises(ValueError, match="invalid rank 3"):
        DistributedSampler(10, num_replicas=3, rank=3)


def test_post_accumulate_grad_hook_as_torch():
    seen, ref_seen = [], []
    p = ss.ones(3, dtype=ss.float64, requires_grad=True)
    q = torch.ones(3, dtype=torch.float64, requires_grad=True)
    h = p.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    q.register_post_accumulate_grad_hook(lambda t: ref_seen.append(t.grad.tolist()))
    for k in (2.0, 3.0):
        (p * k).sum().backward()
        (q * k).sum().backward()
    assert seen == ref_seen
    h.remove()
    p.sum().backward()
    assert len(seen) == 2


class Net(ss.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ss.nn.Linear(3, 2, dtype=ss.float64)
        self.register_buffer("scale", ss.ones(1, dtype=ss.float64))

    def forward(self, x, shift=0.0):
        return self.fc(x) * self.scale + shift


def test_ddp_behaves_as_the_wrapped_module():
    dist.init_process_group()
    inner = Net()
    model = DDP(inner)
    assert model.module is inner
    assert list(model.state_dict()) == ["module." + k for k in inner.state_dict()]
    assert [n for n, _ in model.named_parameters()] == ["module.fc.weight", "module.fc.bias"]
    x = ss.randn(4, 3, dtype=ss.float64)
    assert ss.equal(model(x, shift=1.0), inner(x, shift=1.0))  # args and kwargs reach forward
    model.load_state_dict(model.state_dict())
    with model.no_sync():
        assert not model.require_backward_grad_sync
        model(x).sum().backward()
    assert model.require_backward_grad_sync
    assert model.reducer.num_reductions == 0
    model(x).sum().backward()
    assert model.reducer.num_reductions == model.reducer.num_buckets
    with pytest.raises(TypeError, match="Module"):
        DDP(object())
    with pytest.raises(ValueError, match="device_ids"):
        DDP(Net(), device_ids=[0])


@pytest.mark.skipif(not dist.is_available() or MPIRUN is None, reason="shanshui built without MPI, or no mpirun")
def test_example_ddp_blobs_under_mpirun():
    script = os.path.join(ROOT, "examples", "ddp_blobs.py")
    p = subprocess.run(["timeout", "-k", "10", "120", MPIRUN, "-np", "2", sys.executable, script],
                       env=mpi_env(), capture_output=True, text=True, timeout=150)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "weights identical on all ranks: yes" in out and "(2 ranks)" in out, out
