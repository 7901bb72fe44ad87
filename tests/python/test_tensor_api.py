"""The PyTorch-shaped Python API: creation, metadata, conversions, autograd
properties, operators, in-place ops and the Python protocols."""
import copy
import pickle

import numpy as np
import pytest

import shanshui as ss


# ---- creation and dtype inference ------------------------------------------------------------
@pytest.mark.parametrize("data,dtype", [
    ([1, 2, 3], ss.int64), ([1.0, 2], ss.float32), ([True, False], ss.bool), ([True, 2], ss.int64),
    (3.5, ss.float32), (7, ss.int64), (False, ss.bool), ([[1, 2], [3, 4]], ss.int64),
    (np.array([1.0, 2.0]), ss.float64), (np.array([1, 2], np.int32), ss.int64), (np.float64(2.0), ss.float64),
    ([], ss.float32),
])
def test_tensor_infers_dtype_like_torch(data, dtype):
    t = ss.tensor(data)
    assert t.dtype == dtype
    assert t.tolist() == np.asarray(data).tolist()


def test_tensor_from_nested_and_explicit_dtype():
    t = ss.tensor([[1, 2, 3], [4, 5, 6]], dtype=ss.float64, requires_grad=True)
    assert t.shape == (2, 3) and t.dtype == ss.float64 and t.requires_grad and t.is_leaf
    assert ss.tensor([ss.tensor(1.0), ss.tensor(2.0)]).tolist() == [1.0, 2.0]
    c = ss.tensor(t)
    assert not c.requires_grad and c.tolist() == t.tolist()


def test_tensor_from_python_floats_keeps_the_asked_precision():
    torch = pytest.importorskip("torch")
    data = [[0.1, 0.3], [1e-300, 16777217.0]]
    for ss_dt, t_dt in ((ss.float64, torch.float64), (ss.float32, torch.float32), (ss.int64, torch.int64)):
        assert ss.tensor(data, dtype=ss_dt).tolist() == torch.tensor(data, dtype=t_dt).tolist()
    assert ss.tensor(0.3, dtype=ss.float64).item() == 0.3
    assert ss.tensor([0.3]).dtype == ss.float32  # no dtype: the default float32, as torch


def test_dtype_objects_and_aliases():
    assert ss.float is ss.float32 and ss.double is ss.float64 and ss.long is ss.int64
    assert repr(ss.float32) == "shanshui.float32" and str(ss.bool) == "shanshui.bool"
    assert ss.float64.is_floating_point and not ss.int64.is_floating_point
    assert ss.float32.itemsize == 4 and ss.bool.itemsize == 1
    assert ss.promote_types(ss.int64, ss.float32) == ss.float32


@pytest.mark.parametrize("f", [
    lambda: ss.zeros(2, 3), lambda: ss.zeros((2, 3)), lambda: ss.zeros([2, 3]), lambda: ss.ones(size=(2, 3)),
    lambda: ss.empty(2, 3), lambda: ss.rand(2, 3), lambda: ss.randn((2, 3)), lambda: ss.full((2, 3), 1.5),
])
def test_size_argument_forms(f):
    assert f().shape == (2, 3)


