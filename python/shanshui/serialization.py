"""Checkpoints in safetensors: ``shanshui.save`` / ``shanshui.load`` and whole training states.

A state dict (``{name: tensor}``) is written as a plain safetensors file that
``safetensors.torch.load_file`` reads, and files written by PyTorch's
safetensors load back as ``{name: tensor}``. Optional ``metadata`` (str -> str)
goes to the header's ``__metadata__``.

Anything else made of dicts, lists, tuples, numbers, strings, None and
tensors (an optimizer's state_dict, a dict of state dicts) is flattened into
one safetensors file: every tensor is stored under its dotted path
(``optimizer.state.0.exp_avg``) and the structure around them is JSON in
``__metadata__['shanshui.tree']``, so ``load`` rebuilds the same object and
other safetensors readers still see every tensor by name.

Writes are atomic (a temporary file renamed over the target), so a failed or
interrupted save leaves the previous checkpoint intact.
"""
import json
import os
from collections import Counter

from . import _C
from ._C import Tensor

__all__ = ["save", "load", "load_metadata", "save_training_state", "load_training_state"]

_TREE_KEY = "shanshui.tree"


def _path(f, op):
    if isinstance(f, (str, bytes, os.PathLike)):
        return os.fsdecode(f)
    raise TypeError(f"{op}: expected a file path (str or os.PathLike), got {type(f).__name__}")


def _check_metadata(metadata, op):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise TypeError(f"{op}: metadata must be a dict of str -> str (the safetensors __metadata__)")
    if _TREE_KEY in metadata:
        raise ValueError(f"{op}: metadata key '{_TREE_KEY}' is reserved")
    return dict(metadata)


