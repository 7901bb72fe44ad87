"""The benchmark harness runs end to end on tiny sizes (timings are never asserted:
they belong to `make bench`, not to tests)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CPP_WORKER = os.path.join(ROOT, "build", "bench", "bench_worker")


@pytest.mark.skipif(not os.path.exists(CPP_WORKER), reason="build/bench/bench_worker not built (make build)")
def test_harness_tiny_run_reports_every_implementation(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--tiny", "--rounds", "2",
                        "--round-seconds", "0.01", "-w", "W1,W1g,W2,W2g,W3,W4,W5,W5u", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["tiny"] is True and res["machine"]["cores"] >= 1
    seen = {(e["workload"], impl): row for e in res["results"] for impl, row in e["rows"].items()}
    for w in ("W1", "W1g", "W2", "W2g", "W3", "W4", "W5", "W5u"):
        for impl in ("torch", "ss-python", "ss-cpp"):
            row = seen[(w, impl)]
            assert row["available"], f"{w} {impl}: {row.get('reason')}"
            assert len(row["times_s"]) == 2 and all(t > 0 for t in row["times_s"])
            assert row["flops"] > 0 and row["rate"] > 0
        # The C++ and Python halves describe the same work (bench/cpp/workloads.cpp mirrors workloads.py).
        assert seen[(w, "ss-cpp")]["flops"] == seen[(w, "ss-python")]["flops"]
        assert seen[(w, "ss-cpp")]["unit"] == seen[(w, "ss-python")]["unit"]
    assert "| W5 |" in r.stdout and "torch/ours" in r.stdout
    # The fused kernel's speed-up over the unfused path, per implementation.
    fused = {f["impl"]: f for f in res["fused_vs_unfused"]}
    assert set(fused) == {"torch", "ss-python", "ss-cpp"} and all(f["speedup"] > 0 for f in fused.values())
    assert "W5 fused vs unfused (ss-cpp" in r.stdout


def test_harness_rejects_unknown_workload():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "-w", "W9"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "unknown workload 'W9'" in r.stderr
