"""Sequential, ModuleList, ModuleDict: C++ classes (so C++ code can hold and run
them) with PyTorch's Python protocols added here. Children are stored in the
C++ registry under "0", "1", ... (or the dict keys), as PyTorch names them."""
import operator
from collections import OrderedDict

from ..._C import nn as _Cnn

Sequential = _Cnn.Sequential
ModuleList = _Cnn.ModuleList
ModuleDict = _Cnn.ModuleDict
Module = _Cnn.Module


def _extend(cls):
    """Copy the methods of a mixin class onto the bound class `cls`."""
    def deco(mixin):
        for name, value in vars(mixin).items():
            if name in ("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"):
                continue
            if name == "__init__":
                cpp_init = cls.__init__

                def make(py_init, cpp_init=cpp_init):
                    def __init__(self, *args, **kwargs):
                        cpp_init(self)
                        py_init(self, *args, **kwargs)
                    __init__.__doc__ = py_init.__doc__
                    return __init__
                value = make(value)
            setattr(cls, name, value)
        if mixin.__doc__:
            cls.__doc__ = mixin.__doc__
        return cls
    return deco


def _index(n, idx, what):
    i = operator.index(idx)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for {what} of length {n}")
    return i + n if i < 0 else i


def _renumber(self):
    """Give the children the names "0", "1", ... again (after a deletion or insertion)."""
    items = list(self._named_children_with_none())
    for name, _ in items:
        delattr(self, name)
    for i, (_, m) in enumerate(items):
        self.add_module(str(i), m)


@_extend(Sequential)
class _Sequential:
    """Sequential(*modules) or Sequential(OrderedDict of name -> module) (torch.nn.Sequential).

    forward chains the children: each one's output is the next one's input.
    """

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def forward(self, input):
        for module in self.children():
            input = module(input)
        return input

    def __getitem__(self, idx):
        items = list(self._named_children_with_none())
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(items[idx]))
        return items[_index(len(items), idx, "Sequential")][1]

    def __setitem__(self, idx, module):
        items = list(self._named_children_with_none())
        setattr(self, items[_index(len(items), idx, "Sequential")][0], module)

    def __delitem__(self, idx):
        items = list(self._named_children_with_none())
        if isinstance(idx, slice):
            for name, _ in items[idx]:
                delattr(self, name)
        else:
            delattr(self, items[_index(len(items), idx, "Sequential")][0])
        _renumber(self)

    def __len__(self):
        return len(list(self._named_children_with_none()))

    def __iter__(self):
        return iter([m for _, m in self._named_children_with_none()])

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        ret = Sequential()
        for m in list(self) + list(other):
            ret.append(m)
        return ret

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, sequential):
        for m in sequential:
            self.append(m)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        items = [m for _, m in self._named_children_with_none()]
        items.insert(index, module)
        for name, _ in list(self._named_children_with_none()):
            delattr(self, name)
        for i, m in enumerate(items):
            self.add_module(str(i), m)
        return self

    def pop(self, key):
        v = self[key]
        del self[key]
        return v


@_extend(ModuleList)
class _ModuleList:
    """ModuleList(modules=None): submodules in a list, registered as "0", "1", ... (torch.nn.ModuleList)."""

    def __init__(self, modules=None):
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        items = [m for _, m in self._named_children_with_none()]
        if isinstance(idx, slice):
            return self.__class__(items[idx])
        return items[_index(len(items), idx, "ModuleList")]

    def __setitem__(self, idx, module):
        n = len(self)
        setattr(self, str(_index(n, idx, "ModuleList")), module)

    def __delitem__(self, idx):
        items = list(self._named_children_with_none())
        if isinstance(idx, slice):
            for name, _ in items[idx]:
                delattr(self, name)
        else:
            delattr(self, items[_index(len(items), idx, "ModuleList")][0])
        _renumber(self)

    def __len__(self):
        return len(list(self._named_children_with_none()))

    def __iter__(self):
        return iter([m for _, m in self._named_children_with_none()])

    def __repr__(self):
        # PyTorch's ModuleList repr: runs of identical children print once, as "(0-2): 3 x Linear(...)".
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            head = f"({start}): " if start == end else f"({start}-{end}): {end - start + 1} x "
            lines.append((head + r).replace("\n", "\n  "))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        combined = ModuleList()
        for m in list(self) + list(other):
            combined.append(m)
        return combined

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if isinstance(modules, (Module, str, bytes)) or not hasattr(modules, "__iter__"):
            raise TypeError("ModuleList.extend should be called with an iterable, but got " + type(modules).__name__)
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = [m for _, m in self._named_children_with_none()]
        items.insert(index, module)
        for name, _ in list(self._named_children_with_none()):
            delattr(self, name)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def pop(self, key):
        v = self[key]
        del self[key]
        return v


@_extend(ModuleDict)
class _ModuleDict:
    """ModuleDict(modules=None): submodules in an ordered dict (torch.nn.ModuleDict)."""

    def __init__(self, modules=None):
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return dict(self._named_children_with_none())[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self):
        return len(list(self._named_children_with_none()))

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, key):
        return key in self.keys()

    def clear(self):
        for k in self.keys():
            delattr(self, k)

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return [k for k, _ in self._named_children_with_none()]

    def items(self):
        return list(self._named_children_with_none())

    def values(self):
        return [m for _, m in self._named_children_with_none()]

    def update(self, modules):
        if isinstance(modules, (OrderedDict, ModuleDict, dict)) or hasattr(modules, "keys"):
            for key in modules.keys():
                self[key] = modules[key]
        else:
            for j, m in enumerate(modules):
                if not isinstance(m, (list, tuple)) or len(m) != 2:
                    raise ValueError(f"ModuleDict update sequence element #{j} should be a (key, module) pair")
                self[m[0]] = m[1]


__all__ = ["Sequential", "ModuleList", "ModuleDict"]
