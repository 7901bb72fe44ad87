"""nn.Conv1d / F.conv1d, nn.BatchNorm1d, nn.GroupNorm / F.group_norm and
F.interpolate / nn.Upsample against torch: values and float64 gradients, running
statistics, and the errors for bad arguments."""
import numpy as np
import pytest
import torch

import shanshui as ss
import shanshui.nn as nn
import shanshui.nn.functional as F


def pair(a, grad=True):
    s, t = ss.from_numpy(a.copy()), torch.from_numpy(a.copy())
    if grad:
        s.requires_grad_(True)
        t.requires_grad_(True)
    return s, t


def close(a, b, rtol=1e-10, atol=1e-12):
    assert list(a.shape) == list(b.shape), f"shape {list(a.shape)} vs torch {list(b.shape)}"
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def check(fn, *arrays, rtol=1e-10):
    """fn(M, Fn, *inputs) for shanshui and torch: values and float64 gradients of every input."""
    ins = [pair(a) for a in arrays]
    so, to = fn(ss, F, *[s for s, _ in ins]), fn(torch, torch.nn.functional, *[t for _, t in ins])
    close(so, to, rtol)
    w = np.random.default_rng(5).standard_normal(tuple(to.shape))
    (so * ss.from_numpy(w)).sum().backward()
    (to * torch.from_numpy(w)).sum().backward()
    for s, t in ins:
        close(s.grad, t.grad, rtol)


rng = np.random.default_rng(0)


@pytest.mark.parametrize("kw,x_shape,w_shape", [
    ({}, (2, 4, 7), (3, 4, 3)),
    ({"stride": 2, "padding": 1}, (2, 4, 8), (5, 4, 3)),
    ({"dilation": 2, "padding": (2,)}, (1, 2, 9), (3, 2, 3)),
    ({"groups": 2}, (2, 4, 6), (6, 2, 2)),
    ({"padding": "same"}, (2, 3, 6), (2, 3, 4)),  # even kernel: the extra zero on the right
    ({"padding": "same", "dilation": 3}, (2, 3, 10), (2, 3, 3)),
    ({"padding": "valid"}, (3, 6), (2, 3, 2)),  # unbatched
])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv1d(kw, x_shape, w_shape):
    xs = rng.standard_normal(x_shape)
    ws = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    check(lambda M, Fn, x, w, bb: Fn.conv1d(x, w, bb, **kw), xs, ws, b)
    check(lambda M, Fn, x, w: Fn.conv1d(x, w, **kw), xs, ws)


def test_conv1d_module_matches_torch():
    ss.manual_seed(0)
    m = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, dtype=ss.float64)
    t = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, dtype=torch.float64)
    assert list(m.weight.shape) == list(t.weight.shape) and list(m.bias.shape) == [6]
    bound = 1 / np.sqrt(2 * 3)
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.detach().numpy()))
        t.bias.copy_(torch.from_numpy(m.bias.detach().numpy()))
    x = rng.standard_normal((2, 4, 9))
    close(m(ss.from_numpy(x)), t(torch.from_numpy(x)))
    assert repr(m) == repr(t)
    assert repr(nn.Conv1d(2, 3, 5, bias=False, padding="same")) == repr(torch.nn.Conv1d(2, 3, 5, bias=False,
                                                                                       padding="same"))
    assert nn.Conv1d(2, 3, 1, bias=False).bias is None


def test_conv1d_errors():
    with pytest.raises(RuntimeError, match="conv1d"):
        F.conv1d(ss.ones(2, 3, 4, 5), ss.ones(2, 3, 1))
    with pytest.raises(RuntimeError, match="conv1d"):
        F.conv1d(ss.ones(2, 3, 4), ss.ones(2, 4, 1))
    with pytest.raises(RuntimeError, match="conv1d"):
        F.conv1d(ss.ones(2, 3, 4), ss.ones(2, 3))
    with pytest.raises(ValueError, match="same"):
        F.conv1d(ss.ones(2, 3, 4), ss.ones(2, 3, 2), stride=2, padding="same")
    with pytest.raises(ValueError, match="groups"):
        nn.Conv1d(3, 4, 1, groups=2)


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm1d_matches_torch(shape, momentum):
    m = nn.BatchNorm1d(3, momentum=momentum, dtype=ss.float64)
    t = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        w = rng.standard_normal(3)
        t.weight.copy_(torch.from_numpy(w))
    with ss.no_grad():
        m.weight.copy_(ss.from_numpy(w))
    for _ in range(3):
        xs, xt = pair(rng.standard_normal(shape))
        ys, yt = m(xs), t(xt)
        close(ys, yt)
        g = rng.standard_normal(shape)
        (ys * ss.from_numpy(g)).sum().backward()
        (yt * torch.from_numpy(g)).sum().backward()
        close(xs.grad, xt.grad)
    close(m.weight.grad, t.weight.grad)
    close(m.bias.grad, t.bias.grad)
    close(m.running_mean, t.running_mean)
    close(m.running_var, t.running_var)
    assert int(m.num_batches_tracked) == int(t.num_batches_tracked) == 3
    m.eval()
    t.eval()
    x = rng.standard_normal(shape)
    close(m(ss.from_numpy(x)), t(torch.from_numpy(x)))
    assert sorted(m.state_dict()) == sorted(t.state_dict())
    assert repr(m) == repr(t)


