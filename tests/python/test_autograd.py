"""shanshui.autograd from Python: backward / grad, grad mode, custom Functions, gradcheck.

Custom functions are checked three ways: gradcheck (float64 central
differences), against the same function written with torch.autograd.Function
(torch is a test-only dependency), and against hand-derived formulas.
"""
import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import shanshui as ss
from shanshui.autograd import Function, GradcheckError, gradcheck, gradgradcheck

RNG = np.random.default_rng(1234)


def t64(a, requires_grad=False):
    x = ss.from_numpy(np.array(a, dtype=np.float64))
    return x.requires_grad_() if requires_grad else x


def rand(*shape, requires_grad=False):
    return t64(RNG.standard_normal(shape), requires_grad)


def npy(t):
    return np.array(t.detach().numpy(), dtype=np.float64)


def to_torch(t, requires_grad=False):
    return torch.tensor(npy(t), dtype=torch.float64, requires_grad=requires_grad)


# ---- backward and grad -------------------------------------------------------------


def test_backward_simple_and_accumulates():
    x = rand(3, 4, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 2 * npy(x))  # d(sum x^2)/dx = 2x
    (x * x).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 4 * npy(x))  # accumulated over two calls


def test_second_backward_without_retain_graph_raises():
    x = rand(5, requires_grad=True)
    y = x.exp().sum()  # exp saves its output
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = rand(5, requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(npy(x.grad), 2 * np.exp(npy(x)), rtol=1e-12)


def test_non_scalar_backward_needs_gradient():
    x = rand(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match="scalar"):
        ss.autograd.backward(y)
    g = rand(2, 3)
    y.backward(g)
    np.testing.assert_allclose(npy(x.grad), 2 * npy(g))


def test_backward_of_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ss.autograd.backward(rand(3).sum())


def test_autograd_backward_multiple_roots_and_inputs():
    x = rand(3, requires_grad=True)
    w = rand(3, requires_grad=True)
    a, b = (x * w).sum(), (x * x).sum()
    ss.autograd.backward([a, b], [None, t64(2.0)])
    np.testing.assert_allclose(npy(x.grad), npy(w) + 4 * npy(x))  # d(a + 2b)/dx = w + 4x
    np.testing.assert_allclose(npy(w.grad), npy(x))

    x.grad = None
    w.grad = None
    ss.autograd.backward((x * w).sum(), inputs=[w])
    assert x.grad is None  # only the listed inputs accumulate
    np.testing.assert_allclose(npy(w.grad), npy(x))


def test_grad_returns_tuple_and_leaves_dot_grad_alone():
    x = rand(4, requires_grad=True)
    y = rand(4, requires_grad=True)
    (gx, gy) = ss.autograd.grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(npy(gx), npy(y))
    np.testing.assert_allclose(npy(gy), npy(x))
    assert x.grad is None and y.grad is None
    (gx,) = ss.autograd.grad((x * 3).sum(), x)
    np.testing.assert_allclose(npy(gx), np.full(4, 3.0))


def test_grad_allow_unused_and_materialize():
    x = rand(3, requires_grad=True)
    z = rand(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ss.autograd.grad(x.sum(), [x, z])
    gx, gz = ss.autograd.grad(x.sum(), [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(npy(gx), np.ones(3))
    _, gz = ss.autograd.grad(x.sum(), [x, z], materialize_grads=True)
    np.testing.assert_allclose(npy(gz), np.zeros(3))


def test_grad_create_graph_higher_order():
    x = rand(5, requires_grad=True)
    (g,) = ss.autograd.grad((x * x * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(npy(g), 3 * npy(x) ** 2)  # d(x^3) = 3x^2
    assert g.requires_grad
    (gg,) = ss.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(npy(gg), 6 * npy(x))  # d(3x^2) = 6x


def test_grad_with_grad_outputs():
    x = rand(2, 3, requires_grad=True)
    v = rand(2, 3)
    (g,) = ss.autograd.grad(x * x, x, grad_outputs=v)
    np.testing.assert_allclose(npy(g), 2 * npy(x) * npy(v))


def test_grad_bad_arguments():
    x = rand(3, requires_grad=True)
    with pytest.raises(TypeError):
        ss.autograd.grad(x.sum(), "x")
    with pytest.raises(RuntimeError):
        ss.autograd.grad(x.sum(), rand(3))  # input does not require grad
    with pytest.raises((RuntimeError, ValueError)):
        ss.autograd.grad([x.sum(), x.sum()], x, grad_outputs=[None])


# ---- grad mode -------------------------------------------------------------------------


def test_no_grad_context_manager():
    x = rand(3, requires_grad=True)
    assert ss.is_grad_enabled()
    with ss.no_grad():
        assert not ss.is_grad_enabled()
        y = x * 2
        with ss.enable_grad():
            assert ss.is_grad_enabled()
            z = x * 2
        assert not ss.is_grad_enabled()
    assert ss.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(KeyError):
        with ss.no_grad():
            raise KeyError("x")
    assert ss.is_grad_enabled()


def test_no_grad_as_decorator():
    x = rand(3, requires_grad=True)

    @ss.no_grad()
    def f(a):
        return a * 2

    @ss.no_grad
    def g(a):
        return a * 2

    @ss.enable_grad()
    def h(a):
        return a * 2

    assert not f(x).requires_grad
    assert not g(x).requires_grad
    assert ss.is_grad_enabled()
    assert f.__name__ == "f"
    with ss.no_grad():
        assert h(x).requires_grad
        assert not ss.is_grad_enabled()


def test_no_grad_decorates_generators():
    @ss.no_grad()
    def gen():
        for _ in range(2):
            yield ss.is_grad_enabled()

    it = gen()
    assert next(it) is False
    assert ss.is_grad_enabled()  # the caller's mode between resumes
    assert next(it) is False


def test_set_grad_enabled_function_context_decorator():
    x = rand(2, requires_grad=True)
    ss.set_grad_enabled(False)
    try:
        assert not ss.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        ss.set_grad_enabled(True)
    assert ss.is_grad_enabled()
    with ss.set_grad_enabled(False):
        assert not ss.is_grad_enabled()
    assert ss.is_grad_enabled()

    @ss.set_grad_enabled(False)
    def f():
        return ss.is_grad_enabled()

    assert ss.is_grad_enabled()  # decorating must not change the mode
    assert f() is False
    assert ss.is_grad_enabled()
    with pytest.raises(TypeError):
        ss.set_grad_enabled("no")


def test_grad_mode_is_thread_local():
    seen = []
    with ss.no_grad():
        th = threading.Thread(target=lambda: seen.append(ss.is_grad_enabled()))
        th.start()
        th.join()
    assert seen == [True]


# ---- custom Functions --------------------------------------------------------------------


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)  # saving the output: must not leak or form a cycle
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class TorchExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class ScaledMul(Function):
    """out = alpha * x * y (broadcasting) + y; alpha is a Python float (gets None)."""

    @staticmethod
    def forward(ctx, x, alpha, y):
        ctx.save_for_backward(x, y)
        ctx.alpha = alpha
        return x * y * alpha + y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = g * y * ctx.alpha  # summed back to x's shape by the engine
        if ctx.needs_input_grad[2]:
            gy = g * x * ctx.alpha + g
        return gx, None, gy


class TorchScaledMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, y):
        ctx.save_for_backward(x, y)
        ctx.alpha = alpha
        return x * y * alpha + y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = (g * y * ctx.alpha).sum(0, keepdim=True) if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.alpha + g if ctx.needs_input_grad[2] else None
        return gx, None, gy


def test_custom_exp_matches_torch_and_formula():
    a = RNG.standard_normal((3, 4))
    x = t64(a, requires_grad=True)
    y = Exp.apply(x)
    assert y.requires_grad and y.grad_fn is not None
    assert y.grad_fn.name() == "ExpBackward"
    g = RNG.standard_normal((3, 4))
    y.backward(t64(g))

    xt = torch.tensor(a, requires_grad=True)
    yt = TorchExp.apply(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(npy(y), yt.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(npy(x.grad), xt.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(npy(x.grad), g * np.exp(a), rtol=1e-14)  # d exp(x) = exp(x)


def test_custom_exp_gradcheck_and_gradgradcheck():
    assert gradcheck(Exp.apply, (rand(2, 3, requires_grad=True),))
    # backward is written with differentiable ops on the saved output, so double backward works
    assert gradgradcheck(Exp.apply, (rand(2, 3, requires_grad=True),))
    x = rand(4, requires_grad=True)
    (g,) = ss.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = ss.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(npy(gg), np.exp(npy(x)), rtol=1e-12)


def test_custom_two_input_op_matches_torch():
    a, b = RNG.standard_normal((1, 4)), RNG.standard_normal((3, 4))
    x, y = t64(a, True), t64(b, True)
    out = ScaledMul.apply(x, 0.5, y)
    g = RNG.standard_normal((3, 4))
    out.backward(t64(g))

    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    outt = TorchScaledMul.apply(xt, 0.5, yt)
    outt.backward(torch.tensor(g))
    np.testing.assert_allclose(npy(out), outt.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(npy(x.grad), xt.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(npy(y.grad), yt.grad.numpy(), rtol=1e-13)
    assert gradcheck(lambda p, q: ScaledMul.apply(p, 0.5, q), (rand(1, 4, requires_grad=True),
                                                             rand(3, 4, requires_grad=True)))


def test_needs_input_grad_and_partial_requires_grad():
    seen = {}

    class F(Function):
        @staticmethod
        def forward(ctx, x, k, y):
            seen["needs"] = ctx.needs_input_grad
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    x, y = rand(3, requires_grad=True), rand(3)
    F.apply(x, 2, y).sum().backward()
    assert seen["needs"] == (True, False, False)
    np.testing.assert_allclose(npy(x.grad), np.ones(3))


def test_forward_runs_under_no_grad_and_no_graph_without_requires_grad():
    inside = {}

    class F(Function):
        @staticmethod
        def forward(ctx, x):
            inside["mode"] = ss.is_grad_enabled()
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = rand(3, requires_grad=True)
    y = F.apply(x)
    assert inside["mode"] is False and y.requires_grad
    assert not F.apply(rand(3)).requires_grad
    with ss.no_grad():
        assert not F.apply(x).requires_grad


def test_mark_non_differentiable_and_multiple_outputs():
    class SplitSign(Function):
        @staticmethod
        def forward(ctx, x):
            mask = (x > 0).double()
            ctx.mark_non_differentiable(mask)
            return x * 3, mask, "label"

        @staticmethod
        def backward(ctx, g, g_mask, g_label):
            assert g_label is None
            np.testing.assert_array_equal(npy(g_mask), 0.0)  # zeros for a non-differentiable output
            return g * 3

    x = rand(4, requires_grad=True)
    y, mask, label = SplitSign.apply(x)
    assert label == "label"
    assert y.requires_grad and not mask.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(4, 3.0))


def test_returning_an_input_does_not_rewrite_its_history():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = rand(3, requires_grad=True)
    y = Identity.apply(x)
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(3, 2.0))


def test_python_exception_in_backward_surfaces():
    class Boom(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom from backward")

    x = rand(3, requires_grad=True)
    with pytest.raises(ValueError, match="boom from backward"):
        Boom.apply(x).sum().backward()
    with pytest.raises(ValueError, match="boom from backward"):
        ss.autograd.grad(Boom.apply(x).sum(), x)
    # the engine is still usable afterwards
    (x * 2).sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(3, 2.0))


def test_wrong_number_of_gradients_raises():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = rand(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 1, got 2\)"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        TooFew.apply(x, rand(3)).sum().backward()


def test_extra_none_gradients_are_allowed():
    class ExtraNone(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    x = rand(3, requires_grad=True)
    ExtraNone.apply(x).sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.ones(3))


def test_wrong_gradient_shape_raises():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return ss.from_numpy(np.ones(5))

    x = rand(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"invalid gradient at index 0 - got \[5\] but expected shape compatible "
                                           r"with \[2, 3\]"):
        BadShape.apply(x).sum().backward()


def test_gradient_for_non_tensor_input_must_be_none():
    class F(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    with pytest.raises(RuntimeError, match="position 1"):
        F.apply(rand(3, requires_grad=True), 2.0).sum().backward()


def test_gradient_must_be_a_tensor():
    class F(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return 1.0

    with pytest.raises(RuntimeError, match="Tensor or None"):
        F.apply(rand(3, requires_grad=True)).sum().backward()


def test_custom_function_saved_tensors_freed_after_backward():
    x = rand(3, requires_grad=True)
    y = Exp.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = Exp.apply(x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(npy(x.grad), 3 * np.exp(npy(x)), rtol=1e-12)


def test_ctx_is_freed_with_the_graph():
    refs = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            refs.append(weakref.ref(ctx))
            y = x.exp()
            ctx.save_for_backward(x, y)
            return y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y

    gc.disable()
    try:
        y = Keep.apply(rand(3, requires_grad=True))
        assert refs[0]() is not None
        del y  # no reference cycle: plain refcounting frees node, ctx and saved tensors
        assert refs[0]() is None
    finally:
        gc.enable()


def test_setup_context_style_and_kwargs():
    class Mul(Function):
        @staticmethod
        def forward(x, y, scale=1.0):
            return x * y * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, scale = inputs
            ctx.save_for_backward(x, y)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y * ctx.scale, g * x * ctx.scale, None

    x, y = rand(3, requires_grad=True), rand(3, requires_grad=True)
    Mul.apply(x, y, scale=2.0).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 2 * npy(y))
    np.testing.assert_allclose(npy(y.grad), 2 * npy(x))


def test_mark_dirty_inplace_function():
    class AddOne_(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1.0)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    leaf = rand(3, requires_grad=True)
    h = leaf * 2
    out = AddOne_.apply(h)
    np.testing.assert_allclose(npy(out), 2 * npy(leaf) + 1)
    assert h.grad_fn.name() == "AddOne_Backward"  # the tensor itself took the new history
    out.sum().backward()
    np.testing.assert_allclose(npy(leaf.grad), np.full(3, 2.0))
    with pytest.raises(RuntimeError, match="leaf"):
        AddOne_.apply(rand(3, requires_grad=True))


def test_set_materialize_grads_false_passes_none():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1 is None, g2 is None))
            return g1 * 2 if g1 is not None else None

    x = rand(3, requires_grad=True)
    a, _ = Two.apply(x)
    a.sum().backward()
    assert seen == [(False, True)]
    np.testing.assert_allclose(npy(x.grad), np.full(3, 2.0))


def test_once_differentiable_backward_records_nothing():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @ss.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x

    x = rand(3, requires_grad=True)
    (g,) = ss.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(npy(g), 2 * npy(x))
    assert not g.requires_grad


def test_custom_function_zero_size_and_scalar_inputs():
    assert gradcheck(Exp.apply, (rand(0, 3, requires_grad=True),))
    assert gradcheck(Exp.apply, (t64(0.3, requires_grad=True),))  # 0-d input
    y = Exp.apply(rand(0, requires_grad=True))
    assert tuple(y.shape) == (0,) and y.requires_grad


def test_function_object_is_not_callable():
    with pytest.warns(DeprecationWarning):
        f = Exp()
    with pytest.raises(RuntimeError, match="apply"):
        f(rand(2))


# ---- gradcheck ----------------------------------------------------------------------


class WrongExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * 1.01  # deliberately wrong by 1%


def test_gradcheck_detects_wrong_backward():
    x = rand(2, 3, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"output 0 with respect to input 0") as info:
        gradcheck(WrongExp.apply, (x,))
    assert isinstance(info.value, RuntimeError)
    assert "element (0, 0)" in str(info.value)
    assert gradcheck(WrongExp.apply, (x,), raise_exception=False) is False


def test_gradcheck_names_the_wrong_input():
    class WrongSecond(Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * y  # d/dy should be g * x

    with pytest.raises(GradcheckError, match="with respect to input 1"):
        gradcheck(WrongSecond.apply, (rand(3, requires_grad=True), rand(3, requires_grad=True)))


def test_gradcheck_builtin_ops_non_contiguous_and_multi_output():
    a = rand(3, 4, requires_grad=True)
    b = rand(4, 3).transpose(0, 1).detach().requires_grad_()  # non-contiguous leaf
    assert not b.is_contiguous()
    assert gradcheck(lambda p, q: (p * q).sum(1), (a, b))
    assert gradcheck(lambda p: (p.exp(), p * p), (rand(2, 2, requires_grad=True),))


def test_gradcheck_input_validation():
    with pytest.raises(ValueError, match="require gradient"):
        gradcheck(lambda p: p * 2, (rand(3),))
    with pytest.warns(UserWarning, match="double precision"):
        gradcheck(lambda p: p * 2, (ss.from_numpy(np.ones(3, np.float32)).requires_grad_(),), eps=1e-2,
                  atol=1e-2, rtol=1e-2)
