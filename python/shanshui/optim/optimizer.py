"""The optimizer base class, shaped like ``torch.optim.Optimizer``.

The update loops and per-parameter buffers live in C++ (``shanshui._C._optim``);
this class owns what users touch: ``param_groups`` is a list of plain dicts
(edit ``opt.param_groups[0]['lr']`` and the next step uses it, which is how
schedulers work), ``state`` maps parameters to their buffers, and
``state_dict()`` / ``load_state_dict()`` use PyTorch's layout::

    {'state': {0: {'step': tensor(3.), 'exp_avg': ..., 'exp_avg_sq': ...}, ...},
     'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), ..., 'params': [0, 1]}]}

so a resumed run continues exactly where the saved one stopped.
"""
import copy
from collections.abc import Mapping

from .. import _C
from .._C import Tensor


class _Required:
    """Marks a default that every parameter group must give itself."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


class _StateView(Mapping):
    """``optimizer.state``: parameter -> {'step': tensor, buffer name: tensor}.

    Looked up by tensor identity in C++, so any handle on a parameter finds
    its state; the buffer tensors are the optimizer's own (in-place edits show).
    A parameter without state maps to {} as in PyTorch's defaultdict.
    """

    def __init__(self, opt):
        self._opt = opt

    def _params(self):
        for g in self._opt.param_groups:
            yield from g["params"]

    def __getitem__(self, p):
        if not isinstance(p, Tensor):
            raise KeyError(p)
        return self._opt._param_state(p)

    def __iter__(self):
        return (p for p in self._params() if self._opt._param_state(p))

    def __len__(self):
        return sum(1 for _ in self)

    def __contains__(self, p):
        return isinstance(p, Tensor) and bool(self._opt._param_state(p))

    def __repr__(self):
        return "{" + ", ".join(f"<param {tuple(p.shape)}>: {self[p]!r}" for p in self) + "}"


class Optimizer:
    """Base of SGD, Adam, AdamW and RMSprop.

    Subclasses give ``defaults`` (a dict of hyper-parameters), ``_make_impl``
    (the C++ optimizer) and ``_numeric_options`` (a group dict -> the
    name -> float map the C++ update reads).
    """

    # Whether per-parameter state carries a 'step' counter (SGD's does not, as in PyTorch).
    _has_step = True

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a dict (pass a list of parameter-group dicts)")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        self.param_groups = []
        self._impl = None
        for group in param_groups:
            self.add_param_group(group)

    # ---- parameter groups ------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group (a dict with 'params' and optional per-group options) to optimize."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("add_param_group: param_group has no 'params' key")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i}, shape {tuple(p.shape)})")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        self._validate_group(group)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        if any(id(p) in existing for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if self._impl is None:
            self._impl = self._make_impl([(group["params"], self._numeric_options(group))])
        else:
            self._impl.sync_group(len(self.param_groups), group["params"], self._numeric_options(group))
        self.param_groups.append(group)

    def _validate_group(self, group):
        lr = group.get("lr")
        if lr is not None and not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr}")

    def _sync(self):
        """Push every group's (possibly edited) params and options to the C++ optimizer."""
        for i, g in enumerate(self.param_groups):
            self._impl.sync_group(i, list(g["params"]), self._numeric_options(g))

    # ---- the training loop -------------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter with a gradient; ``closure`` re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        self._sync()
        self._impl.step()
        return loss

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors (to None by default, as PyTorch)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    # ---- state ------------------------------------------------------------------------------
    def _param_state(self, p):
        s = self._impl.get_state(p)
        if s is None:
            return {}
        step, tensors = s
        out = {}
        if self._has_step:
            out["step"] = _C.scalar_tensor(float(step), dtype=_C.dtype.float32)
        out.update(tensors)
        return out

    @property
    def state(self):
        return _StateView(self)

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]} (PyTorch's layout).

        State tensors are the optimizer's own buffers, as in PyTorch: copy them
        (or save them) before training further if you need a snapshot.
        """
        state, groups, index = {}, [], 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                s = self._param_state(p)
                if s:
                    state[index] = s
                ids.append(index)
                index += 1
            packed["params"] = ids
            groups.append(packed)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a state from ``state_dict()`` (this library's or PyTorch's, converted to shanshui tensors)."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)} vs {len(self.param_groups)})")
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group ({i}: {len(sg['params'])} vs {len(g['params'])} parameters)")
        id_map = {}
        for g, sg in zip(self.param_groups, saved_groups):
            for saved_id, p in zip(sg["params"], g["params"]):
                id_map[saved_id] = p
        # Saved state keys may be ints (ours, torch's) or strings (after a JSON round trip).
        state = {}
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k
            if key not in id_map:
                raise ValueError(f"load_state_dict: state for parameter {k!r}, which no parameter group lists")
            state[key] = v
        for key, s in state.items():
            p = id_map[key]
            for name, t in s.items():
                if name != "step" and isinstance(t, Tensor) and tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"load_state_dict: state '{name}' of parameter {key} has shape "
                                     f"{tuple(t.shape)} but the parameter has shape {tuple(p.shape)}")
        self._impl.clear_state()
        for key, s in state.items():
            p = id_map[key]
            step = s.get("step", 0)
            step = int(step.item()) if isinstance(step, Tensor) else int(step)
            tensors = {k: v for k, v in s.items() if k != "step" and isinstance(v, Tensor)}
            self._impl.set_state(p, step, tensors)
        new_groups = []
        for g, sg in zip(self.param_groups, saved_groups):
            ng = copy.deepcopy({k: v for k, v in sg.items() if k != "params"})
            if "betas" in ng:
                ng["betas"] = tuple(ng["betas"])  # a JSON round trip gives a list
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.param_groups = new_groups
        self._sync()

    # ---- printing and pickling ---------------------------------------------------------------
    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        raise TypeError(f"{type(self).__name__} cannot be pickled; save optimizer.state_dict() with shanshui.save")


def _flag(v):
    return 1.0 if v else 0.0
