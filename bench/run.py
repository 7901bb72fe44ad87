"""The benchmark harness: shanshui (C++ API, Python API) against PyTorch, same run.

    python bench/run.py                      # every workload, 2 threads (what `make bench` runs)
    python bench/run.py -w W4,W5 -t 1,2      # some workloads, two thread counts
    python bench/run.py --tiny --rounds 2    # the smoke run of the test suite

For each workload and thread count, one worker process per implementation
(bench/worker.py for PyTorch and our Python API, build/bench/bench_worker for
our C++ API) sets up and warms up; then the driver runs them in turn, A B C A B
C ..., for several rounds (the starting worker rotates), so a machine that
slows down mid-run slows everyone alike. It reports the median time per step,
the ratio PyTorch time / ours, the model FLOP/s as a fraction of the sgemm rate
measured in the same run, and the peak memory the steps added; the table is
printed (markdown) and written to a JSON file with the machine and versions.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from workloads import WORKLOADS  # noqa: E402

IMPLS = ("torch", "ss-python", "ss-cpp")


class Worker:
    """One implementation of one workload, alive in its own process."""

    def __init__(self, impl, workload, threads, tiny, cpp_worker):
        self.impl = impl
        if impl == "ss-cpp":
            cmd = [cpp_worker, "--workload", workload, "--threads", str(threads)] + (["--tiny"] if tiny else [])
        else:
            lib = "torch" if impl == "torch" else "shanshui"
            cmd = [sys.executable, os.path.join(HERE, "worker.py"), "--lib", lib, "--workload", workload,
                   "--threads", str(threads)] + (["--tiny"] if tiny else [])
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   PYTHONPATH=os.path.join(ROOT, "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if impl == "ss-cpp":
            # `import shanshui` bounds how long waiting OpenMP threads spin (GOMP_SPINCOUNT=20000
            # unless the user set a wait policy); a C++ program can only get that from its
            # environment, so the C++ worker is given the same. PyTorch runs with its own defaults.
            if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
                env["GOMP_SPINCOUNT"] = "20000"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        first = self._read()
        self.meta, self.reason = None, None
        if first.startswith("ready"):
            self.meta = json.loads(first.split(" ", 1)[1])
        else:
            self.reason = first.split(" ", 1)[1] if " " in first else (first or "worker exited")
            self.proc.wait()
        self.times = []
        self.mem = None

    def _read(self):
        line = self.proc.stdout.readline()
        return line.strip()

    def run(self, n):
        self.proc.stdin.write(f"run {n}\n")
        self.proc.stdin.flush()
        reply = self._read()
        if not reply.startswith("time"):
            raise RuntimeError(f"{self.impl}: worker failed (got {reply!r})")
        return float(reply.split()[1])

    def close(self):
        if self.meta is None:
            return
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        reply = self._read()
        self.mem = int(reply.split()[1]) if reply.startswith("mem") else -1
        self.proc.wait()


def bench_one(workload, threads, args):
    workers = []
    for impl in args.impls:
        if impl == "ss-cpp" and not os.path.exists(args.cpp_worker):
            continue
        workers.append(Worker(impl, workload, threads, args.tiny, args.cpp_worker))
    live = [w for w in workers if w.meta is not None]
    # Steps per round: about args.round_seconds of work for the slowest implementation.
    n = 1
    if live:
        slowest = max(w.run(1) for w in live)
        n = max(1, int(args.round_seconds / max(slowest, 1e-9)))
    for r in range(args.rounds):
        for i in range(len(live)):
            w = live[(i + r) % len(live)]
            w.times.append(w.run(n))
    for w in workers:
        w.close()
    rows = {}
    for w in workers:
        if w.meta is None:
            rows[w.impl] = {"available": False, "reason": w.reason}
            continue
        med = statistics.median(w.times)
        rows[w.impl] = {"available": True, "median_s": med, "times_s": w.times, "steps_per_round": n,
                        "flops": w.meta["flops"], "rate": w.meta["items"] / med, "unit": w.meta["unit"],
                        "flop_per_s": w.meta["flops"] / med, "peak_mem_bytes": w.mem}
    return rows


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for mod in ("torch", "numpy", "torch_geometric"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 (an absent or broken package is just not listed)
            pass
    sys.path.insert(0, os.path.join(ROOT, "python"))
    try:
        import shanshui
        versions["shanshui"] = shanshui.__version__
    except Exception:  # noqa: BLE001
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "versions": versions,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average": os.getloadavg(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "unset (shanshui: 20000)")}


def fmt_mem(b):
    return "n/a" if b is None or b < 0 else f"{b / 2**20:.0f} MiB"


def table(results):
    lines = ["| workload | threads | impl | median | rate | torch/ours | FLOP/s vs sgemm | peak mem |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for res in results:
        sg = res["sgemm_flop_per_s"]
        torch_t = res["rows"].get("torch", {}).get("median_s")
        for impl in IMPLS:
            row = res["rows"].get(impl)
            if row is None:
                continue
            if not row["available"]:
                lines.append(f"| {res['workload']} | {res['threads']} | {impl} | n/a ({row['reason']}) | | | | |")
                continue
            ratio = "" if impl == "torch" or torch_t is None else f"{torch_t / row['median_s']:.2f}"
            frac = f"{row['flop_per_s'] / sg:.1%}" if sg else ""
            lines.append(f"| {res['workload']} | {res['threads']} | {impl} | {row['median_s'] * 1e3:.3f} ms | "
                         f"{row['rate']:.1f} {row['unit']}/s | {ratio} | {frac} | {fmt_mem(row['peak_mem_bytes'])} |")
    return "\n".join(lines)


def fused_vs_unfused(results):
    """W5u time / W5 time per implementation and thread count (the fused kernel's speed-up)."""
    by = {(r["workload"], r["threads"]): r["rows"] for r in results}
    out = []
    for (w, threads), rows in by.items():
        if w != "W5" or ("W5u", threads) not in by:
            continue
        for impl in IMPLS:
            f, u = rows.get(impl), by[("W5u", threads)].get(impl)
            if f and u and f["available"] and u["available"]:
                out.append({"impl": impl, "threads": threads, "speedup": u["median_s"] / f["median_s"],
                            "fused_mem": f["peak_mem_bytes"], "unfused_mem": u["peak_mem_bytes"]})
    return out


def main():
    ap = argparse.ArgumentParser(description="shanshui vs PyTorch on the reference workloads (DESIGN.md)")
    ap.add_argument("-w", "--workloads", default="W1,W1g,W2,W2g,W3,W4,W5,W5u",
                    help="comma-separated ids (W1..W5; W1g, W2g: their GEMMs alone; W5u: W5 unfused)")
    ap.add_argument("-t", "--threads", default="2", help="comma-separated thread counts")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per workload (median taken)")
    ap.add_argument("--round-seconds", type=float, default=0.5, help="approximate work per worker per round")
    ap.add_argument("--impls", default=",".join(IMPLS), help="subset of " + ",".join(IMPLS))
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: checks the harness runs, measures nothing")
    ap.add_argument("--cpp-worker", default=os.path.join(ROOT, "build", "bench", "bench_worker"))
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"), help="where to write the results")
    args = ap.parse_args()
    args.impls = [i for i in args.impls.split(",") if i]
    for i in args.impls:
        if i not in IMPLS:
            ap.error(f"--impls: unknown implementation '{i}' (choose from {', '.join(IMPLS)})")
    ids = [w for w in args.workloads.split(",") if w]
    for w in ids:
        if w not in WORKLOADS or w == "SGEMM":
            ap.error(f"--workloads: unknown workload '{w}' (choose from {', '.join(k for k in WORKLOADS if k != 'SGEMM')})")

    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        sg_rows = bench_one("SGEMM", threads, args)
        sgemm = max((r["flop_per_s"] for r in sg_rows.values() if r.get("available")), default=0.0)
        print(f"threads {threads}: sgemm reference {sgemm / 1e9:.1f} GFLOP/s", file=sys.stderr)
        for w in ids:
            print(f"threads {threads}: {w} ...", file=sys.stderr, flush=True)
            results.append({"workload": w, "description": WORKLOADS[w][0], "threads": threads,
                            "sgemm_flop_per_s": sgemm, "rows": bench_one(w, threads, args)})
    out = {"machine": machine_info(), "tiny": args.tiny, "rounds": args.rounds, "results": results}
    out["fused_vs_unfused"] = fused_vs_unfused(results)
    text = table(results)
    print(text)
    for f in out["fused_vs_unfused"]:
        print(f"W5 fused vs unfused ({f['impl']}, {f['threads']} thread(s)): {f['speedup']:.2f}x faster, "
              f"peak memory {fmt_mem(f['fused_mem'])} vs {fmt_mem(f['unfused_mem'])}")
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(f"results written to {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
