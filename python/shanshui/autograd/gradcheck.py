"""Finite-difference checks of backward (torch.autograd.gradcheck / gradgradcheck).

The numerical Jacobian is built column by column with central differences,
perturbing each element of each input that requires grad in place (so
non-contiguous inputs are checked as they are); the analytical Jacobian row
by row with one vector-Jacobian product per output element. Differences are
taken in float64 NumPy; use float64 inputs, as with PyTorch.
"""
import warnings

import numpy as np

from shanshui import _C
from .grad_mode import no_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_Tensor = _C.Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical gradients differ."""


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _to_numpy(t):
    """Values of a tensor as a fresh float64 array (never sharing memory)."""
    return np.array(t.detach().contiguous().numpy(), dtype=np.float64, copy=True)


def _index(shape, k):
    """The multi-index of flat element k, as used in messages and for __setitem__."""
    return tuple(int(i) for i in np.unravel_index(k, shape)) if len(shape) else ()


def _set_element(t, idx, value):
    with no_grad():
        d = t.detach()
        if idx == ():
            d.fill_(value)
        else:
            d[idx] = value


def _is_differentiable_output(o):
    return isinstance(o, _Tensor) and o.is_floating_point()


def _numerical_jacobian(func, inputs, diff_idx, outputs, eps):
    """jac[o][i]: [numel(output o), numel(input i)] float64 for output o and diff input i."""
    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_idx] for o in outputs]
    for col, i in enumerate(diff_idx):
        x = inputs[i]
        orig = _to_numpy(x)
        shape = tuple(x.shape)
        for k in range(x.numel()):
            idx = _index(shape, k)
            v = float(orig.reshape(-1)[k])
            _set_element(x, idx, v + eps)
            plus = [_to_numpy(o) for o in _as_tuple(func(*inputs)) if _is_differentiable_output(o)]
            _set_element(x, idx, v - eps)
            minus = [_to_numpy(o) for o in _as_tuple(func(*inputs)) if _is_differentiable_output(o)]
            _set_element(x, idx, v)
            for oi, (p, m) in enumerate(zip(plus, minus)):
                jac[oi][col][:, k] = (p.reshape(-1) - m.reshape(-1)) / (2.0 * eps)
    return jac


def _analytical_jacobian(inputs, diff_idx, outputs):
    from . import grad as _grad

    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_idx] for o in outputs]
    diff_inputs = [inputs[i] for i in diff_idx]
    for oi, o in enumerate(outputs):
        if not o.requires_grad:
            continue  # no path to any input: the analytical Jacobian is zero
        proto = o.detach().contiguous().numpy()
        for j in range(o.numel()):
            onehot = np.zeros(proto.shape, dtype=proto.dtype)
            onehot.reshape(-1)[j] = 1
            go = _C.from_numpy(onehot)
            grads = _grad([o], diff_inputs, [go], retain_graph=True, allow_unused=True)
            for col, (g, x) in enumerate(zip(grads, diff_inputs)):
                if g is None:
                    continue
                if tuple(g.shape) != tuple(x.shape):
                    raise GradcheckError(
                        f"Gradient has wrong shape for input {diff_idx[col]}: got {tuple(g.shape)}, "
                        f"expected {tuple(x.shape)}")
                jac[oi][col][j, :] = _to_numpy(g).reshape(-1)
    return jac


def _first_mismatch(ana, num, atol, rtol):
    bad = np.abs(ana - num) > atol + rtol * np.abs(num)
    bad |= np.isnan(ana) != np.isnan(num)
    if not bad.any():
        return None
    return tuple(int(v) for v in np.argwhere(bad)[0])


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_backward_ad=True, fast_mode=False):
    """Compare backward against float64 central differences.

    Checks d(outputs)/d(inputs) for every input tensor with requires_grad=True.
    Returns True, or raises GradcheckError (False with raise_exception=False)
    with a message naming the output, the input and the first wrong element.
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, _Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of them have requires_grad=True.")
    for i in diff_idx:
        x = inputs[i]
        if not x.is_floating_point():
            raise ValueError(f"gradcheck: input {i} requires grad but has dtype {x.dtype}")
        if x.dtype != _C.dtype.float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "This check will likely fail if all the inputs are not of double precision "
                          "floating point.")

    outputs = [o for o in _as_tuple(func(*inputs)) if _is_differentiable_output(o)]
    if not outputs:
        raise ValueError("gradcheck: the function returned no floating-point tensor output")

    def fail(msg):
        if raise_exception:
            raise GradcheckError(msg)
        return False

    ana = _analytical_jacobian(inputs, diff_idx, outputs)
    num = _numerical_jacobian(func, inputs, diff_idx, outputs, eps)
    for oi, o in enumerate(outputs):
        for col, i in enumerate(diff_idx):
            a, n = ana[oi][col], num[oi][col]
            bad = _first_mismatch(a, n, atol, rtol)
            if bad is None:
                continue
            r, c = bad
            out_el = _index(tuple(o.shape), r)
            in_el = _index(tuple(inputs[i].shape), c)
            return fail(
                f"Jacobian mismatch for output {oi} with respect to input {i},\n"
                f"first mismatch at input element {in_el}, output element {out_el}: "
                f"numerical {float(n[r, c])!r} vs analytical {float(a[r, c])!r} (atol={atol}, rtol={rtol})\n"
                f"numerical:\n{n}\nanalytical:\n{a}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False):
    """gradcheck of the gradients: checks that backward is itself differentiable (create_graph=True)."""
    from . import grad as _grad

    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        outs = [o for o in _as_tuple(func(*inputs)) if _is_differentiable_output(o) and o.requires_grad]
        grad_outputs = []
        for o in outs:
            proto = o.detach().contiguous().numpy()
            g = _C.from_numpy(rng.standard_normal(proto.shape).astype(proto.dtype))
            grad_outputs.append(g.requires_grad_())
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def new_func(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _as_tuple(func(*ins)) if _is_differentiable_output(o) and o.requires_grad]
        diff_in = [x for x in ins if isinstance(x, _Tensor) and x.requires_grad]
        grads = _grad(outs, diff_in, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(new_func, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
