"""Optimizers and schedules follow PyTorch's parameter trajectory.

A small MLP written with raw tensors (w1, b1, w2, b2; the same initial values
in both libraries) is trained for 50 steps on fixed data with each optimizer
and each schedule; after every step the parameters must match torch's within
1e-5 relative in float32 (1e-10 in float64).
"""
import math

import numpy as np
import pytest
import torch

import shanshui as ss

STEPS = 50
# float64 pins the update formulas (1e-10 after 50 steps). In float32 the two
# libraries' gradients differ in the last bits (their GEMM kernels round
# differently, more so on this AVX-512 machine), and RMSprop's
# 1/sqrt(v) amplifies that over 50 steps to ~1e-5, so float32 gets 3e-5.
TOL = {"float32": dict(rtol=3e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
SS_DT = {"float32": ss.float32, "float64": ss.float64}
TORCH_DT = {"float32": torch.float32, "float64": torch.float64}
NAMES = ["w1", "b1", "w2", "b2"]


def problem(dtype):
    rng = np.random.default_rng(0)
    npdt = np.float32 if dtype == "float32" else np.float64
    data = {
        "x": rng.uniform(-1, 1, (16, 4)), "y": rng.uniform(-1, 1, (16, 3)),
        "w1": rng.uniform(-0.5, 0.5, (8, 4)), "b1": rng.uniform(-0.5, 0.5, (8,)),
        "w2": rng.uniform(-0.5, 0.5, (3, 8)), "b2": rng.uniform(-0.5, 0.5, (3,)),
    }
    return {k: v.astype(npdt) for k, v in data.items()}


def make_params(lib, data):
    if lib is torch:
        params = {k: torch.tensor(data[k], requires_grad=True) for k in NAMES}
        x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
    else:
        params = {k: ss.tensor(data[k], requires_grad=True) for k in NAMES}
        x, y = ss.tensor(data["x"]), ss.tensor(data["y"])
    return params, x, y


def loss_fn(p, x, y):
    h = (x @ p["w1"].t() + p["b1"]).tanh()
    out = h @ p["w2"].t() + p["b2"]
    return ((out - y) * (out - y)).mean()


def np_of(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def run(lib, dtype, make_opt, make_sched=None, steps=STEPS, groups=None):
    """Train and return the parameter values after every step (and the lrs)."""
    params, x, y = make_params(lib, problem(dtype))
    args = [params[k] for k in NAMES] if groups is None else groups(params)
    opt = make_opt(lib, args)
    sched = make_sched(lib, opt) if make_sched else None
    traj, lrs = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, x, y).backward()
        opt.step()
        if sched is not None:
            sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        traj.append({k: np_of(v).copy() for k, v in params.items()})
    return traj, lrs


def optim_of(lib):
    return torch.optim if lib is torch else ss.optim


def assert_same_trajectory(a, b, dtype):
    """Every step, every parameter tensor: max |ours - torch| <= rtol * max |torch| (a tensor's own scale:
    elementwise relative error is meaningless for entries that pass through zero)."""
    rtol = TOL[dtype]["rtol"]
    for step, (pa, pb) in enumerate(zip(a, b)):
        for k in NAMES:
            err = np.abs(pa[k] - pb[k]).max() / np.abs(pb[k]).max()
            assert err <= rtol, f"step {step}, parameter {k}: relative error {err:.3g} > {rtol}"


OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_dampening": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    "sgd_maximize": ("SGD", dict(lr=0.02, momentum=0.5, maximize=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_weight_decay": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True)),
    "adam_maximize": ("Adam", dict(lr=0.01, maximize=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, centered=True)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.01)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_optimizer_trajectory(case, dtype):
    name, kw = OPTIMIZERS[case]

    def make_opt(lib, params):
        return getattr(optim_of(lib), name)(params, **kw)

    ours, _ = run(ss, dtype, make_opt)
    ref, _ = run(torch, dtype, make_opt)
    assert_same_trajectory(ours, ref, dtype)
    # The run must actually move the parameters (not a vacuous comparison).
    assert not np.allclose(ours[-1]["w1"], problem(dtype)["w1"], rtol=1e-3, atol=1e-3)


