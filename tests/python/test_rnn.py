"""Recurrent layers against PyTorch with identical weights (torch's state_dict
copied into ours): RNNCell / GRUCell / LSTMCell and multi-layer,
bidirectional, batch_first RNN / GRU / LSTM, forward values and the gradients
of every parameter, the input and the initial states (float32, 1e-5 relative);
float64 gradchecks on small sizes; bad input raises clear errors.
"""
import itertools

import numpy as np
import pytest

try:
    import torch
except ImportError as e:  # the oracle must fail loudly, never skip
    raise ImportError("the PyTorch oracle tests need torch: pip install -r requirements-test.txt") from e

import shanshui as ss
from shanshui import nn

RTOL, ATOL = 1e-5, 1e-6


def to_ss(t, requires_grad=False):
    x = ss.from_numpy(np.ascontiguousarray(t.detach().numpy())).clone()
    if requires_grad:
        x.requires_grad_(True)
    return x


def to_np(x):
    return x.detach().numpy()


def copy_weights(ours, theirs):
    sd = {k: to_ss(v) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]


def close(a, b, what, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(to_np(a), b.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


def flatten_outputs(out):
    """(output, h) or (output, (h, c)) -> list of tensors."""
    if isinstance(out, tuple):
        r = []
        for o in out:
            r += flatten_outputs(o)
        return r
    return [out]


def run_both(ours, theirs, x_np, states_np, dtype=np.float32, seed=0):
    """Run both modules on the same input and states, backprop a random weighted sum of all outputs,
    and compare outputs and every gradient."""
    rng = np.random.default_rng(seed)
    tx = torch.from_numpy(x_np.astype(dtype)).requires_grad_(True)
    sx = to_ss(tx, True)
    t_states = [torch.from_numpy(s.astype(dtype)).requires_grad_(True) for s in states_np]
    s_states = [to_ss(s, True) for s in t_states]
    if len(t_states) == 0:
        t_out, s_out = theirs(tx), ours(sx)
    elif len(t_states) == 1:
        t_out, s_out = theirs(tx, t_states[0]), ours(sx, s_states[0])
    else:
        t_out, s_out = theirs(tx, tuple(t_states)), ours(sx, tuple(s_states))
    t_list, s_list = flatten_outputs(t_out), flatten_outputs(s_out)
    assert len(t_list) == len(s_list)
    t_loss, s_loss = 0, 0
    for i, (a, b) in enumerate(zip(s_list, t_list)):
        assert tuple(a.shape) == tuple(b.shape), f"output {i}: {tuple(a.shape)} vs {tuple(b.shape)}"
        close(a, b, f"output {i}")
        w = rng.standard_normal(tuple(b.shape)).astype(dtype)
        t_loss = t_loss + (b * torch.from_numpy(w)).sum()
        s_loss = s_loss + (a * ss.from_numpy(w)).sum()
    t_loss.backward()
    s_loss.backward()
    close(sx.grad, tx.grad, "input grad")
    for i, (a, b) in enumerate(zip(s_states, t_states)):
        close(a.grad, b.grad, f"state {i} grad")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, t_params[name].grad, f"grad of {name}")


CELLS = [
    ("RNNCell", dict(nonlinearity="tanh"), 1),
    ("RNNCell", dict(nonlinearity="relu"), 1),
    ("GRUCell", {}, 1),
    ("LSTMCell", {}, 2),
]


@pytest.mark.parametrize("name,kw,nstates", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(name, kw, nstates, batched, bias, with_state):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(5, 7, bias=bias, **kw)
    ours = getattr(nn, name)(5, 7, bias=bias, **kw)
    copy_weights(ours, theirs)
    rng = np.random.default_rng(1)
    shape = (3, 5) if batched else (5,)
    sshape = (3, 7) if batched else (7,)
    states = [rng.standard_normal(sshape) for _ in range(nstates)] if with_state else []
    run_both(ours, theirs, rng.standard_normal(shape), states)


NETS = [("RNN", dict(nonlinearity="tanh"), 1), ("RNN", dict(nonlinearity="relu"), 1), ("GRU", {}, 1),
        ("LSTM", {}, 2)]


@pytest.mark.parametrize("name,kw,nstates", NETS)
@pytest.mark.parametrize("num_layers,bidirectional,batch_first", [
    (1, False, False), (2, False, False), (1, True, False), (2, True, True), (3, True, False), (2, False, True)])
def test_network_matches_torch(name, kw, nstates, num_layers, bidirectional, batch_first):
    torch.manual_seed(0)
    args = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kw)
    theirs = getattr(torch.nn, name)(4, 6, **args)
    ours = getattr(nn, name)(4, 6, **args)
    copy_weights(ours, theirs)
    rng = np.random.default_rng(2)
    T, B, D = 5, 3, 2 if bidirectional else 1
    x = rng.standard_normal((B, T, 4) if batch_first else (T, B, 4))
    states = [rng.standard_normal((num_layers * D, B, 6)) for _ in range(nstates)]
    run_both(ours, theirs, x, states)
    # Without initial states (zeros).
    theirs.zero_grad()
    ours.zero_grad()
    run_both(ours, theirs, x, [])


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_unbatched_no_bias_and_eval_dropout_match_torch(name):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(3, 4, num_layers=2, bias=False, dropout=0.3, bidirectional=True).eval()
    ours = getattr(nn, name)(3, 4, num_layers=2, bias=False, dropout=0.3, bidirectional=True).eval()
    copy_weights(ours, theirs)
    rng = np.random.default_rng(3)
    nstates = 2 if name == "LSTM" else 1
    run_both(ours, theirs, rng.standard_normal((6, 3)), [rng.standard_normal((4, 4)) for _ in range(nstates)])


def test_parameter_names_layouts_and_init_match_torch():
    for name in ["RNN", "GRU", "LSTM"]:
        theirs = getattr(torch.nn, name)(5, 8, num_layers=2, bidirectional=True)
        ours = getattr(nn, name)(5, 8, num_layers=2, bidirectional=True)
        t = [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
        o = [(k, tuple(v.shape)) for k, v in ours.state_dict().items()]
        assert o == t
        bound = 1 / np.sqrt(8)
        for _, p in ours.named_parameters():
            a = np.abs(to_np(p))
            assert a.max() <= bound and a.max() > 0.5 * bound
    for name in ["RNNCell", "GRUCell", "LSTMCell"]:
        t = [(k, tuple(v.shape)) for k, v in getattr(torch.nn, name)(5, 8).state_dict().items()]
        o = [(k, tuple(v.shape)) for k, v in getattr(nn, name)(5, 8).state_dict().items()]
        assert o == t


def test_dropout_between_layers_in_training():
    ss.manual_seed(0)
    m = nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = ss.randn(5, 2, 4)
    m.eval()
    a = m(x)[0]
    assert np.array_equal(to_np(a), to_np(m(x)[0]))
    m.train()
    assert not np.allclose(to_np(a), to_np(m(x)[0]))


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_float64_gradcheck(name):
    ss.manual_seed(0)
    m = getattr(nn, name)(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=ss.float64)
    x = ss.randn(2, 3, 2, dtype=ss.float64, requires_grad=True)
    h = ss.randn(4, 2, 3, dtype=ss.float64, requires_grad=True)
    params = [p for _, p in m.named_parameters()]

    def f(x, h, *ps):
        hx = (h, h * 0.5) if name == "LSTM" else h
        out = m(x, hx)
        return tuple(flatten_outputs(out))

    assert ss.autograd.gradcheck(f, (x, h, *params))


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_float64_gradcheck(name):
    ss.manual_seed(1)
    m = getattr(nn, name)(3, 4, dtype=ss.float64)
    x = ss.randn(2, 3, dtype=ss.float64, requires_grad=True)
    h = ss.randn(2, 4, dtype=ss.float64, requires_grad=True)

    def f(x, h, *ps):
        out = m(x, (h, h * 2.0) if name == "LSTMCell" else h)
        return tuple(flatten_outputs(out))

    assert ss.autograd.gradcheck(f, (x, h, *[p for _, p in m.named_parameters()]))


def test_bad_input_raises_clear_errors():
    gru = nn.GRU(4, 6, num_layers=2)
    with pytest.raises(ValueError, match="Expected 4, got 5"):
        gru(ss.randn(3, 2, 5))
    with pytest.raises(ValueError, match=r"\[2, 2, 6\]"):
        gru(ss.randn(3, 2, 4), ss.randn(1, 2, 6))
    with pytest.raises(ValueError, match="2-D"):
        gru(ss.randn(3, 4), ss.randn(2, 2, 6))
    with pytest.raises(ValueError):
        gru(ss.randn(2, 3, 2, 4))
    with pytest.raises(TypeError):
        gru(ss.randn(3, 2, 4, dtype=ss.float64))
    with pytest.raises(ValueError):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError):
        nn.LSTM(3, 4, proj_size=2)
    lstm = nn.LSTM(3, 4)
    with pytest.raises(TypeError):
        lstm(ss.randn(2, 2, 3), ss.randn(1, 2, 4))  # hx must be a tuple
    with pytest.raises(ValueError):
        lstm(ss.randn(2, 2, 3), (ss.randn(1, 2, 4), ss.randn(1, 3, 4)))
    cell = nn.LSTMCell(3, 4)
    with pytest.raises(ValueError, match="input_size"):
        cell(ss.randn(2, 5))
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        nn.GRUCell(3, 4)(ss.randn(2, 3), ss.randn(2, 5))


def test_torch_style_training_loop_runs():
    ss.manual_seed(0)
    m = nn.GRU(3, 8, batch_first=True)
    head = nn.Linear(8, 1)
    params = list(m.parameters()) + list(head.parameters())
    x = ss.randn(16, 5, 3)
    y = x.sum(dim=(1, 2)).reshape(16, 1)
    first = None
    for _ in range(30):
        out, h = m(x)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ss.no_grad():
            for p in params:
                p.sub_(p.grad * 0.05)
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first
