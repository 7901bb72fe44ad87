"""Each layer against its torch.nn counterpart with the same weights: forward,
input gradients and parameter gradients; default initialisation; reprs; bad input."""
import math

import numpy as np
import pytest
import torch

import shanshui as ss
from shanshui import nn
from nn_torch_helpers import assert_close, check_module, load_torch_state

rng = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear(bias, shape):
    check_module(nn.Linear(3, 4, bias=bias), torch.nn.Linear(3, 4, bias=bias), randn(*shape))


def test_linear_float64():
    check_module(nn.Linear(3, 2, dtype=ss.float64), torch.nn.Linear(3, 2, dtype=torch.float64),
                 randn(4, 3, dtype=np.float64), rtol=1e-12, atol=1e-12)


def test_linear_default_init_is_pytorchs():
    ss.manual_seed(0)
    lin = nn.Linear(200, 300)
    bound = 1 / math.sqrt(200)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (300, 200) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-a, a) has std a / sqrt(3)
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert lin.weight.requires_grad and lin.bias.requires_grad


def test_linear_wrong_input_shape_raises():
    with pytest.raises(ValueError, match="linear"):
        nn.Linear(3, 4)(ss.randn(2, 5))
    with pytest.raises(TypeError):
        nn.Linear(3, 4, dtype=ss.int64)
    with pytest.raises(ValueError):
        nn.Linear(-1, 4)


@pytest.mark.parametrize("padding_idx", [None, 0, 2, -1])
def test_embedding(padding_idx):
    ref = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    ours = nn.Embedding(6, 3, padding_idx=padding_idx)
    idx = np.array([[0, 2, 5], [2, 2, 1]], dtype=np.int64)
    check_module(ours, ref, idx)
    if padding_idx is not None:
        p = padding_idx % 6
        assert ours.padding_idx == p == ref.padding_idx
        assert float(ours.weight.grad[p].abs().sum()) == 0.0


def test_embedding_default_init_and_padding_row():
    ss.manual_seed(0)
    e = nn.Embedding(400, 50, padding_idx=3)
    w = e.weight.detach().numpy()
    assert (w[3] == 0).all()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1.0) < 0.02
    assert repr(e) == "Embedding(400, 50, padding_idx=3)"


def test_embedding_from_pretrained():
    w = ss.randn(4, 3)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    assert ss.equal(e(ss.tensor([1, 3])), w[ss.tensor([1, 3])])
    e2 = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert e2.weight.requires_grad and e2.padding_idx == 1
    tw = torch.tensor(w.numpy())
    assert_close(e2(ss.tensor([0, 1])), torch.nn.Embedding.from_pretrained(tw, freeze=False)(torch.tensor([0, 1])))
    with pytest.raises(ValueError):
        nn.Embedding.from_pretrained(ss.randn(4))


def test_embedding_bad_indices_raise():
    e = nn.Embedding(5, 2)
    with pytest.raises(IndexError):
        e(ss.tensor([5]))
    with pytest.raises((TypeError, ValueError)):
        e(ss.tensor([1.0]))
    with pytest.raises(ValueError):
        nn.Embedding(5, 2, padding_idx=5)


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 6), (6,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, True)])
def test_layer_norm(shape, normalized, affine, bias):
    ref = torch.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    ours = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    if affine:  # non-trivial weights so their gradients are exercised
        with torch.no_grad():
            ref.weight.normal_()
            if bias:
                ref.bias.normal_()
    check_module(ours, ref, randn(*shape) * 3 + 1, rtol=1e-4, atol=1e-5)
    assert repr(ours) == repr(ref)


def test_layer_norm_defaults_and_errors():
    ln = nn.LayerNorm(5)
    assert ss.equal(ln.weight, ss.ones(5)) and ss.equal(ln.bias, ss.zeros(5))
    assert ln.normalized_shape == (5,) and ln.eps == 1e-5
    with pytest.raises(ValueError, match="layer_norm"):
        ln(ss.randn(3, 4))


def test_dropout():
    d = nn.Dropout(0.3)
    x = ss.ones(200, 200)
    y = d(x)
    kept = (y.numpy() != 0).mean()
    assert abs(kept - 0.7) < 0.01
    assert np.allclose(y.numpy()[y.numpy() != 0], 1 / 0.7)
    d.eval()
    assert ss.equal(d(x), x)
    assert ss.equal(nn.Dropout(0.0)(x), x)
    assert float(nn.Dropout(1.0)(x).abs().sum()) == 0.0
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    # The gradient is the same mask times 1/(1-p).
    xg = ss.ones(50, 50, requires_grad=True)
    out = nn.Dropout(0.5)(xg)
    out.sum().backward()
    assert ss.equal(xg.grad, out.detach())


