"""examples/translate.py end to end in its short mode (< 60 s on one thread):
the three models train (their loss falls well below its start), the pictures,
results.json and checkpoint are written, and `translate` reloads the checkpoint."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "translate.py")


def run(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("translate")
    p = run("--short", "--threads", "1", "--seed", "0", "--out", str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    return out, p.stdout


def test_short_run_learns_and_writes_outputs(short_run):
    out, stdout = short_run
    with open(out / "results.json") as f:
        res = json.load(f)["results"]
    assert set(res) == {"transformer", "gru", "gru-attn"}
    for name, r in res.items():
        # Cross-entropy over ~33 words starts near log(33) = 3.5; 120 steps bring every model below 2.
        assert r["final_loss"] < 0.65 * r["first_loss"], (name, r["first_loss"], r["final_loss"])
        assert 0.0 <= r["exact_match"] <= 1.0 and r["accuracy_by_source_length"]
    assert "exact_match_beam" in res["transformer"]
    for png in ("accuracy_by_length.png", "loss.png", "attention_transformer.png", "attention_gru-attn.png"):
        with open(out / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
    assert not (out / "attention_gru.png").exists()  # no attention, no heatmap
    assert "held-out exact match" in stdout


def test_translate_subcommand_reloads_checkpoint(short_run):
    out, _ = short_run
    ckpt = str(out / "transformer.safetensors")
    p = run("translate", "--checkpoint", ckpt, "sieben und vierzig", "drei hundert", "zwölf tausend")
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [line for line in p.stdout.splitlines() if "->" in line]
    assert len(lines) == 3 and lines[0].startswith("sieben und vierzig  ->")
    p = run("translate", "--checkpoint", ckpt, "sieben und banane")
    assert p.returncode == 0 and "unknown word 'banane'" in p.stdout


def test_help_and_bad_arguments():
    p = run("--help")
    assert p.returncode == 0 and "--seed" in p.stdout and "--threads" in p.stdout and "--out" in p.stdout
    p = run("--models", "lstm")
    assert p.returncode == 2 and "unknown model 'lstm'" in p.stderr
