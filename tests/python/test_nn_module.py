"""nn.Module from Python: subclassing as in PyTorch, registration by attribute
assignment, mixing Python and C++ modules in both directions, forward hooks,
traversal, modes, state_dict / load_state_dict, repr."""
import gc
from collections import OrderedDict

import numpy as np
import pytest
import torch

import shanshui as ss
from shanshui import nn


class Scale(nn.Module):
    def __init__(self, s=2.0):
        super().__init__()
        self.s = nn.Parameter(ss.tensor([s]))
        self.note = "python attribute"

    def forward(self, x):
        return x * self.s


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)
        self.scale = Scale()
        self.w = nn.Parameter(ss.randn(2))
        self.register_buffer("steps", ss.zeros(1))
        self.register_buffer("cache", ss.zeros(2), persistent=False)

    def forward(self, x, *, shift=0.0):
        return self.scale(self.fc2(self.act(self.fc1(x)))) * self.w + shift


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(4, 2)
        self.scale = TorchScale()
        self.w = torch.nn.Parameter(torch.randn(2))
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("cache", torch.zeros(2), persistent=False)


class TorchScale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.s = torch.nn.Parameter(torch.tensor([2.0]))


def test_attribute_assignment_registers_and_reads_back_the_same_objects():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["w", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                                      "scale.s"]
    assert net.fc1 is net.fc1 and net.scale is net.scale
    assert net.scale.note == "python attribute"  # the Python object itself, not a new wrapper
    assert net.fc1.weight is net.fc1.weight
    assert isinstance(net.fc1.weight, nn.Parameter) and isinstance(net.fc1.weight, ss.Tensor)
    w = nn.Parameter(ss.ones(2))
    net.w = w
    assert net.w is w
    assert list(net.parameters())[0] is w
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2", "scale"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2", "scale"]
    assert len(list(net.modules())) == 5


def test_state_dict_keys_and_order_equal_torchs():
    ours, ref = Net(), TorchNet()
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    assert isinstance(ours.state_dict(), OrderedDict)
    sd = ours.state_dict(prefix="m.")
    assert next(iter(sd)) == "m.w"
    kv = ours.state_dict(keep_vars=True)
    assert kv["fc1.weight"] is ours.fc1.weight
    assert not ours.state_dict()["fc1.weight"].requires_grad


