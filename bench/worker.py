"""One benchmark worker: a workload on one library, in its own process.

    python bench/worker.py --lib torch|shanshui --workload W4 [--tiny] [--threads 2] [--warmup 3]

Speaks a line protocol on stdin/stdout so the driver (bench/run.py) can
interleave libraries (A B A B ...) while each keeps its own memory accounting:

    -> ready {"flops": ..., "items": ..., "unit": ...}   after setup and warm-up
    <- run N                                              run N steps
    -> time S                                             seconds per step (mean of the N)
    <- quit
    -> mem BYTES                                          peak RSS the steps added

Peak memory is the resident-set high-water mark during the steps minus the
resident set before the first step (model, data and library already loaded):
the kernel's VmHWM is reset through /proc/self/clear_refs first.
The C++ worker (bench/cpp/bench_worker.cpp) speaks the same protocol.
"""
import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, Unavailable  # noqa: E402


def _status_kb(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1))


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", choices=["torch", "shanshui"], required=True)
    ap.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (the test suite's smoke run)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()

    if a.lib == "torch":
        import torch as lib
    else:
        import shanshui as lib
    lib.set_num_threads(a.threads)
    try:
        w = WORKLOADS[a.workload][1](lib, a.tiny)
    except Unavailable as e:
        print("unavailable", e, flush=True)
        return
    rss0 = _status_kb("VmRSS")
    can_peak = _reset_peak()
    for _ in range(a.warmup):
        w.step()
    print("ready", json.dumps({"flops": w.flops, "items": w.items, "unit": w.unit}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        n = int(cmd[1])
        t0 = time.perf_counter()
        for _ in range(n):
            w.step()
        print("time", (time.perf_counter() - t0) / n, flush=True)
    peak = (_status_kb("VmHWM") - rss0) * 1024 if can_peak else -1
    print("mem", max(peak, 0) if can_peak else -1, flush=True)


if __name__ == "__main__":
    main()