def test_batchnorm1d_no_running_stats_and_errors():
    m = nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=ss.float64)
    t = torch.nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=torch.float64)
    m.eval()
    t.eval()
    x = rng.standard_normal((5, 2))
    close(m(ss.from_numpy(x)), t(torch.from_numpy(x)))
    assert list(m.parameters()) == [] and m.running_mean is None
    m, t = nn.BatchNorm1d(3, bias=False), torch.nn.BatchNorm1d(3, bias=False)
    assert m.bias is None and sorted(m.state_dict()) == sorted(t.state_dict()) and repr(m) == repr(t)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(2)(ss.ones(2, 2, 2, 2))


@pytest.mark.parametrize("groups,shape", [(2, (2, 4, 5)), (1, (3, 6)), (3, (2, 6, 2, 3)), (6, (1, 6, 4))])
def test_group_norm(groups, shape):
    x, w, b = rng.standard_normal(shape), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    check(lambda M, Fn, x, w, b: Fn.group_norm(x, groups, w, b, eps=1e-3), x, w, b)
    check(lambda M, Fn, x: Fn.group_norm(x, groups), x)
    m, t = nn.GroupNorm(groups, shape[1], dtype=ss.float64), torch.nn.GroupNorm(groups, shape[1], dtype=torch.float64)
    close(m(ss.from_numpy(x)), t(torch.from_numpy(x)))
    assert repr(m) == repr(t) and sorted(m.state_dict()) == sorted(t.state_dict())


def test_group_norm_errors():
    with pytest.raises(RuntimeError, match="group_norm"):
        F.group_norm(ss.ones(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match="group_norm"):
        F.group_norm(ss.ones(2, 6, 3), 2, ss.ones(5))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


@pytest.mark.parametrize("kw,shape", [
    ({"size": (5, 7)}, (2, 3, 3, 4)),
    ({"size": 2}, (1, 2, 5, 3)),
    ({"scale_factor": 2}, (1, 2, 3, 4)),
    ({"scale_factor": (1.5, 0.5)}, (1, 1, 4, 6)),
    ({"size": (5, 7), "mode": "bilinear"}, (2, 3, 3, 4)),
    ({"size": (5, 7), "mode": "bilinear", "align_corners": True}, (2, 3, 3, 4)),
    ({"size": (2, 1), "mode": "bilinear", "align_corners": True}, (1, 2, 5, 3)),
    ({"size": (2, 3), "mode": "bilinear"}, (1, 2, 5, 7)),
    ({"scale_factor": 2, "mode": "bilinear"}, (1, 2, 3, 4)),
    ({"scale_factor": 1.7, "mode": "bilinear"}, (1, 2, 3, 4)),
    ({"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}, (1, 2, 3, 4)),
    ({"size": 9, "mode": "linear"}, (2, 3, 4)),
    ({"scale_factor": 3, "mode": "linear", "align_corners": True}, (2, 3, 4)),
    ({"size": 9}, (2, 3, 4)),
])
def test_interpolate(kw, shape):
    check(lambda M, Fn, x: Fn.interpolate(x, **kw), rng.standard_normal(shape))
    m, t = nn.Upsample(**kw), torch.nn.Upsample(**kw)
    x = rng.standard_normal(shape)
    close(m(ss.from_numpy(x)), t(torch.from_numpy(x)))


def test_interpolate_errors():
    x = ss.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(NotImplementedError, match="interpolate"):
        F.interpolate(ss.ones(1, 1, 2, 2, 2), size=3)
