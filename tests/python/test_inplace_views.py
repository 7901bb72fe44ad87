"""In-place ops on views of tensors that require grad (PyTorch's CopySlices).

Every case runs the same function on shanshui and on PyTorch (float64, same
inputs) and compares the result and the .grad of every leaf (allclose 1e-10).
The functions only use the API both libraries share, so nothing is hard-coded.
"""
import numpy as np
import pytest
import torch

import shanshui as ss
from shanshui.autograd import gradcheck, gradgradcheck

TOL = dict(rtol=1e-10, atol=1e-10)


def _leaves(lib, arrays):
    if lib is torch:
        return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    return [ss.from_numpy(a.copy()).requires_grad_() for a in arrays]


def _const(lib, a):
    return torch.tensor(a, dtype=torch.float64) if lib is torch else ss.from_numpy(np.array(a, dtype=np.float64))


def _np(t):
    return np.array(t.detach().numpy(), dtype=np.float64)


def run_both(fn, *shapes, seed=0):
    """fn(lib, *leaves) -> tensor. Backward of a random projection of the result; compare values and grads."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = {}
    for lib in (ss, torch):
        leaves = _leaves(lib, arrays)
        out = fn(lib, *leaves)
        w = _const(lib, np.random.default_rng(seed + 1).standard_normal(tuple(out.shape)))
        (out * w).sum().backward()
        grads = [None if x.grad is None else _np(x.grad) for x in leaves]
        results[lib] = (_np(out), grads)
    (ours, our_grads), (ref, ref_grads) = results[ss], results[torch]
    np.testing.assert_allclose(ours, ref, **TOL)
    assert len(our_grads) == len(ref_grads)
    for i, (g, r) in enumerate(zip(our_grads, ref_grads)):
        assert (g is None) == (r is None), f"leaf {i}: grad {'missing' if g is None else 'unexpected'}"
        if r is not None:
            np.testing.assert_allclose(g, r, err_msg=f"grad of leaf {i}", **TOL)


def mask_of(lib, pattern):
    m = np.array(pattern, dtype=bool)
    return torch.tensor(m) if lib is torch else ss.from_numpy(m)


# ---- each in-place op on each kind of view ----------------------------------------


def test_mul_on_select():
    def f(lib, a, c):
        b = a * 1
        b[1].mul_(c)
        b[2].mul_(3.0)
        return b
    run_both(f, (4, 3), (3,))


def test_add_on_slice_with_step():
    def f(lib, a, c):
        b = a * 2
        b[::2].add_(c)
        b[:, 1::2].add_(1.5)
        return b
    run_both(f, (5, 4), (4,))


def test_div_on_transpose():
    def f(lib, a, c):
        b = a * 1.5  # (not exp: exp saves its output, which div_ would overwrite)
        b.t().div_(c * c + 1)
        return b
    run_both(f, (3, 4), (4, 1))


def test_clamp_on_view():
    def f(lib, a):
        b = a * 1.5
        b.view(12).clamp_(-0.5, 0.7)
        return b * b
    run_both(f, (4, 3))


def test_masked_fill_with_scalar_on_select():
    def f(lib, a):
        b = a * 1
        b[2].masked_fill_(mask_of(lib, [True, False, True]), 3.0)
        return b.sin()
    run_both(f, (4, 3))


def test_fill_on_diagonal():
    def f(lib, a):
        b = a * 1
        b.diagonal().fill_(2.0)
        return b * a
    run_both(f, (4, 4))


def test_diagonal_with_offset_mul():
    def f(lib, a, c):
        b = a + 0
        b.diagonal(1).mul_(c)
        return b
    run_both(f, (3, 4), (3,))


def test_zero_on_column():
    def f(lib, a):
        b = a * 1
        b[:, 0].zero_()
        return b.exp()
    run_both(f, (4, 3))


def test_copy_from_tensor_with_grad_on_narrow():
    def f(lib, a, c):
        b = a * 1
        b.narrow(0, 1, 2).copy_(c)
        return b * b
    run_both(f, (4, 3), (2, 3))


def test_copy_of_a_constant_on_permute():
    def f(lib, a):
        b = a * 1
        b.permute(2, 0, 1)[1].copy_(_const(lib, np.arange(6.0).reshape(2, 3)))
        return b.tanh()
    run_both(f, (2, 3, 4))


def test_copy_broadcasts_source():
    def f(lib, a, c):
        b = a * 1
        b[1:3].copy_(c)
        return b
    run_both(f, (4, 3), (3,))


def test_unsqueeze_and_squeeze_views():
    def f(lib, a, c):
        b = a * 1
        b.unsqueeze(0)[0, 1].mul_(c)
        b.view(4, 1, 3).squeeze(1)[3].add_(c)
        return b
    run_both(f, (4, 3), (3,))


def test_inplace_on_a_view_of_a_view():
    def f(lib, a, c):
        b = a * 1
        v = b.view(2, 6)[1]
        v[::2].mul_(c)
        b[1:3].t()[0].add_(1.0)
        return b
    run_both(f, (4, 3), (3,))


def test_two_views_of_one_base():
    def f(lib, a, c, d):
        b = a * 1
        b[0].mul_(c)
        b[:, 1].add_(d)
        return b
    run_both(f, (4, 3), (3,), (4,))


def test_base_used_after_inplace_on_view():
    def f(lib, a, c):
        b = a * 1
        b[1].mul_(c)
        return b.exp() * b
    run_both(f, (4, 3), (3,))


def test_modified_view_used_downstream():
    def f(lib, a, c):
        b = a * 1
        v = b[1]
        v.mul_(c)
        v.add_(c)
        return (v.sin() * c).unsqueeze(0) + b
    run_both(f, (4, 3), (3,))


def test_new_view_of_rebased_base():
    def f(lib, a, c):
        b = a * 1
        b[0].mul_(c)
        return b[0:2] * 2
    run_both(f, (4, 3), (3,))


def test_older_view_regenerates_its_history():
    # v was taken before another view (and then the base) was modified in place:
    # its history must now go through those writes (PyTorch regenerates its grad_fn).
    def f(lib, a, c):
        b = a * 1
        v = b[0:2]
        b[1].mul_(c)
        w = v * 3
        b.mul_(2.0)
        return w + v
    run_both(f, (4, 3), (3,))


def test_view_of_a_base_without_grad_receives_a_value_with_grad():
    def f(lib, c):
        b = lib.zeros(4, 3, dtype=lib.float64)
        b[1].copy_(c)
        b[2].add_(c)
        return b * b
    run_both(f, (3,))


def test_setitem_on_a_view():
    def f(lib, a, c):
        b = a * 1
        b[1][0:2] = c
        b[2][[0, 2]] = c
        return b * b
    run_both(f, (4, 3), (2,))


def test_setitem_scalar_on_a_view():
    def f(lib, a):
        b = a * 1
        b[1][1:] = 5.0
        return b * a
    run_both(f, (4, 3))


def test_fill_on_expand_is_allowed():
    # As PyTorch, fill_ (unlike mul_, add_, copy_) may write into an expanded tensor.
    def f(lib, a):
        e = lib.zeros(4, 1, dtype=lib.float64).expand(4, 3)
        e.fill_(2.0)
        return a * e
    run_both(f, (4, 3))


def test_inplace_on_view_without_grad_mode_changes_no_graph():
    a = ss.randn(4, 3, dtype=ss.float64, requires_grad=True)
    b = a * 1
    fn = b.grad_fn.name()
    v = b[1]
    with ss.no_grad():
        v.mul_(2)
        a[0].zero_()  # a view of a leaf: allowed without grad
        w = b[2]
        w.add_(1)
    assert b.grad_fn.name() == fn
    assert _np(a)[0].tolist() == [0.0, 0.0, 0.0]
    # As PyTorch, the same write with grad mode on is tracked.
    b[3].mul_(2)
    assert b.grad_fn.name() == "CopySlices"
    assert b[3].grad_fn is not None


def test_custom_function_marking_a_view_dirty():
    class Double(ss.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x.mul_(2)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class TDouble(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x.mul_(2)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    def f(lib, a):
        b = a * 1
        (Double if lib is ss else TDouble).apply(b[1])
        return b * b
    run_both(f, (4, 3))


# ---- gradcheck ---------------------------------------------------------------------


def test_gradcheck_inplace_on_view():
    rng = np.random.default_rng(5)
    x = ss.from_numpy(rng.standard_normal((4, 3))).requires_grad_()
    c = ss.from_numpy(rng.standard_normal(3)).requires_grad_()

    def f(x, c):
        b = x * 1
        b[1].mul_(c)
        b[:, 2].add_(c[:1] * c[1:2])
        b.t()[0].clamp_(-0.5, 0.5)
        return b * b.sin()

    assert gradcheck(f, (x, c))
    assert gradgradcheck(f, (x, c))


# ---- _base and _is_view ----------------------------------------------------------------


def test_base_and_is_view():
    a = ss.randn(4, 3, requires_grad=True)
    v = a[1]
    assert v._is_view() and v._base is not None
    assert v._base.data_ptr() == a.data_ptr() and tuple(v._base.shape) == (4, 3)
    vv = a[1:3].view(-1)[::2].unsqueeze(0)  # a view of a view points to the root base
    assert tuple(vv._base.shape) == (4, 3)
    assert not a._is_view() and a._base is None
    assert not a.detach()._is_view()  # detach makes a non-differentiable view, as PyTorch
    d = a.detach()
    assert tuple(d[0]._base.shape) == (4, 3)
    assert (a * 1)._base is None


# ---- errors ------------------------------------------------------------------------------


def test_view_of_leaf_raises():
    a = ss.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul_: a view .*of a leaf Variable that requires grad"):
        a[1].mul_(2)
    with pytest.raises(RuntimeError, match=r"a view .*of a leaf Variable that requires grad"):
        a[:, 0].zero_()
    with pytest.raises(RuntimeError, match=r"leaf Variable"):
        a.view(12).copy_(ss.zeros(12))
    ta = torch.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"a view of a leaf Variable that requires grad"):
        ta[1].mul_(2)


def test_expand_write_raises():
    b = ss.randn(4, 1, requires_grad=True) * 1
    for op in (lambda e: e.mul_(2), lambda e: e.add_(ss.ones(4, 3)), lambda e: e.copy_(ss.ones(4, 3))):
        with pytest.raises(RuntimeError, match=r"more than one element of the written-to tensor"):
            op(b.expand(4, 3))
    with ss.no_grad():
        with pytest.raises(RuntimeError, match=r"more than one element .*shape \[4, 3\]"):
            ss.zeros(4, 1).expand(4, 3).mul_(2)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        torch.zeros(4, 1).expand(4, 3).mul_(2)


def test_view_made_under_no_grad_refuses_tracked_inplace():
    for lib in (ss, torch):
        b = lib.randn(4, 3, requires_grad=True) * 1
        with lib.no_grad():
            v = b[1]
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            v.mul_(2)


def test_version_counter_shared_and_saved_tensor_error():
    for lib in (ss, torch):
        a = lib.randn(4, 3, dtype=lib.float64, requires_grad=True)
        b = a * 1
        v = b[1]
        before = b._version
        v.add_(1)
        assert b._version == v._version and b._version > before
        c = b.sin()  # saves b
        b[2].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


# ---- in-place ops whose backward needs the old value (Python bindings clone it) ----------


@pytest.mark.parametrize("op", ["mul_", "imul", "pow_", "sin_", "clamp_", "abs_"])
def test_inplace_that_saves_its_input(op):
    def f(lib, a, c):
        b = a * 1
        targets = (b, b[1])  # on the base and on a view
        for t in targets:
            if op == "mul_":
                t.mul_(c)
            elif op == "imul":
                t *= c
            elif op == "pow_":
                t.pow_(2)
            elif op == "sin_":
                t.sin_()
            elif op == "clamp_":
                t.clamp_(-0.3, 0.4)
            else:
                t.abs_()
        return b
    run_both(f, (4, 3), (3,))


def test_retain_grad_follows_the_inplace_write():
    # As PyTorch, .grad of a tensor with retain_grad() is the gradient of its value after the write.
    rng = np.random.default_rng(7)
    arr = rng.standard_normal((4, 3))
    got = {}
    for lib in (ss, torch):
        (a,) = _leaves(lib, [arr])
        b = a * 1
        b.retain_grad()
        v = b[0]
        v.retain_grad()
        b[1].mul_(2)  # rebases b, and v through the version change
        c = b * 1
        c.retain_grad()
        c.mul_(3)  # an in-place op on a non-view
        (v.exp().sum() + (b * b).sum() + c.sin().sum()).backward()
        got[lib] = [_np(t.grad) for t in (a, b, v, c)]
    for ours, ref in zip(got[ss], got[torch]):
        np.testing.assert_allclose(ours, ref, **TOL)


def test_non_contiguous_base():
    # The base is laid out transposed in memory: gradients go through its storage layout.
    def f(lib, a, c):
        d = (a * 1).detach().t().detach()  # a root tensor (no ._base) with strides (1, 4)
        d[1].copy_(c)
        d[0, 1:].mul_(c[1:])
        return d * a.t()
    run_both(f, (3, 4), (3,))


def test_older_expanded_view_after_the_base_changes():
    # The old view maps several elements to one location: its regenerated backward sums them.
    def f(lib, a, c):
        b = a * 1
        e = b.unsqueeze(0).expand(2, 4, 3)
        b[2].copy_(c)
        return e * 1
    run_both(f, (4, 3), (3,))