def test_defaults_match_torch():
    p = [ss.zeros(2, requires_grad=True)]
    tp = [torch.zeros(2, requires_grad=True)]
    for name in ["SGD", "Adam", "AdamW", "RMSprop"]:
        ours = getattr(ss.optim, name)(p).param_groups[0]
        ref = getattr(torch.optim, name)(tp).param_groups[0]
        assert {k: v for k, v in ours.items() if k != "params"} == {k: v for k, v in ref.items() if k != "params"}


# ---- schedules ------------------------------------------------------------------------------
def _warmup_cosine(warmup, total, e):
    if e < warmup:
        return e / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (e - warmup) / (total - warmup))))


def _inverse_sqrt(d_model, warmup, e):
    s = e + 1
    return d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5)


# name -> (ours, torch): functions of (lib's lr_scheduler module, optimizer)
SCHEDULES = {
    "lambda": (lambda L, o: L.LambdaLR(o, lambda e: 0.97 ** e),) * 2,
    "step": (lambda L, o: L.StepLR(o, step_size=7, gamma=0.5),) * 2,
    "multistep": (lambda L, o: L.MultiStepLR(o, milestones=[5, 20, 20, 40], gamma=0.5),) * 2,
    "exponential": (lambda L, o: L.ExponentialLR(o, gamma=0.95),) * 2,
    "cosine": (lambda L, o: L.CosineAnnealingLR(o, T_max=20, eta_min=0.01),) * 2,
    "linear": (lambda L, o: L.LinearLR(o, start_factor=0.25, total_iters=10),) * 2,
    "warmup_cosine": (lambda L, o: L.WarmupCosineLR(o, warmup_steps=10, total_steps=STEPS),
                      lambda L, o: L.LambdaLR(o, lambda e: _warmup_cosine(10, STEPS, e))),
    "inverse_sqrt": (lambda L, o: L.InverseSqrtLR(o, d_model=16, warmup_steps=10),
                     lambda L, o: L.LambdaLR(o, lambda e: _inverse_sqrt(16, 10, e))),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(SCHEDULES))
def test_schedule_trajectory(case, dtype):
    ours_sched, torch_sched = SCHEDULES[case]

    def make_opt(lib, params):
        return optim_of(lib).SGD(params, lr=0.2 if case != "inverse_sqrt" else 1.0, momentum=0.5)

    ours, ours_lr = run(ss, dtype, make_opt, lambda lib, o: ours_sched(ss.optim.lr_scheduler, o))
    ref, ref_lr = run(torch, dtype, make_opt, lambda lib, o: torch_sched(torch.optim.lr_scheduler, o))
    if case in ("warmup_cosine", "inverse_sqrt"):  # closed forms vs a LambdaLR: equal up to rounding
        np.testing.assert_allclose(ours_lr, ref_lr, rtol=1e-12, atol=0)
    else:  # the same formulas as PyTorch's: the same floats
        assert ours_lr == ref_lr
    assert len({round(lr[0], 12) for lr in ours_lr}) > 1  # the schedule changed the lr
    assert_same_trajectory(ours, ref, dtype)