def test_torch_state_dict_loads_and_matches_forward_and_backward():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    res = ours.load_state_dict({k: ss.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    y_ref = ref(torch.tensor(x))
    y = ours(ss.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    (y_ref ** 2).sum().backward()
    (y ** 2).sum().backward()
    for (n, p), (n2, p2) in zip(ours.named_parameters(), ref.named_parameters()):
        assert n == n2
        np.testing.assert_allclose(p.grad.numpy(), p2.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_copies_in_place_and_reports_keys():
    a, b = Net(), Net()
    w_before = b.fc1.weight
    b.load_state_dict(a.state_dict())
    assert b.fc1.weight is w_before
    assert ss.equal(b.fc1.weight, a.fc1.weight)
    sd = a.state_dict()
    del sd["steps"]
    sd["extra.weight"] = ss.zeros(1)
    with pytest.raises(RuntimeError, match="steps"):
        b.load_state_dict(sd)
    r = b.load_state_dict(sd, strict=False)
    assert r.missing_keys == ["steps"] and r.unexpected_keys == ["extra.weight"]
    assert r == (["steps"], ["extra.weight"])
    assert repr(b.load_state_dict(a.state_dict())) == "<All keys matched successfully>"


def test_load_state_dict_shape_mismatch_names_key_and_shapes_and_changes_nothing():
    a = nn.Linear(3, 4)
    before = a.weight.detach().clone()
    bad = {"weight": ss.zeros(5, 3), "bias": ss.zeros(4)}
    with pytest.raises(RuntimeError) as e:
        a.load_state_dict(bad)
    msg = str(e.value)
    assert "weight" in msg and "[5, 3]" in msg and "[4, 3]" in msg
    assert ss.equal(a.weight, before)
    with pytest.raises(RuntimeError):
        a.load_state_dict(bad, strict=False)
    with pytest.raises(TypeError):
        a.load_state_dict({"weight": [1, 2, 3], "bias": ss.zeros(4)})
    with pytest.raises(TypeError):
        a.load_state_dict(5)


def test_load_state_dict_assign_takes_the_given_tensors():
    a = nn.Linear(2, 2)
    w = ss.ones(2, 2)
    a.load_state_dict({"weight": w, "bias": ss.zeros(2)}, assign=True)
    assert isinstance(a.weight, nn.Parameter) and a.weight.requires_grad
    w.add_(1.0)  # shares memory with the given tensor
    assert a.weight[0, 0].item() == 2.0


def test_reassign_none_and_del_behave_as_torch():
    net = Net()
    net.w = None
    assert net.w is None
    assert "w" not in dict(net.named_parameters())
    assert "w" not in net.state_dict()
    with pytest.raises(TypeError, match="parameter 'fc1'|child module 'fc1'"):
        net.fc1 = ss.zeros(2)
    with pytest.raises(TypeError, match="parameter 'w'"):
        net.w = ss.zeros(2)  # a plain tensor where a parameter is registered
    net.fc1 = None
    assert net.fc1 is None and "fc1.weight" not in net.state_dict()
    net.fc1 = nn.Linear(3, 4)
    # It keeps its slot among the children, as in torch's _modules OrderedDict.
    assert [k for k in net.state_dict() if "." in k][0] == "fc1.weight"
    del net.fc2
    with pytest.raises(AttributeError):
        net.fc2
    net.steps = ss.ones(1)  # reassigning a buffer keeps it a buffer
    assert ss.equal(net.state_dict()["steps"], ss.ones(1))
    with pytest.raises(TypeError, match="buffer"):
        net.steps = 3
    net.fc2 = nn.Parameter(ss.zeros(1))  # a name may change kind
    assert "fc2" in dict(net.named_parameters())
    net.plain = ss.zeros(3)  # a plain tensor on a new name is just an attribute
    assert "plain" not in net.state_dict()


def test_registration_errors_are_pytorchs():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", ss.zeros(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("forward", ss.zeros(1))
    with pytest.raises(TypeError):
        m.register_parameter("p", ss.zeros(1))
    with pytest.raises(TypeError):
        m.register_buffer("b", 3.0)
    with pytest.raises(TypeError):
        m.add_module("c", 3)


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)
            super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()

    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="NoForward"):
        NoForward()(ss.zeros(1))


def test_forward_gets_any_args_kwargs_and_returns_any_type():
    class Multi(nn.Module):
        def forward(self, a, b=1, *rest, scale=1.0, **kw):
            return {"sum": (a + b) * scale, "rest": rest, "kw": kw}

    out = Multi()(ss.ones(2), 2, 3, 4, scale=2.0, flag=True)
    assert out["sum"].tolist() == [6.0, 6.0] and out["rest"] == (3, 4) and out["kw"] == {"flag": True}


def test_forward_hooks_on_python_and_cpp_modules_see_and_replace_outputs():
    net = Net()
    seen = []
    h1 = net.fc1.register_forward_hook(lambda m, args, out: seen.append((type(m).__name__, args[0].shape, out.shape)))
    h2 = net.register_forward_hook(lambda m, args, out: out * 0)
    x = ss.randn(5, 3)
    y = net(x, shift=1.0)
    assert seen == [("Linear", (5, 3), (5, 4))]
    assert y.tolist() == [[0.0, 0.0]] * 5
    h2.remove()
    h1.remove()
    assert not ss.equal(net(x), ss.zeros(5, 2))
    assert len(seen) == 1
    calls = []
    with net.register_forward_hook(lambda m, a, kw, o: calls.append(kw), with_kwargs=True):
        net(x, shift=2.0)
    net(x)
    assert calls == [{"shift": 2.0}]


def test_hooks_fire_when_cpp_calls_a_python_module():
    # A C++ Sequential forwarding through C++ (Module::operator()) reaches the
    # Python forward through the trampoline, and the Python hook may replace its output.
    seq = nn.Sequential(nn.Linear(2, 2), Scale(3.0))
    seq[1].register_forward_hook(lambda m, args, out: out + 100.0)
    x = ss.ones(2)
    np.testing.assert_allclose(seq._cpp_call(x).detach().numpy(), seq(x).detach().numpy())
    assert seq._cpp_call(x).min().item() > 50


def test_python_module_in_cpp_container_outlives_its_python_reference():
    seq = nn.Sequential(Scale(3.0))
    gc.collect()
    assert seq[0].note == "python attribute"
    assert seq._cpp_call(ss.ones(1)).item() == 3.0
    outer = nn.Sequential(nn.Sequential(Scale(4.0)))
    gc.collect()
    assert outer(ss.ones(1)).item() == 4.0


def test_train_eval_zero_grad_apply_requires_grad():
    net = Net()
    assert net.training and net.fc1.training
    assert net.eval() is net
    assert not net.training and not net.scale.training and not net.fc1.training
    net.train()
    net.training = False  # this module only, as torch
    assert not net.training and net.fc1.training
    net.train()
    net(ss.randn(2, 3)).sum().backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert net.fc1.weight.grad is not None and net.fc1.weight.grad.abs().sum().item() == 0
    net.zero_grad()
    assert net.fc1.weight.grad is None
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["Linear", "ReLU", "Linear", "Scale", "Net"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())

    class Overrides(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)
            self.calls = []

        def train(self, mode=True):
            self.calls.append(mode)
            return super().train(mode)

    o = Overrides()
    outer = nn.Sequential(o)
    outer.eval()  # C++ train() recursion reaches the Python override
    assert o.calls == [False] and not o.inner.training


def test_double_converts_parameters_in_place():
    lin = nn.Linear(3, 2)
    w = lin.weight
    assert lin.double() is lin
    assert lin.weight is w and w.dtype == ss.float64
    assert lin(ss.randn(4, 3, dtype=ss.float64)).dtype == ss.float64
    lin.to(ss.float32)
    assert w.dtype == ss.float32


def test_get_submodule_and_repr():
    net = Net()
    assert net.get_submodule("scale") is net.scale
    with pytest.raises(AttributeError):
        net.get_submodule("nope")
    ref = TorchNet()
    # Same layout as torch (Scale has no extra_repr on either side).
    assert repr(net) == repr(ref).replace("TorchScale", "Scale").replace("TorchNet", "Net")

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)

        def extra_repr(self):
            return "k=1"

    assert repr(WithExtra()) == "WithExtra(\n  k=1\n  (lin): Linear(in_features=1, out_features=1, bias=True)\n)"


def test_parameter_class():
    t = ss.ones(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, ss.Tensor)
    t.add_(1.0)  # shares memory, as torch.nn.Parameter
    assert p[0].item() == 2.0
    assert not nn.Parameter(ss.ones(1), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\n")
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is ss.Tensor
