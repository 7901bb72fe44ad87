"""The module classes (bound from C++ in shanshui._C.nn; Python-side extensions in this package)."""
from .container import ModuleDict, ModuleList, Sequential
from .module import Module

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict"]
