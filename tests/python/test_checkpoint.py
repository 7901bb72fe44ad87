"""Checkpoints: safetensors files round-trip with safetensors.torch in both directions,
writes are atomic, malformed files are refused with clear errors, and a whole
training state resumes bit-identically."""
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import shanshui as ss

REPO_PYTHON = os.path.join(os.path.dirname(__file__), "..", "..", "python")
TORCH_OF = {ss.float32: torch.float32, ss.float64: torch.float64, ss.int64: torch.int64, ss.bool: torch.bool}


def sample_state_dict():
    rng = np.random.default_rng(0)
    return {
        "encoder.weight": ss.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
        "encoder.bias": ss.tensor(rng.standard_normal(4).astype(np.float32)),
        "double": ss.tensor(rng.standard_normal((2, 2, 2))),
        "ids": ss.tensor(rng.integers(-5, 1 << 40, (5,))),
        "mask": ss.tensor(rng.integers(0, 2, (3, 2)).astype(bool)),
        "scalar": ss.tensor(3.5),
        "empty": ss.zeros(0, 3),
        "view": ss.arange(12.0).reshape(3, 4).t(),  # non-contiguous: saved as its values
    }


def test_our_file_loads_in_safetensors_torch(tmp_path):
    sd = sample_state_dict()
    path = tmp_path / "ours.safetensors"
    ss.save(sd, path, metadata={"format": "pt", "note": "written by shanshui"})
    loaded = load_file(str(path))
    assert sorted(loaded) == sorted(sd)
    for k, t in sd.items():
        assert loaded[k].dtype == TORCH_OF[t.dtype], k
        assert tuple(loaded[k].shape) == tuple(t.shape), k
        assert np.array_equal(loaded[k].numpy(), t.numpy()), k
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "written by shanshui"}


def test_torch_file_loads_here(tmp_path):
    g = torch.Generator().manual_seed(0)
    ref = {
        "a.weight": torch.randn(5, 3, generator=g),
        "b": torch.randn(7, dtype=torch.float64, generator=g),
        "c": torch.randint(-1000, 1000, (2, 3), generator=g),
        "d": torch.rand(4, generator=g) > 0.5,
        "e": torch.tensor(1.25),
        "f": torch.zeros(0, dtype=torch.float64),
    }
    path = tmp_path / "torch.safetensors"
    save_file(ref, str(path), metadata={"epoch": "3"})
    ours = ss.load(path)
    assert sorted(ours) == sorted(ref)
    for k, t in ref.items():
        assert TORCH_OF[ours[k].dtype] == t.dtype, k
        assert tuple(ours[k].shape) == tuple(t.shape), k
        assert np.array_equal(ours[k].numpy(), t.numpy()), k
    assert ss.load_metadata(path) == {"epoch": "3"}