@pytest.mark.parametrize("case", ["step", "exponential", "cosine", "lambda", "multistep", "linear"])
def test_schedule_state_dict_and_get_last_lr(case):
    make = SCHEDULES[case][0]
    o = ss.optim.SGD([ss.zeros(2, requires_grad=True)], lr=0.5)
    t = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.5)
    s, ts = make(ss.optim.lr_scheduler, o), make(torch.optim.lr_scheduler, t)
    for _ in range(13):
        o.step(), t.step()
        s.step(), ts.step()
        assert s.get_last_lr() == ts.get_last_lr()
        assert s.last_epoch == ts.last_epoch
    # Resume (build both, then load both, as with torch): the schedule continues.
    sd, osd = s.state_dict(), o.state_dict()
    o2 = ss.optim.SGD([ss.zeros(2, requires_grad=True)], lr=0.5)
    s2 = make(ss.optim.lr_scheduler, o2)
    o2.load_state_dict(osd)
    s2.load_state_dict(sd)
    for _ in range(10):
        o2.step(), t.step()
        s2.step(), ts.step()
        assert s2.get_last_lr() == ts.get_last_lr()
        assert o2.param_groups[0]["lr"] == t.param_groups[0]["lr"]


def test_inverse_sqrt_is_the_paper_formula():
    o = ss.optim.Adam([ss.zeros(2, requires_grad=True)], lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    s = ss.optim.lr_scheduler.InverseSqrtLR(o, d_model=512, warmup_steps=4000)
    for step in range(1, 10001):  # the lr used for training step `step`
        if step in (1, 100, 3999, 4000, 4001, 10000):
            expect = 512 ** -0.5 * min(step ** -0.5, step * 4000 ** -1.5)
            assert o.param_groups[0]["lr"] == pytest.approx(expect, rel=1e-12)
        s.step()
    # the peak is at the end of warmup
    assert 512 ** -0.5 * 4000 ** -0.5 == pytest.approx(max(4000 * 4000 ** -1.5, 4001 ** -0.5) * 512 ** -0.5)


# ---- parameter groups ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_their_own_options(name, dtype):
    def groups(p):
        return [{"params": [p["w1"], p["b1"]], "lr": 0.02},
                {"params": [p["w2"]], "lr": 0.005, "weight_decay": 0.1},
                {"params": [p["b2"]]}]

    kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)

    def make_opt(lib, params):
        return getattr(optim_of(lib), name)(params, **kw)

    ours, _ = run(ss, dtype, make_opt, groups=groups)
    ref, _ = run(torch, dtype, make_opt, groups=groups)
    assert_same_trajectory(ours, ref, dtype)


@pytest.mark.parametrize("dtype", ["float32"])
def test_editing_param_groups_takes_effect(dtype):
    """opt.param_groups[0]['lr'] = ... (and other options) change the next step, as in torch; so does add_param_group."""
    def train(lib):
        params, x, y = make_params(lib, problem(dtype))
        opt = optim_of(lib).Adam([params["w1"], params["b1"]], lr=0.01)
        traj = []
        for step in range(30):
            if step == 10:
                opt.param_groups[0]["lr"] = 0.1
                opt.param_groups[0]["betas"] = (0.5, 0.9)
            if step == 15:
                opt.add_param_group({"params": [params["w2"], params["b2"]], "lr": 0.03, "amsgrad": True})
            if step == 20:
                opt.param_groups[1]["weight_decay"] = 0.5
            opt.zero_grad()
            loss_fn(params, x, y).backward()
            opt.step()
            traj.append({k: np_of(v).copy() for k, v in params.items()})
        return traj

    assert_same_trajectory(train(ss), train(torch), dtype)


# ---- state_dict layout and exact resumption -------------------------------------------------
def _to_torch_state(sd):
    def conv(v):
        if isinstance(v, ss.Tensor):
            return torch.tensor(v.numpy())
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return conv(sd)


def _to_ss_state(sd):
    def conv(v):
        if isinstance(v, torch.Tensor):
            return ss.tensor(v.numpy())
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return conv(sd)


