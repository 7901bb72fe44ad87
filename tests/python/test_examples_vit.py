"""examples/vit_classify.py: its short run learns the 8x8 digits, writes its pictures and
results, and its helpers (attention rollout, random shifts) compute what they claim."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "vit_classify.py")


def load_example():
    spec = importlib.util.spec_from_file_location("vit_classify", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)


def test_short_run_on_digits_learns_and_writes_outputs(tmp_path):
    r = run("--dataset", "digits", "--short", "--threads", "1", "--seed", "0", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    # Ten classes start near ln 10 = 2.30; the short run must end well below that,
    # and classify held-out digits far better than chance (10%).
    assert res["first_loss"] > 2.0
    assert res["final_loss"] < 0.6 * res["first_loss"], (res["first_loss"], res["final_loss"])
    assert res["test_accuracy"] > 0.5
    cm = np.array(res["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 360  # the 20% held-out digits
    assert abs(np.trace(cm) / cm.sum() - res["test_accuracy"]) < 1e-9
    for name in ("confusion_matrix.png", "attention_rollout.png", "loss.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "final test accuracy" in r.stdout


def test_help_lists_the_options():
    r = run("--help", timeout=60)
    assert r.returncode == 0
    for opt in ("--dataset", "--seed", "--threads", "--out", "--short", "--epochs", "fashion-mnist", "digits"):
        assert opt in r.stdout, opt


def test_unknown_dataset_is_rejected():
    r = run("--dataset", "cifar", timeout=60)
    assert r.returncode != 0 and "invalid choice" in r.stderr


def test_rollout_by_hand():
    vit = load_example()
    n = 5  # CLS + 4 patches
    # Each token attending only to itself: the rollout is the identity, the CLS token draws on no patch.
    eye = np.broadcast_to(np.eye(n), (1, 2, n, n))
    np.testing.assert_allclose(vit.rollout([eye, eye]), np.zeros((1, n - 1)))
    # One layer of uniform attention: (U + I) / 2 with U = 1/n, so CLS -> patch is 1 / (2n).
    uniform = np.full((1, 3, n, n), 1.0 / n)
    np.testing.assert_allclose(vit.rollout([uniform]), np.full((1, n - 1), 0.5 / n))
    # Two layers multiply: ((U + I)/2)^2 = (3U + I) / 4 since U^2 = U, so CLS -> patch is 3 / (4n).
    np.testing.assert_allclose(vit.rollout([uniform, uniform]), np.full((1, n - 1), 0.75 / n))


def test_shift_batch_moves_images_and_fills_background():
    vit = load_example()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 1, 6, 6)).astype(np.float32)
    y = vit.shift_batch(x, 1, -7.0, rng)
    assert y.shape == x.shape and y.dtype == x.dtype
    seen = set()
    for a, b in zip(x[:, 0], y[:, 0]):
        # b must be a moved by one (dy, dx) in [-1, 1]^2, with -7 where nothing moved in.
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                want = np.full_like(a, -7.0)
                want[max(dy, 0):6 + min(dy, 0), max(dx, 0):6 + min(dx, 0)] = \
                    a[max(-dy, 0):6 + min(-dy, 0), max(-dx, 0):6 + min(-dx, 0)]
                if np.array_equal(b, want):
                    matches.append((dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 4  # the shifts really vary
    assert vit.shift_batch(x, 0, -7.0, rng) is x
