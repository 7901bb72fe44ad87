"""DistributedDataParallel: data-parallel training across MPI ranks (torch.nn.parallel.DistributedDataParallel).

    import shanshui.distributed as dist
    from shanshui.nn.parallel import DistributedDataParallel as DDP
    from shanshui.utils.data import DistributedSampler

    dist.init_process_group()
    model = DDP(MyNet())                     # every rank starts from rank 0's weights
    sampler = DistributedSampler(len(data))  # this rank's shard
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in batches(data, sampler):
            opt.zero_grad()
            loss_fn(model(x), y).backward()  # gradients averaged across ranks here
            opt.step()

Launch with ``mpirun -np 2 python train.py``. The gradient averaging is the C++
GradReducer (nn/parallel/reducer.h): parameters in flat buckets of about
``bucket_cap_mb``, one all_reduce per bucket, started from post-accumulate-grad
hooks as soon as a bucket's gradients are all in.
"""
import contextlib

from ... import distributed as _dist
from ..._C import _distributed as _d
from ..modules import Module


class DistributedDataParallel(Module):
    """Wraps ``module`` so that backward averages its gradients over all ranks.

    At construction rank 0's parameters and buffers are broadcast to every rank
    (ranks holding differently shaped models raise ``ValueError`` on every
    rank). Each backward averages ``.grad`` across ranks, so the optimizer
    takes the same step everywhere and ranks on shards of a batch train like
    one process on the whole batch (with a mean loss). Otherwise this is the
    wrapped module: ``forward`` delegates (after broadcasting rank 0's buffers
    when ``broadcast_buffers``), ``.module`` is the wrapped module, and
    parameter and state_dict names carry the ``module.`` prefix.

    ``no_sync()`` accumulates gradients locally; the next synchronised
    backward averages the accumulated sum. If a backward leaves some
    parameters without a gradient (unused in the loss), call
    ``sync_gradients()`` after it; otherwise the next backward raises, naming
    them. Only the default group, CPU tensors and ``device_ids=None`` apply.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a shanshui.nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel: shanshui runs on the CPU; device_ids and output_device "
                             "must be None")
        if process_group is not None:
            raise ValueError("DistributedDataParallel: only the default process group (None) is supported")
        if find_unused_parameters:
            raise ValueError("DistributedDataParallel: find_unused_parameters is not supported; call "
                             "sync_gradients() after a backward that leaves some parameters without a gradient")
        if not _dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: the process group is not initialized; call "
                               "shanshui.distributed.init_process_group() first")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25.0
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_bytes_cap = max(1, int(bucket_cap_mb * 1024 * 1024))
        named = list(module.named_parameters())
        if init_sync:
            state = [p for _, p in named] + [b for _, b in module.named_buffers()]
            _d._broadcast_coalesced(state, 0, self.bucket_bytes_cap)
        self.reducer = _d._GradReducer([p for _, p in named], self.bucket_bytes_cap, [f"'{n}'" for n, _ in named])

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and _dist.get_world_size() > 1:
            buffers = list(self.module.buffers())
            if buffers:
                _d._broadcast_coalesced(buffers, 0, self.bucket_bytes_cap)
        return self.module(*inputs, **kwargs)

    @property
    def require_backward_grad_sync(self):
        return self.reducer.require_sync

    @require_backward_grad_sync.setter
    def require_backward_grad_sync(self, on):
        self.reducer.require_sync = bool(on)

    @contextlib.contextmanager
    def no_sync(self):
        """Within the block, backward accumulates gradients locally without averaging."""
        prev = self.reducer.require_sync
        self.reducer.require_sync = False
        try:
            yield
        finally:
            self.reducer.require_sync = prev

    def sync_gradients(self):
        """Average the gradients not yet averaged (after a backward that missed some parameters)."""
        self.reducer.sync()
