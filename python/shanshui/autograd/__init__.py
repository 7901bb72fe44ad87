"""shanshui.autograd: reverse-mode automatic differentiation, shaped like torch.autograd.

- ``backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None)``
- ``grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None)``
- ``Function``: custom differentiable functions with ``forward(ctx, ...)`` / ``backward(ctx, ...)``
- ``gradcheck`` / ``gradgradcheck``: float64 finite-difference checks of backward
- ``no_grad``, ``enable_grad``, ``set_grad_enabled``: grad-mode context managers and decorators
"""
from shanshui import _C

from . import function, grad_mode
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function", "FunctionCtx", "once_differentiable", "backward", "grad", "gradcheck", "gradgradcheck",
    "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
]

_Tensor = _C.Tensor


def _tensor_tuple(x, what):
    if isinstance(x, _Tensor):
        return (x,)
    if isinstance(x, (tuple, list)):
        for e in x:
            if not isinstance(e, _Tensor):
                raise TypeError(f"{what} must contain only Tensors, got {type(e).__name__}")
        return tuple(x)
    raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate the gradient of ``tensors`` into the ``.grad`` of graph leaves.

    ``grad_tensors`` gives the vector of the vector-Jacobian product (one per
    tensor; None is allowed for one-element tensors). With ``inputs``, only
    those tensors accumulate gradients.
    """
    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError("backward: pass grad_tensors only, not grad_variables as well")
        grad_tensors = grad_variables
    tensors = _tensor_tuple(tensors, "backward: tensors")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        _C._autograd.backward(tensors, grad_tensors, retain_graph, create_graph)
        return
    inputs = _tensor_tuple(inputs, "backward: inputs")
    if len(inputs) == 0:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    grads = _C._autograd.grad(tensors, inputs, grad_tensors, retain_graph, create_graph, True)
    with grad_mode.set_grad_enabled(create_graph):
        for t, g in zip(inputs, grads):
            if g is None:
                continue
            if not create_graph:
                g = g.detach()
            t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of ``outputs`` with respect to ``inputs`` without touching ``.grad``.

    Inputs the outputs do not depend on raise unless ``allow_unused=True``
    (then their gradient is None, or zeros with ``materialize_grads=True``).
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _tensor_tuple(outputs, "grad: outputs")
    inputs = _tensor_tuple(inputs, "grad: inputs")
    if retain_graph is None:
        retain_graph = create_graph
    result = _C._autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
    if materialize_grads:
        result = tuple(_C.zeros_like(i) if g is None else g for i, g in zip(inputs, result))
    return tuple(result)