@pytest.mark.parametrize("case", ["sgd_momentum", "adam_amsgrad", "adamw", "rmsprop_centered_momentum", "sgd"])
def test_state_dict_has_torch_layout_and_loads_both_ways(case):
    name, kw = OPTIMIZERS[case]
    dtype = "float64"
    sp, sx, sy = make_params(ss, problem(dtype))
    tp, tx, ty = make_params(torch, problem(dtype))
    so = getattr(ss.optim, name)([sp[k] for k in NAMES], **kw)
    to = getattr(torch.optim, name)([tp[k] for k in NAMES], **kw)
    for _ in range(5):
        for o, p, x, y in ((so, sp, sx, sy), (to, tp, tx, ty)):
            o.zero_grad()
            loss_fn(p, x, y).backward()
            o.step()
    ours, ref = so.state_dict(), to.state_dict()
    assert ours["param_groups"] == ref["param_groups"]
    assert sorted(ours["state"]) == sorted(ref["state"])
    for i in ref["state"]:
        assert sorted(ours["state"][i]) == sorted(ref["state"][i])
        for k, v in ref["state"][i].items():
            np.testing.assert_allclose(ours["state"][i][k].numpy(), v.numpy(), rtol=1e-10, atol=1e-13)
    # torch's state loads into ours and ours into torch's; both then continue identically.
    sp2, _, _ = make_params(ss, {k: v.detach().numpy() for k, v in tp.items()} | {"x": 0, "y": 0})
    so2 = getattr(ss.optim, name)([sp2[k] for k in NAMES], **kw)
    so2.load_state_dict(_to_ss_state(to.state_dict()))
    tp2 = {k: torch.tensor(v.detach().numpy(), requires_grad=True) for k, v in sp.items()}
    to2 = getattr(torch.optim, name)([tp2[k] for k in NAMES], **kw)
    to2.load_state_dict(_to_torch_state(so.state_dict()))
    for _ in range(5):
        for o, p, x, y in ((so2, sp2, sx, sy), (to2, tp2, tx, ty), (so, sp, sx, sy), (to, tp, tx, ty)):
            o.zero_grad()
            loss_fn(p, x, y).backward()
            o.step()
    for k in NAMES:
        np.testing.assert_allclose(sp2[k].detach().numpy(), tp[k].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tp2[k].detach().numpy(), sp[k].detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["sgd_nesterov", "adam", "adamw_amsgrad", "rmsprop_centered_momentum"])
def test_state_dict_resumes_bit_identically(case):
    name, kw = OPTIMIZERS[case]

    def setup():
        p, x, y = make_params(ss, problem("float32"))
        return p, x, y, getattr(ss.optim, name)([p[k] for k in NAMES], **kw)

    def train(p, x, y, o, n):
        for _ in range(n):
            o.zero_grad()
            loss_fn(p, x, y).backward()
            o.step()

    p, x, y, o = setup()
    train(p, x, y, o, 20)
    p2, x2, y2, o2 = setup()
    train(p2, x2, y2, o2, 10)
    snapshot = {k: v.detach().clone() for k, v in p2.items()}
    osd = o2.state_dict()
    p3, x3, y3, o3 = setup()
    with ss.no_grad():
        for k in NAMES:
            p3[k].copy_(snapshot[k])
    o3.load_state_dict(osd)
    train(p3, x3, y3, o3, 10)
    for k in NAMES:
        assert np.array_equal(p[k].detach().numpy(), p3[k].detach().numpy()), k


def test_optimizer_bad_input():
    w = ss.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        ss.optim.SGD([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        ss.optim.Adam(w)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ss.optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        ss.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        ss.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        ss.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        ss.optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        ss.optim.SGD([ss.zeros(2, dtype=ss.int64)], lr=0.1)
    o = ss.optim.Adam([w])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        o.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="size of optimizer's group"):
        o.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]})


def test_zero_grad_and_closure():
    w = ss.tensor([1.0, -2.0], requires_grad=True)
    o = ss.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    o.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.tolist() == [0.0, 0.0]
    o.zero_grad()
    assert w.grad is None

    def closure():
        o.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = o.step(closure)
    assert loss.item() == pytest.approx(5.0)
    assert w.tolist() == pytest.approx([0.8, -1.6])
    assert w in o.state or not o.state  # SGD without momentum keeps no state, as torch
    assert len(ss.optim.Adam([w]).state) == 0
