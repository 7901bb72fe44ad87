"""shanshui.utils: data loading helpers (torch.utils)."""
from . import data  # noqa: F401
