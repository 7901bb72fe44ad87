"""nn.init: PyTorch's signatures, bounds and statistics; in place, no history, returns its argument."""
import math

import numpy as np
import pytest
import torch

import shanshui as ss
from shanshui import nn
from shanshui.nn import init


def stats(t):
    a = t.detach().numpy()
    return a.mean(), a.std(), np.abs(a).max()


def test_returns_the_same_object_in_place_without_history():
    p = nn.Parameter(ss.empty(30, 20))
    assert init.xavier_uniform_(p) is p
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    for fn in (init.uniform_, init.normal_, init.trunc_normal_, init.zeros_, init.ones_, init.xavier_normal_,
               init.kaiming_uniform_, init.kaiming_normal_):
        assert fn(p) is p and p.grad_fn is None
    assert init.constant_(p, 0.5) is p and ss.equal(p, ss.full((30, 20), 0.5))


def test_uniform_normal_constant():
    t = ss.empty(200, 200)
    m, s, mx = stats(init.uniform_(t, -2.0, 3.0))
    assert t.min().item() >= -2.0 and t.max().item() <= 3.0
    assert abs(m - 0.5) < 0.03 and abs(s - 5 / math.sqrt(12)) < 0.02
    m, s, _ = stats(init.normal_(t, mean=1.0, std=0.5))
    assert abs(m - 1.0) < 0.01 and abs(s - 0.5) < 0.01
    assert ss.equal(init.zeros_(t), ss.zeros(200, 200)) and ss.equal(init.ones_(t), ss.ones(200, 200))


def test_trunc_normal_bounds_and_std():
    t = ss.empty(300, 300)
    init.trunc_normal_(t, mean=0.0, std=1.0, a=-1.0, b=1.0)
    assert t.min().item() >= -1.0 and t.max().item() <= 1.0
    ref = torch.nn.init.trunc_normal_(torch.empty(300, 300), 0.0, 1.0, -1.0, 1.0)
    assert abs(stats(t)[1] - ref.std().item()) < 0.01
    init.trunc_normal_(t, std=0.02)  # the ViT/BERT use: bounds +-2 absolute, so nothing is cut
    assert abs(stats(t)[1] - 0.02) < 0.001
    with pytest.raises(ValueError):
        init.trunc_normal_(t, a=1.0, b=-1.0)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_xavier(shape):
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    t = ss.empty(*shape)
    bound = 1.5 * math.sqrt(6.0 / (fan_in + fan_out))
    _, s, mx = stats(init.xavier_uniform_(t, gain=1.5))
    assert mx <= bound and mx > 0.99 * bound and abs(s - bound / math.sqrt(3)) < 0.02 * bound
    _, s, _ = stats(init.xavier_normal_(t))
    assert abs(s - math.sqrt(2.0 / (fan_in + fan_out))) < 0.02 * s


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                             ("tanh", 0), ("linear", 0)])
def test_kaiming(mode, nonlinearity, a):
    t = ss.empty(300, 200)
    fan = 200 if mode == "fan_in" else 300
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _, s, mx = stats(init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity))
    assert mx <= math.sqrt(3) * std and mx > 0.99 * math.sqrt(3) * std and abs(s - std) < 0.02 * std
    _, s, _ = stats(init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity))
    assert abs(s - std) < 0.02 * std


def test_calculate_gain_and_errors_match_torch():
    for nl, p in [("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
                  ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3), ("selu", None)]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.kaiming_uniform_(ss.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError):
        init.xavier_uniform_(ss.empty(5))  # fewer than 2 dims
    with pytest.raises(TypeError):
        init.normal_(ss.empty(3), generator=object())
    assert init.kaiming_uniform_(ss.empty(0, 3)).shape == (0, 3)  # empty: left alone, as torch
