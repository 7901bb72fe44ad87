"""Custom differentiable functions written in Python (torch.autograd.Function).

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)

forward runs under no_grad; the outputs are then attached to one C++ graph
node (python/src/init_autograd.cpp) whose backward calls back into
``_run_backward`` below with the GIL held. Saved tensors live in that node (as
autograd SavedTensors, so saving an output does not create a reference cycle
and in-place changes are detected) and are freed after a backward without
retain_graph.
"""
import functools
import inspect
import warnings

from shanshui import _C
from .grad_mode import no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_Tensor = _C.Tensor
_ag = _C._autograd


class FunctionCtx:
    """The ``ctx`` passed to forward and backward. Arbitrary attributes may be set on it."""

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, _Tensor):
                raise TypeError(
                    f"save_for_backward can only save tensors or None, but argument {i} is of type "
                    f"{type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self):
        node = self.__dict__.get("_node")
        if node is not None:
            return node.saved_tensors()
        return tuple(self.__dict__.get("_to_save", ()))

    def mark_non_differentiable(self, *tensors):
        for t in tensors:
            if not isinstance(t, _Tensor):
                raise TypeError(f"mark_non_differentiable only accepts tensors, got {type(t).__name__}")
        self._non_differentiable = tensors

    def mark_dirty(self, *tensors):
        for t in tensors:
            if not isinstance(t, _Tensor):
                raise TypeError(f"mark_dirty only accepts tensors, got {type(t).__name__}")
        self._dirty = tensors

    def set_materialize_grads(self, value):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)


class BackwardCFunction(FunctionCtx):
    """ctx type of a Function subclass (``Function._backward_cls``)."""

    _forward_cls = None


class FunctionMeta(type):
    """Gives each Function subclass its own ctx class, as PyTorch does."""

    def __init__(cls, name, bases, attrs):
        backward_fn = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        cls._backward_cls = backward_fn
        super().__init__(name, bases, attrs)


def _contains(seq, t):
    return any(s is t for s in seq)


class Function(metaclass=FunctionMeta):
    """Base class of custom autograd functions; use ``MyFunction.apply(*args)``."""

    def __init__(self, *args, **kwargs):
        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all static, so you "
            "should invoke them on the class itself.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Custom Function objects are not callable; use the static method "
            f"{type(self).__name__}.apply(*args) instead")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for a custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function "
            "to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs:
            # Bind keyword arguments to forward's positional parameters so that
            # backward returns one gradient per positional input.
            sig = inspect.signature(cls.forward)
            bound = sig.bind(None, *args, **kwargs) if cls._uses_ctx_forward() else sig.bind(*args, **kwargs)
            bound.apply_defaults()
            args = tuple(bound.args[1:] if cls._uses_ctx_forward() else bound.args)

        ctx = cls._backward_cls()
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, _Tensor)]
        tensor_args = [args[i] for i in tensor_pos]
        ctx.needs_input_grad = tuple(isinstance(a, _Tensor) and a.requires_grad for a in args)
        record = _C.is_grad_enabled() and any(t.requires_grad for t in tensor_args)

        with no_grad():
            if cls._uses_ctx_forward():
                outputs = cls.forward(ctx, *args)
            else:
                outputs = cls.forward(*args)
                cls.setup_context(ctx, args, outputs)

        dirty = ctx.__dict__.pop("_dirty", ())
        if not record:
            return outputs

        is_tuple = isinstance(outputs, tuple)
        outs = outputs if is_tuple else (outputs,)
        non_diff = ctx.__dict__.pop("_non_differentiable", ())
        out_pos = [i for i, o in enumerate(outs) if isinstance(o, _Tensor)]
        out_tensors = [outs[i] for i in out_pos]
        for t in dirty:
            if not _contains(out_tensors, t):
                raise RuntimeError(
                    f"{cls.__name__}: a tensor passed to ctx.mark_dirty must be returned from forward")
        differentiable = [not _contains(non_diff, t) for t in out_tensors]
        is_dirty = [_contains(dirty, t) for t in out_tensors]
        to_save = list(ctx.__dict__.pop("_to_save", ()))

        ctx._num_outputs = len(outs)
        ctx._out_pos = out_pos
        ctx._num_inputs = len(args)
        ctx._tensor_pos = tensor_pos
        # The C++ node holds ctx; ctx holds only a weak handle to the node, so
        # there is no reference cycle through the graph.
        wrapped, node = _ag._wrap_function(
            cls.__name__ + "Backward", _run_backward, ctx, tensor_args, tensor_pos, out_tensors,
            differentiable, is_dirty, to_save, ctx.__dict__.get("_materialize_grads", True))
        ctx._node = node
        new_outs = list(outs)
        for i, t in zip(out_pos, wrapped):
            if t is not None:  # None: the object forward returned now carries the node
                new_outs[i] = t
        return tuple(new_outs) if is_tuple else new_outs[0]

    @classmethod
    def _uses_ctx_forward(cls):
        # New-style functions define setup_context and a forward without ctx.
        return cls.setup_context is Function.setup_context


def _run_backward(ctx, out_grads):
    """Called by the C++ node with one gradient per tensor output (zeros where none
    arrived, or None with ctx.set_materialize_grads(False)); returns one gradient
    (or None) per tensor input."""
    cls = ctx._forward_cls
    name = cls.__name__ + "Backward"
    grads = [None] * ctx._num_outputs  # non-tensor outputs get None
    for pos, g in zip(ctx._out_pos, out_grads):
        grads[pos] = g
    result = cls.backward(ctx, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n = ctx._num_inputs
    if len(result) != n:
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        else:
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients (expected {n}, got {len(result)})")
    tensor_pos = set(ctx._tensor_pos)
    for i, g in enumerate(result):
        if i in tensor_pos:
            if g is not None and not isinstance(g, _Tensor):
                raise RuntimeError(
                    f"function {name} returned a gradient of type {type(g).__name__} at position {i}; "
                    "expected a Tensor or None")
        elif g is not None:
            raise RuntimeError(
                f"function {name} returned a gradient different than None at position {i}, but the "
                "corresponding forward input was not a Tensor")
    return [result[i] for i in ctx._tensor_pos]


def once_differentiable(fn):
    """Mark a backward as not differentiable: it runs without recording, and
    its results are plain tensors even under create_graph."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper
