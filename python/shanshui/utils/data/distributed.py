"""DistributedSampler: one rank's shard of a dataset (torch.utils.data.DistributedSampler)."""
from ..._C import _distributed as _d


class DistributedSampler:
    """Yields the indices of this rank's shard of ``dataset``, a new shuffle per epoch.

    As torch's: the indices ``0 .. len(dataset)-1`` are shuffled (when
    ``shuffle``) by a permutation seeded with ``seed + epoch``, the same on
    every rank; padded by repeating indices from the front until the count
    divides by ``num_replicas`` (or, with ``drop_last``, cut to a multiple of
    it); rank ``r`` takes every ``num_replicas``-th index from position ``r``.
    Call ``set_epoch(epoch)`` before each epoch for a new order.

    The permutation comes from the C++ sampler (a Fisher-Yates shuffle on
    ``std::mt19937_64``), so C++ and Python runs agree; it is not torch's
    sequence of numbers. ``dataset`` is anything with ``len()``, or the length.
    ``num_replicas`` and ``rank`` default to the process group's.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        n = dataset if isinstance(dataset, int) else len(dataset)
        self._impl = _d._DistributedSampler(n, num_replicas, rank, bool(shuffle), int(seed), bool(drop_last))
        self.dataset = dataset
        self.num_replicas = self._impl.num_replicas
        self.rank = self._impl.rank
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_samples = self._impl.num_samples
        self.total_size = self._impl.total_size

    def __iter__(self):
        self._impl.set_epoch(self.epoch)
        return iter(self._impl.indices())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use a new shuffle for the coming epoch (the same ``epoch`` on every rank)."""
        self.epoch = int(epoch)
