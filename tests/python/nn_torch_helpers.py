"""Helpers for the nn oracle tests: copy a torch module's state into ours and
compare forward outputs and gradients (of the input and of every parameter)."""
import numpy as np
import torch

import shanshui as ss

RTOL, ATOL = 1e-5, 1e-6


def to_ss(t):
    return ss.tensor(t.detach().numpy().copy())


def load_torch_state(ours, ref):
    res = ours.load_state_dict({k: to_ss(v) for k, v in ref.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []


def assert_close(a, b, rtol=RTOL, atol=ATOL):
    a = a.detach().numpy() if isinstance(a, ss.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def check_module(ours, ref, *inputs, rtol=RTOL, atol=ATOL, grad_inputs=True, seed=0):
    """Load ref's state into ours, run both on the same inputs (NumPy arrays) and
    compare outputs, input gradients and parameter gradients by name."""
    load_torch_state(ours, ref)
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    xs, xt = [], []
    for a in inputs:
        diff = grad_inputs and a.dtype.kind == "f"
        xs.append(ss.tensor(a, requires_grad=diff))
        xt.append(torch.tensor(a, requires_grad=diff))
    ys, yt = ours(*xs), ref(*xt)
    assert_close(ys, yt, rtol, atol)
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(a.dtype if a.dtype.kind == "f" else
                                                                              np.float32)
    yt.backward(torch.tensor(g.astype(yt.detach().numpy().dtype)))
    ys.backward(ss.tensor(g.astype(yt.detach().numpy().dtype)))
    for s, t in zip(xs, xt):
        if t.requires_grad:
            assert_close(s.grad, t.grad, rtol, atol)
    tp = dict(ref.named_parameters())
    for n, p in ours.named_parameters():
        if tp[n].grad is None:
            assert p.grad is None or float(p.grad.abs().sum()) == 0.0, n
        else:
            assert_close(p.grad, tp[n].grad, rtol, atol)
    return ys, yt