ACTIVATIONS = [
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: nn.Softmax(dim=0), lambda: torch.nn.Softmax(dim=0)),
    (lambda: nn.Identity(), lambda: torch.nn.Identity()),
]


@pytest.mark.parametrize("make", ACTIVATIONS)
def test_activation(make):
    ours, ref = make[0](), make[1]()
    check_module(ours, ref, randn(3, 5) * 2)
    assert repr(ours) == repr(ref)


def test_softmax_implicit_dim_matches_torch():
    x = randn(2, 3, 4)
    with pytest.warns(UserWarning):
        ref = torch.nn.Softmax()(torch.tensor(x))
    assert_close(nn.Softmax()(ss.tensor(x)), ref)
    assert repr(nn.Softmax()) == "Softmax(dim=None)"


def test_reprs_match_torch():
    pairs = [
        (nn.Linear(3, 4), torch.nn.Linear(3, 4)),
        (nn.Linear(3, 4, bias=False), torch.nn.Linear(3, 4, bias=False)),
        (nn.Embedding(5, 2), torch.nn.Embedding(5, 2)),
        (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (nn.ELU(inplace=True), torch.nn.ELU(inplace=True)),
        (nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1, inplace=True)),
        (nn.Sequential(nn.Linear(2, 2), nn.GELU()), torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.GELU())),
        (nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Tanh()]),
         torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.Tanh()])),
        (nn.ModuleDict({"a": nn.Sigmoid()}), torch.nn.ModuleDict({"a": torch.nn.Sigmoid()})),
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        (nn.Module(), torch.nn.Module()),
    ]
    for ours, ref in pairs:
        assert repr(ours) == repr(ref)


def test_mlp_matches_torch_end_to_end():
    ref = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.GELU(), torch.nn.LayerNorm(16), torch.nn.Dropout(0.0),
                              torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    ours = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Dropout(0.0), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))
    check_module(ours, ref, randn(8, 6), rtol=1e-4, atol=1e-5)


def test_python_model_with_torch_weights():
    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 8, padding_idx=0)
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(8, 8) for _ in range(2)])
            self.norm = torch.nn.LayerNorm(8)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, idx):
            h = self.emb(idx)
            for b in self.blocks:
                h = h + torch.relu(b(h))
            return self.head(self.norm(h)).mean(1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 8, padding_idx=0)
            self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(2)])
            self.norm = nn.LayerNorm(8)
            self.head = nn.Linear(8, 4)

        def forward(self, idx):
            h = self.emb(idx)
            for b in self.blocks:
                h = h + ss.relu(b(h))
            return self.head(self.norm(h)).mean(1)

    idx = rng.integers(0, 10, size=(3, 5)).astype(np.int64)
    check_module(Net(), TNet(), idx, rtol=1e-4, atol=1e-5)


def test_containers_protocols():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    assert [k for k, _ in seq[1:].named_children()] == ["1", "2"]  # a slice keeps the names, as torch
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[0]
    assert [k for k, _ in seq.named_children()] == ["0", "1"] and seq[1] is c
    seq.insert(0, a)
    assert seq[0] is a and len(seq) == 3
    with pytest.raises(IndexError):
        seq[3]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("first", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["first.weight", "first.bias"]
    assert named(ss.randn(4, 2)).shape == (4, 3)

    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml += [nn.ReLU()]
    ml.extend([nn.Tanh()])
    ml.insert(1, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["Linear", "Sigmoid", "ReLU", "Tanh"]
    assert [type(m).__name__ for m in ml[1:3]] == ["Sigmoid", "ReLU"]
    with pytest.raises(TypeError):
        ml.extend(nn.ReLU())
    with pytest.raises(NotImplementedError):
        ml(ss.zeros(1))

    md = nn.ModuleDict({"x": nn.Linear(1, 1)})
    md["y"] = nn.ReLU()
    md.update([("z", nn.Tanh())])
    assert list(md) == ["x", "y", "z"] and "y" in md and len(md) == 3
    assert md.pop("y").__class__ is nn.ReLU and list(md.keys()) == ["x", "z"]
    with pytest.raises(KeyError):
        md["nope"]


def test_sequential_matches_torch_state_dict_keys():
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)))
    ref = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                              torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3)))
    assert list(ours.state_dict()) == list(ref.state_dict())
    load_torch_state(ours, ref)
