"""examples/bert_mlm.py --short: the masked-LM demo runs end to end on the
fortunes text (well under a minute with one thread), its loss falls well below
where it started, and it writes its figure and results."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bert_mlm_short(tmp_path):
    if not os.path.isdir("/usr/share/games/fortunes"):
        pytest.fail("Debian's `fortunes` package is not installed (the Makefile installs it)")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
    out = tmp_path / "bert"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "bert_mlm.py"), "--short", "--threads", "1",
                        "--seed", "0", "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads((out / "results.json").read_text())
    # Uniform guessing over the vocabulary starts near ln(2000) = 7.6 nats.
    assert r["first_loss"] > 7.0
    assert r["final_loss"] < r["first_loss"] - 1.5, (r["first_loss"], r["final_loss"])
    assert r["masked_tokens"] > 500 and 1 < r["perplexity"] < 2000
    assert (out / "loss.png").stat().st_size > 1000
    assert "held-out masked tokens" in p.stdout and "->" in p.stdout