def _is_state_dict(obj):
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _flatten(obj):
    """(list of (name, tensor), JSON-able tree with {'__tensor__': name} leaves)."""
    tensors, names = [], set()

    def name_for(path):
        base = ".".join(path) or "tensor"
        name, n = base, 1
        while name in names or name == "__metadata__":
            n += 1
            name = f"{base}#{n}"
        names.add(name)
        return name

    def enc(o, path):
        if isinstance(o, Tensor):
            name = name_for(path)
            tensors.append((name, o.detach()))
            return {"__tensor__": name}
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, Counter):
            return {"__counter__": [[enc(k, path), v] for k, v in o.items()]}
        if isinstance(o, dict):
            return {"__dict__": [[enc(k, path + [str(k)]), enc(v, path + [str(k)])] for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"__tuple__": [enc(v, path + [str(i)]) for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [enc(v, path + [str(i)]) for i, v in enumerate(o)]
        raise TypeError(f"save: cannot save an object of type {type(o).__name__} at '{'.'.join(path)}' "
                        "(tensors, dicts, lists, tuples, numbers, strings and None can be saved)")

    return tensors, enc(obj, [])


def _unflatten(tree, tensors, path):
    def dec(o):
        if isinstance(o, list):
            return [dec(v) for v in o]
        if isinstance(o, dict):
            if "__tensor__" in o:
                name = o["__tensor__"]
                if name not in tensors:
                    raise ValueError(f"load: '{path}': the structure refers to tensor '{name}', which the file lacks")
                return tensors[name]
            if "__dict__" in o:
                return {_hashable(dec(k)): dec(v) for k, v in o["__dict__"]}
            if "__tuple__" in o:
                return tuple(dec(v) for v in o["__tuple__"])
            if "__counter__" in o:
                return Counter({_hashable(dec(k)): v for k, v in o["__counter__"]})
            raise ValueError(f"load: '{path}': unrecognised node in the saved structure: {sorted(o)}")
        return o

    return dec(tree)


def _hashable(k):
    return tuple(k) if isinstance(k, list) else k


def save(obj, f, metadata=None):
    """Save a state dict (or a nested structure of them) to the safetensors file ``f``.

    ``metadata``: optional str -> str entries for the header's ``__metadata__``.
    """
    path = _path(f, "save")
    md = _check_metadata(metadata, "save")
    if _is_state_dict(obj):
        _C._save_safetensors(list(obj.items()), path, md)
        return
    tensors, tree = _flatten(obj)
    md[_TREE_KEY] = json.dumps(tree, separators=(",", ":"))
    _C._save_safetensors(tensors, path, md)


def load(f, map_location=None, weights_only=True):
    """Load what ``save`` wrote: ``{name: tensor}`` for a plain safetensors file (ours or anyone's),
    the original structure for a file saved from a nested object.

    The file is validated completely first (header size, JSON, dtypes, shapes, offsets);
    a malformed file raises ValueError naming the file and the problem. ``map_location`` may only
    be the CPU.
    """
    path = _path(f, "load")
    if map_location is not None and str(map_location).split(":")[0] != "cpu":
        raise RuntimeError(f"load: shanshui runs on the CPU only (got map_location={map_location!r})")
    items = _C._load_safetensors(path)
    md = _C._load_safetensors_metadata(path)
    if _TREE_KEY not in md:
        return dict(items)
    try:
        tree = json.loads(md[_TREE_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"load: '{path}': __metadata__['{_TREE_KEY}'] is not valid JSON ({e})") from None
    return _unflatten(tree, dict(items), path)


def load_metadata(f):
    """The ``__metadata__`` string map of a safetensors file (without shanshui's own structure entry)."""
    md = _C._load_safetensors_metadata(_path(f, "load_metadata"))
    md.pop(_TREE_KEY, None)
    return md


# ---- whole training states ------------------------------------------------------------------
def _model_state(model):
    if isinstance(model, dict):  # named raw tensors (a model written without nn.Module)
        return dict(model)
    return model.state_dict()


def _load_model_state(model, sd):
    if not isinstance(model, dict):
        model.load_state_dict(sd)
        return
    missing = sorted(set(model) - set(sd))
    unexpected = sorted(set(sd) - set(model))
    if missing or unexpected:
        raise ValueError(f"load_training_state: model keys differ (missing {missing}, unexpected {unexpected})")
    from .autograd import no_grad
    with no_grad():
        for k, t in model.items():
            if tuple(t.shape) != tuple(sd[k].shape):
                raise ValueError(f"load_training_state: '{k}' has shape {tuple(sd[k].shape)} in the checkpoint "
                                 f"but {tuple(t.shape)} in the model")
            t.copy_(sd[k])


def save_training_state(f, *, model=None, optimizer=None, scheduler=None, step=None, **extra):
    """Save everything needed to resume training exactly: model parameters and buffers,
    optimizer state, scheduler state, the step counter, the random generator's state and any
    ``extra`` values (numbers, strings, tensors, dicts of them), in one safetensors file.

    ``model`` is an nn.Module or a dict of named tensors. Resume with ``load_training_state``;
    continuing gives the same parameters as never having stopped.
    """
    state = dict(extra)
    if model is not None:
        state["model"] = _model_state(model)
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if step is not None:
        state["step"] = step
    state["rng_state"] = _C.get_rng_state()
    save(state, f)


def load_training_state(f, *, model=None, optimizer=None, scheduler=None, restore_rng=True):
    """Restore what ``save_training_state`` wrote into the given objects (in place) and the
    random generator; returns the whole saved dict (its 'step' and extra values included)."""
    state = load(f)
    if not isinstance(state, dict) or "rng_state" not in state:
        raise ValueError(f"load_training_state: '{_path(f, 'load_training_state')}' is not a training state "
                         "written by save_training_state")
    for obj, key in ((model, "model"), (optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None and key not in state:
            raise ValueError(f"load_training_state: the checkpoint has no '{key}' state")
    if model is not None:
        _load_model_state(model, state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        _C.set_rng_state(state["rng_state"])
    return state