def test_factories():
    assert ss.zeros(2, dtype=ss.int64).tolist() == [0, 0]
    assert ss.ones(2, 2, requires_grad=True).requires_grad
    assert ss.full((2,), 7).dtype == ss.int64 and ss.full((2,), 7.0).dtype == ss.float32
    assert ss.full((1,), True).dtype == ss.bool
    assert ss.arange(5).tolist() == [0, 1, 2, 3, 4] and ss.arange(5).dtype == ss.int64
    assert ss.arange(1, 2, 0.5).tolist() == [1.0, 1.5] and ss.arange(1, 2, 0.5).dtype == ss.float32
    assert ss.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ss.eye(2).tolist() == [[1, 0], [0, 1]] and ss.eye(2, 3).shape == (2, 3)
    x = ss.ones(2, 3, dtype=ss.float64)
    for f in (ss.zeros_like, ss.ones_like, ss.empty_like, ss.rand_like, ss.randn_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == ss.float64
    assert ss.zeros_like(x, dtype=ss.int64).dtype == ss.int64
    assert ss.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    assert x.new_zeros(4).dtype == ss.float64 and x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert ss.randint(3, (100,)).max().item() < 3 and ss.randint(5, 8, (100,)).min().item() >= 5
    assert sorted(ss.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    b = ss.bernoulli(ss.full((1000,), 0.3))
    assert set(b.tolist()) <= {0.0, 1.0} and 0.2 < b.mean().item() < 0.4
    m = ss.multinomial(ss.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
    assert m.tolist() == [1, 1]
    u = ss.empty(1000).uniform_(2, 3)
    assert 2 <= u.min().item() and u.max().item() < 3
    n = ss.empty(1000, dtype=ss.float64).normal_(5, 0.1)
    assert abs(n.mean().item() - 5) < 0.05


def test_manual_seed_reproducible():
    ss.manual_seed(7)
    a = ss.randn(4)
    ss.manual_seed(7)
    assert ss.randn(4).tolist() == a.tolist()
    assert ss.initial_seed() == 7


def test_threads():
    n = ss.get_num_threads()
    ss.set_num_threads(1)
    assert ss.get_num_threads() == 1
    ss.set_num_threads(n)


# ---- metadata ------------------------------------------------------------------------------------
def test_metadata():
    x = ss.zeros(2, 3, 4)
    assert isinstance(x.shape, tuple) and isinstance(x.shape, ss.Size)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size(dim=0) == 2
    assert repr(x.shape) == "shanshui.Size([2, 3, 4])" and x.shape[1:] == (3, 4)
    assert isinstance(x.shape[1:], ss.Size) and x.shape.numel() == 24
    assert x.dim() == x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.stride() == (12, 4, 1) and x.stride(1) == 4
    assert x.is_contiguous() and not x.transpose(0, 1).is_contiguous()
    assert x.element_size() == 4 and x.dtype == ss.float32 and x.device == "cpu"
    assert x.is_floating_point() and not ss.zeros(1, dtype=ss.int64).is_floating_point()
    assert ss.is_tensor(x) and not ss.is_tensor([1])


# ---- conversions and values -------------------------------------------------------------------
def test_item_tolist_and_python_numbers():
    assert ss.tensor(2.5).item() == 2.5 and isinstance(ss.tensor(3).item(), int)
    assert ss.tensor([True]).item() is True
    assert ss.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert ss.tensor(1.5).tolist() == 1.5
    t = ss.tensor([3.7])
    assert float(t) == pytest.approx(3.7) and int(t) == 3 and bool(ss.tensor(0.0)) is False
    assert [1, 2, 3][ss.tensor(1)] == 2  # __index__


def test_to_and_casts():
    x = ss.tensor([1.7, -2.2])
    assert x.to(ss.float64).dtype == ss.float64 and x.double().dtype == ss.float64
    assert x.long().tolist() == [1, -2] and x.int().dtype == ss.int64
    assert x.bool().tolist() == [True, True] and x.float() is x
    assert x.to(ss.float32) is x and x.to("cpu") is x
    assert x.to(ss.zeros(1, dtype=ss.int64)).dtype == ss.int64
    assert x.to(dtype=ss.float64, copy=True).dtype == ss.float64
    c = x.to(ss.float32, copy=True)
    c[0] = 0
    assert x[0].item() != 0


def test_contiguous_clone_copy():
    x = ss.arange(6.0).reshape(2, 3)
    xt = x.t()
    assert not xt.is_contiguous() and xt.contiguous().is_contiguous()
    assert x.contiguous() is x
    c = x.clone()
    c.add_(1)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    y = ss.zeros(2, 3)
    assert y.copy_(ss.tensor([1, 2, 3])) is y
    assert y.tolist() == [[1, 2, 3], [1, 2, 3]]


# ---- autograd surface --------------------------------------------------------------------------------
def test_autograd_properties():
    x = ss.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.grad is None and x.grad_fn is None and x.is_leaf
    y = (x * x).sum()
    assert not y.is_leaf and y.grad_fn is not None and isinstance(y.grad_fn.name(), str)
    assert y.grad_fn.next_functions
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 2).sum().backward()  # accumulates
    assert x.grad.tolist() == [4.0, 6.0, 8.0]
    x.grad = None
    assert x.grad is None
    x.grad = ss.ones(3)
    assert x.grad.tolist() == [1, 1, 1]
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    z = ss.zeros(2)
    assert z.requires_grad_() is z and z.requires_grad
    z.requires_grad = False
    assert not z.requires_grad


def test_backward_with_gradient_and_retain():
    x = ss.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.backward(ss.tensor([1.0, 0.5]), retain_graph=True)
    y.backward(gradient=ss.tensor([1.0, 1.0]))
    assert x.grad.tolist() == [6.0, 4.5]


def test_retain_grad_and_hooks():
    x = ss.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    assert h.grad.tolist() == [4.0, 8.0] and seen == [[4.0, 8.0]]
    assert x.grad.tolist() == [80.0, 160.0]
    handle.remove()


def test_grad_mode():
    x = ss.ones(2, requires_grad=True)
    assert ss.is_grad_enabled()
    with ss.no_grad():
        assert not ss.is_grad_enabled()
        assert not (x * 2).requires_grad
        with ss.enable_grad():
            assert (x * 2).requires_grad
    assert ss.is_grad_enabled()

    @ss.no_grad()
    def f():
        return x * 2
    assert not f().requires_grad
    with ss.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad


def test_data_property():
    p = ss.ones(3, requires_grad=True)
    assert not p.data.requires_grad
    p.data = ss.zeros(3)
    assert p.tolist() == [0, 0, 0] and p.requires_grad


# ---- operators ---------------------------------------------------------------------------------------
def test_arithmetic_operators():
    a = ss.tensor([1.0, 2.0, 4.0])
    b = ss.tensor([2.0, 2.0, 2.0])
    assert (a + b).tolist() == [3, 4, 6] and (a - b).tolist() == [-1, 0, 2]
    assert (a * b).tolist() == [2, 4, 8] and (a / b).tolist() == [0.5, 1, 2]
    assert (a ** 2).tolist() == [1, 4, 16] and (2 ** a).tolist() == [2, 4, 16]
    assert (1 + a).tolist() == [2, 3, 5] and (1 - a).tolist() == [0, -1, -3]
    assert (2 * a).tolist() == [2, 4, 8] and (4 / a).tolist() == [4, 2, 1]
    assert (-a).tolist() == [-1, -2, -4] and (+a) is a and abs(-a).tolist() == [1, 2, 4]
    m = ss.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert (m @ m).tolist() == [[7, 10], [15, 22]]
    assert (ss.tensor([7, -7]) // 2).tolist() == [3, -4] and (ss.tensor([7, -7]) % 3).tolist() == [1, 2]


def test_python_scalar_promotion():
    i = ss.tensor([1, 2])
    f = ss.tensor([1.0, 2.0])
    assert (i + 1).dtype == ss.int64 and (i + 1.5).dtype == ss.float32 and (i / 2).dtype == ss.float32
    assert (f * 2).dtype == ss.float32 and (f.double() * 2.0).dtype == ss.float64
    assert (ss.tensor([True]) + True).dtype == ss.bool
    assert (i * True).dtype == ss.int64


def test_comparisons():
    a = ss.tensor([1, 2, 3])
    assert (a == 2).tolist() == [False, True, False] and (a != 2).tolist() == [True, False, True]
    assert (a < 2).tolist() == [True, False, False] and (a <= 2).tolist() == [True, True, False]
    assert (a > ss.tensor([0, 2, 4])).tolist() == [True, False, False] and (a >= 2).dtype == ss.bool
    assert (2 < a).tolist() == [False, False, True]
    m = a > 1
    assert (~m).tolist() == [True, False, False] and (m & (a < 3)).tolist() == [False, True, False]
    assert (m | (a < 2)).tolist() == [True, True, True] and (m ^ m).tolist() == [False] * 3
    assert 2 in a and 5 not in a
    assert (a == None) is False  # noqa: E711
    assert len({a, a.clone()}) == 2  # hashable by identity


def test_inplace_operators_keep_identity():
    x = ss.zeros(3)
    y = x
    x += 1
    x *= ss.tensor([1.0, 2.0, 3.0])
    x -= 0.5
    x /= 2
    assert x is y and x.tolist() == [0.25, 0.75, 1.25]
    assert x.add_(1) is x and x.mul_(2) is x and x.sub_(ss.ones(3), alpha=2) is x and x.div_(0.5) is x
    assert x.tolist() == [1.0, 3.0, 5.0]
    assert x.zero_() is x and x.tolist() == [0, 0, 0] and x.fill_(2).tolist() == [2, 2, 2]
    x.exp_().log_()
    assert x.tolist() == pytest.approx([2, 2, 2])
    x.clamp_(max=1.0)
    assert x.tolist() == [1, 1, 1]
    x.masked_fill_(ss.tensor([True, False, True]), 9)
    assert x.tolist() == [9, 1, 9]
    assert x._version > 0


def test_inplace_on_leaf_requiring_grad_raises():
    w = ss.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1
    with ss.no_grad():
        w -= 0.5
    assert w.tolist() == [0.5, 0.5]


# ---- methods mirror the free functions ------------------------------------------------------------
def test_reduction_methods():
    x = ss.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert x.sum().item() == 21 and x.sum(0).tolist() == [5, 7, 9] and x.sum((0, 1)).item() == 21
    assert x.sum(1, keepdim=True).shape == (2, 1) and x.mean().item() == 3.5
    v, i = x.max(1)
    assert v.tolist() == [5, 6] and i.tolist() == [1, 2]
    r = x.min(dim=0)
    assert r.values.tolist() == [1, 2, 3] and r.indices.tolist() == [0, 1, 0]
    assert x.max().item() == 6 and ss.max(x, ss.full((2, 3), 4.0)).tolist() == [[4, 5, 4], [4, 4, 6]]
    assert x.argmax().item() == 5 and x.argmin(1).tolist() == [0, 1]
    assert x.prod().item() == 720 and x.var().item() == pytest.approx(3.5)
    assert x.softmax(1).sum(1).tolist() == pytest.approx([1, 1])
    assert (x > 0).all().item() and not (x > 5).all().item() and (x > 5).any().item()
    assert (x > 2).all(1).tolist() == [False, False] and (x > 4).any(dim=0).tolist() == [False, True, True]


def test_shape_methods():
    x = ss.arange(24).reshape(2, 3, 4)
    assert x.view(6, 4).shape == (6, 4) and x.view((4, 6)).shape == (4, 6) and x.reshape(-1).shape == (24,)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x[:, :1].squeeze(1).shape == (2, 4)
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert ss.zeros(3, 1).expand(3, 4).shape == (3, 4) and ss.zeros(1, 4).expand(-1, 4).shape == (1, 4)
    assert [t.shape for t in x.split(2, 2)] == [(2, 3, 2), (2, 3, 2)]
    assert [t.shape for t in x.chunk(3, 1)] == [(2, 1, 4)] * 3
    assert len(x.unbind(0)) == 2 and x.repeat(1, 2, 1).shape == (2, 6, 4)
    assert x.narrow(2, 1, 2).shape == (2, 3, 2) and x.select(1, 0).shape == (2, 4)
    assert ss.cat([x, x], 0).shape == (4, 3, 4) and ss.stack([x, x], 1).shape == (2, 2, 3, 4)
    assert [list(t.shape) for t in x] == [[3, 4], [3, 4]]  # __iter__ over dim 0


def test_copy_and_pickle():
    x = ss.tensor([[1.0, 2.0]], requires_grad=True)
    y = copy.deepcopy(x)
    assert y.tolist() == x.tolist() and y.requires_grad and y.is_leaf and y.data_ptr() != x.data_ptr()
    z = pickle.loads(pickle.dumps(x))
    assert z.tolist() == x.tolist() and z.requires_grad and z.dtype == x.dtype


def test_repr_and_tensor_subclass_construction():
    assert repr(ss.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(ss.ones(2, requires_grad=True))
    big = repr(ss.arange(10000))
    assert "..." in big and len(big) < 500

    class Param(ss.Tensor):
        pass

    base = ss.ones(2)
    p = Param(base)
    assert isinstance(p, ss.Tensor) and isinstance(p, Param) and p.is_leaf
    p.requires_grad_()
    assert p.requires_grad and not base.requires_grad
    assert ss.Tensor(2, 3).shape == (2, 3) and ss.Tensor([1, 2]).dtype == ss.float32