def test_header_follows_the_spec(tmp_path):
    path = tmp_path / "x.safetensors"
    ss.save({"w": ss.ones(2, 2), "i": ss.tensor([1, 2, 3])}, path, metadata={"k": "v"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and 8 + n <= len(raw)
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"] == {"k": "v"}
    assert header["w"] == {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    assert header["i"] == {"dtype": "I64", "shape": [3], "data_offsets": [16, 40]}
    assert len(raw) == 8 + n + 40
    assert raw[8 + n:8 + n + 16] == np.ones(4, "<f4").tobytes()


def test_nested_objects_round_trip(tmp_path):
    w = ss.zeros(3, requires_grad=True)
    opt = ss.optim.Adam([w], lr=0.1, amsgrad=True)
    w.grad = ss.ones(3)
    opt.step()
    obj = {"optimizer": opt.state_dict(), "step": 7, "name": "run-1", "none": None,
           "pair": (1, 2.5), "nested": [{"t": ss.arange(3)}, [True, False]], 3: "int key", "x.y": ss.ones(1)}
    path = tmp_path / "nested.safetensors"
    ss.save(obj, path)
    back = ss.load(path)
    assert back["step"] == 7 and back["name"] == "run-1" and back["none"] is None and back[3] == "int key"
    assert back["pair"] == (1, 2.5) and back["nested"][1] == [True, False]
    assert back["nested"][0]["t"].tolist() == [0, 1, 2]
    assert back["optimizer"]["param_groups"] == opt.state_dict()["param_groups"]
    st = back["optimizer"]["state"][0]
    assert st["step"].item() == 1.0
    assert np.array_equal(st["exp_avg"].numpy(), opt.state[w]["exp_avg"].numpy())
    # Every tensor is visible to other readers under its dotted path.
    names = set(load_file(str(path)))
    assert {"optimizer.state.0.exp_avg", "optimizer.state.0.max_exp_avg_sq", "nested.0.t", "x.y"} <= names
    with pytest.raises(TypeError, match="cannot save an object of type"):
        ss.save({"f": object()}, path)
    with pytest.raises(TypeError, match="metadata"):
        ss.save({"w": ss.ones(1)}, path, metadata={"k": 1})


# ---- atomic writes ----------------------------------------------------------------------------
def _run_child(code, **kw):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(REPO_PYTHON))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, **kw)


def test_failed_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ss.save({"old": ss.arange(10.0)}, path)
    before = path.read_bytes()
    # A child whose file size limit (RLIMIT_FSIZE) makes the write fail halfway through.
    child = _run_child(f"""
        import resource, signal, shanshui as ss
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            ss.save({{"new": ss.zeros(1 << 20)}}, {str(path)!r})  # 4 MB > the 1 MB limit
        except RuntimeError as e:
            print("failed:", e)
            raise SystemExit(3)
    """, stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 3, out
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # the temporary file was removed
    # Errors before writing (bad names) leave it intact too.
    with pytest.raises(ValueError):
        ss.save({"__metadata__": ss.ones(1)}, path)
    assert path.read_bytes() == before


def test_killed_save_never_leaves_a_partial_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ss.save({"w": ss.zeros(4)}, path)
    child = _run_child(f"""
        import shanshui as ss
        big = {{"w": ss.ones(4 << 20)}}  # 16 MB per save
        print("ready", flush=True)
        while True:
            ss.save(big, {str(path)!r})
    """, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.4)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    w = ss.load(path)["w"]  # loads (whole old or whole new file), never truncated
    assert tuple(w.shape) in ((4,), (4 << 20,))
    assert w.numpy().min() == w.numpy().max()


# ---- malformed files ----------------------------------------------------------------------------
def _st(header, data=b"", raw_len=None):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(h) if raw_len is None else raw_len
    return struct.pack("<Q", n) + h + data


OK = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
BAD_FILES = {
    "empty file": (b"", "too small"),
    "truncated length": (b"\x10\x00\x00", "too small"),
    "header longer than the file": (_st(b"{}", raw_len=1000), "larger than the file"),
    "header over 100 MB": (_st(b"{}", raw_len=100_000_001), "exceeds the limit"),
    "invalid JSON": (_st(b"{not json"), "not a valid JSON"),
    "JSON not an object": (_st(b"[1, 2]"), "not a valid JSON"),
    "unknown dtype": (_st({"t": {"dtype": "Q8", "shape": [2], "data_offsets": [0, 2]}}, bytes(2)), "Q8"),
    "unsupported dtype": (_st({"t": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)), "F16"),
    "missing dtype": (_st({"t": {"shape": [2], "data_offsets": [0, 8]}}, bytes(8)), "dtype"),
    "negative shape": (_st({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8)), "shape"),
    "backwards offsets": (_st({"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, bytes(8)),
                          "begin <= end"),
    "size != dtype x shape": (_st({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
                              "needs 12"),
    "out of the buffer": (_st({"t": OK}, bytes(4)), "run past the end"),
    "overlapping": (_st({"t": OK, "u": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
                    "overlap"),
    "gap": (_st({"t": OK, "u": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}, bytes(16)), "gap"),
    "trailing bytes": (_st({"t": OK}, bytes(12)), "header describes 8"),
    "metadata not strings": (_st({"__metadata__": {"k": 1}, "t": OK}, bytes(8)), "__metadata__"),
    "huge shape": (_st({"t": {"dtype": "F32", "shape": [1 << 62, 8], "data_offsets": [0, 8]}}, bytes(8)),
                   "too large"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_malformed_files_are_refused(tmp_path, case):
    raw, needle = BAD_FILES[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=needle) as e:
        ss.load(path)
    assert str(path) in str(e.value)  # names the file


def test_truncated_real_file_is_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    save_file({"w": torch.ones(3, 3), "b": torch.zeros(3)}, str(path))
    raw = path.read_bytes()
    for cut in (len(raw) - 1, len(raw) - 13, 20, 7):
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|too small"):
            ss.load(path)
    with pytest.raises(RuntimeError, match="cannot open"):
        ss.load(tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="file path"):
        ss.load(12)


# ---- a whole training state ---------------------------------------------------------------------
def _mlp(seed):
    ss.manual_seed(seed)
    return {"w1": (ss.randn(16, 4) * 0.5).requires_grad_(), "b1": ss.zeros(16).requires_grad_(),
            "w2": (ss.randn(2, 16) * 0.5).requires_grad_(), "b2": ss.zeros(2).requires_grad_()}


def _train(params, opt, sched, steps):
    for _ in range(steps):
        x = ss.randn(8, 4)
        y = ss.randn(8, 2)
        h = (x @ params["w1"].t() + params["b1"]).relu()
        keep = (ss.rand(8, 16) > 0.2).to(ss.float32) / 0.8  # dropout-like randomness
        out = (h * keep) @ params["w2"].t() + params["b2"]
        loss = ((out - y) * (out - y)).mean()
        opt.zero_grad()
        loss.backward()
        ss.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()
        sched.step()


def _setup(seed, kind):
    params = _mlp(seed)
    if kind == "adamw_cosine":
        opt = ss.optim.AdamW([{"params": [params["w1"], params["b1"]]},
                              {"params": [params["w2"], params["b2"]], "lr": 3e-3}], lr=1e-2, amsgrad=True)
        sched = ss.optim.lr_scheduler.WarmupCosineLR(opt, warmup_steps=5, total_steps=30)
    elif kind == "sgd_multistep":
        opt = ss.optim.SGD(params.values(), lr=0.05, momentum=0.9, nesterov=True)
        sched = ss.optim.lr_scheduler.MultiStepLR(opt, milestones=[4, 12, 15], gamma=0.5)
    else:
        opt = ss.optim.RMSprop(params.values(), lr=1e-2, momentum=0.5, centered=True)
        sched = ss.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** e)
    return params, opt, sched


@pytest.mark.parametrize("kind", ["adamw_cosine", "sgd_multistep", "rmsprop_lambda"])
def test_training_state_resumes_bit_identically(tmp_path, kind):
    path = tmp_path / "train.safetensors"
    params, opt, sched = _setup(0, kind)
    _train(params, opt, sched, 10)
    ss.save_training_state(path, model=params, optimizer=opt, scheduler=sched, step=10, note="halfway")
    _train(params, opt, sched, 10)
    straight = {k: v.detach().numpy().copy() for k, v in params.items()}

    # A fresh start with another seed and other weights, then resume from the file.
    params2, opt2, sched2 = _setup(123, kind)
    state = ss.load_training_state(path, model=params2, optimizer=opt2, scheduler=sched2)
    assert state["step"] == 10 and state["note"] == "halfway"
    _train(params2, opt2, sched2, 10)
    for k in straight:
        assert np.array_equal(params2[k].detach().numpy(), straight[k]), k
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert sched2.last_epoch == sched.last_epoch == 20


def test_rng_state_round_trip():
    ss.manual_seed(5)
    ss.rand(3)
    s = ss.get_rng_state()
    a = ss.rand(10).numpy()
    ss.rand(7)
    ss.set_rng_state(s)
    assert np.array_equal(ss.rand(10).numpy(), a)
    with pytest.raises(ValueError, match="set_rng_state"):
        ss.set_rng_state(ss.zeros(3))


def test_clip_grad_matches_torch():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in [(4, 3), (5,), (2, 2)]]
    for norm_type, max_norm in [(2.0, 1.0), (1.0, 2.0), (float("inf"), 0.5), (3.0, 100.0)]:
        ours = [ss.zeros(*g.shape, requires_grad=True) for g in grads]
        ref = [torch.zeros(*g.shape, requires_grad=True) for g in grads]
        for p, t, g in zip(ours, ref, grads):
            p.grad, t.grad = ss.tensor(g), torch.tensor(g)
        n1 = ss.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
        n2 = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type=norm_type)
        assert n1.item() == pytest.approx(n2.item(), rel=1e-6)
        for p, t in zip(ours, ref):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-7)
    ours = [ss.zeros(*g.shape, requires_grad=True) for g in grads]
    ref = [torch.zeros(*g.shape, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, ref, grads):
        p.grad, t.grad = ss.tensor(g), torch.tensor(g)
    ss.nn.utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(ref, 0.7)
    for p, t in zip(ours, ref):
        assert np.array_equal(p.grad.numpy(), t.grad.numpy())
    bad = ss.zeros(2, requires_grad=True)
    bad.grad = ss.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        ss.nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)
    assert ss.nn.utils.clip_grad_norm_(ss.zeros(2, requires_grad=True), 1.0).item() == 0.0
