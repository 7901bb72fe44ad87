"""Convolution, unfold / fold, pooling and batch norm against torch.nn.functional
(values and gradients, float32 and float64) with identical inputs and weights."""
import numpy as np
import pytest

try:
    import torch
    import torch.nn.functional as TF
except ImportError as e:  # the oracle must fail loudly, never skip
    raise ImportError("test_vision needs torch==2.13.0: pip install -r requirements-test.txt") from e

import shanshui as ss

F = ss._C.nn.functional
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def n(t):
    return t.detach().numpy()


def to_ss(t, grad=False):
    x = ss.from_numpy(n(t).copy())
    if grad:
        x.requires_grad_()
    return x


def compare(torch_fn, ss_fn, inputs, dtype, seed=0):
    """Run both with the same inputs (tensors requiring grad get their gradients compared)."""
    tin = [t.to(dtype).detach().requires_grad_(t.is_floating_point()) if isinstance(t, torch.Tensor) else t
           for t in inputs]
    ref = torch_fn(*tin)
    sin = [to_ss(t, t.requires_grad) if isinstance(t, torch.Tensor) else t for t in tin]
    out = ss_fn(*sin)
    np.testing.assert_allclose(n(out), n(ref), **TOL[dtype])
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    ref.backward(g)
    out.backward(to_ss(g))
    for a, b in zip(sin, tin):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            np.testing.assert_allclose(n(a.grad), n(b.grad), **TOL[dtype])


DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2), groups=1),
    dict(stride=1, padding=1, dilation=1, groups=2),
    dict(stride=1, padding=1, dilation=1, groups=4),
])
def test_conv2d(dtype, cfg):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 8)
    w = torch.randn(8, 4 // cfg["groups"], 3, 3)
    b = torch.randn(8)
    compare(lambda x, w, b: TF.conv2d(x, w, b, **cfg), lambda x, w, b: F.conv2d(x, w, b, **cfg), [x, w, b], dtype)
    compare(lambda x, w: TF.conv2d(x, w, None, **cfg), lambda x, w: F.conv2d(x, w, None, **cfg), [x, w], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unfold_fold(dtype):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 7, 6)
    kw = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))
    compare(lambda x: TF.unfold(x, **kw), lambda x: F.unfold(x, **kw), [x], dtype)
    cols = torch.randn(TF.unfold(x, **kw).shape)
    compare(lambda c: TF.fold(c, (7, 6), **kw), lambda c: F.fold(c, (7, 6), **kw), [cols], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
])
def test_max_pool2d(dtype, cfg):
    torch.manual_seed(2)
    x = torch.randn(2, 3, 9, 8)
    compare(lambda x: TF.max_pool2d(x, **cfg), lambda x: F.max_pool2d(x, **cfg), [x], dtype)
    _, ti = TF.max_pool2d(x, return_indices=True, **cfg)
    _, si = F.max_pool2d(to_ss(x), return_indices=True, **cfg)
    np.testing.assert_array_equal(n(si), n(ti))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=1, divisor_override=5),
])
def test_avg_pool2d(dtype, cfg):
    torch.manual_seed(3)
    x = torch.randn(2, 3, 8, 7)
    compare(lambda x: TF.avg_pool2d(x, **cfg), lambda x: F.avg_pool2d(x, **cfg), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, (3, 4), (5, 2), (7, 7)])
def test_adaptive_avg_pool2d(dtype, size):
    torch.manual_seed(4)
    x = torch.randn(2, 3, 7, 6)
    compare(lambda x: TF.adaptive_avg_pool2d(x, size), lambda x: F.adaptive_avg_pool2d(x, size), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(dtype, training):
    torch.manual_seed(5)
    x, w, b = torch.randn(4, 3, 5, 4), torch.randn(3), torch.randn(3)
    rm, rv = torch.randn(3).to(dtype), (torch.rand(3) + 0.5).to(dtype)
    srm, srv = to_ss(rm), to_ss(rv)
    compare(lambda x, w, b: TF.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1),
            lambda x, w, b: F.batch_norm(x, srm, srv, w, b, training=training, momentum=0.1), [x, w, b], dtype)
    np.testing.assert_allclose(n(srm), n(rm), **TOL[dtype])
    np.testing.assert_allclose(n(srv), n(rv), **TOL[dtype])


def test_bad_sizes_raise():
    x = ss.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(x, ss.randn(3, 2, 5, 5))
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(x, ss.randn(3, 2, 1, 1), stride=0)
    with pytest.raises(ValueError, match="padding"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        F.avg_pool2d(x, -1)
    with pytest.raises(TypeError):
        F.unfold(x, "3")
