"""shanshui.utils.data (torch.utils.data)."""
from .distributed import DistributedSampler  # noqa: F401
