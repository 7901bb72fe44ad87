"""shanshui.distributed: collectives across processes on MPI, as torch.distributed.

Launch one process per rank with ``mpirun -np N python train.py``; in each::

    import shanshui.distributed as dist
    dist.init_process_group()            # backend "mpi"; ranks come from mpirun
    t = ss.ones(3) * dist.get_rank()
    dist.all_reduce(t)                   # in place: the sum over ranks

A process not started by mpirun, or a build without MPI (``is_available()``
is False), is a group of one: rank 0 of 1, every collective a no-op that
still checks its arguments. Tensors of different shapes or dtypes across
ranks raise ``ValueError`` on every rank instead of hanging. Collectives are
blocking (``async_op=True`` is refused) and act on the default group only.
"""
from .._C import _distributed as _d

ReduceOp = _d.ReduceOp
is_available = _d.is_available
is_mpi_available = _d.is_mpi_available
init_process_group = _d.init_process_group
init = _d.init
is_initialized = _d.is_initialized
destroy_process_group = _d.destroy_process_group
get_rank = _d.get_rank
get_world_size = _d.get_world_size
get_backend = _d.get_backend
all_reduce = _d.all_reduce
broadcast = _d.broadcast
all_gather = _d.all_gather
all_gather_into_tensor = _d.all_gather_into_tensor
barrier = _d.barrier

__all__ = [
    "ReduceOp", "is_available", "is_mpi_available", "init_process_group", "init", "is_initialized",
    "destroy_process_group", "get_rank", "get_world_size", "get_backend", "all_reduce", "broadcast",
    "all_gather", "all_gather_into_tensor", "barrier",
]
