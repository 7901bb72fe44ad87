"""Thread settings of the Python package (timings are never asserted here)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _policy_after_import(env_policy):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    env.pop("OMP_WAIT_POLICY", None)
    if env_policy is not None:
        env["OMP_WAIT_POLICY"] = env_policy
    code = "import os, shanshui; print(os.environ['OMP_WAIT_POLICY'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_makes_openmp_threads_sleep_instead_of_spinning():
    # Spinning waiters made two threads up to 70x slower than one on a loaded machine.
    assert _policy_after_import(None) == "PASSIVE"


def test_import_keeps_the_users_wait_policy():
    assert _policy_after_import("ACTIVE") == "ACTIVE"


def test_results_do_not_depend_on_the_thread_count():
    import shanshui as ss
    saved = ss.get_num_threads()
    try:
        outs = []
        for t in (1, 2):
            ss.set_num_threads(t)
            ss.manual_seed(0)
            a, b = ss.randn(300, 200), ss.randn(200, 100)
            outs.append(((a @ b).relu().sum(1) + ss.randn(300).exp()).tolist())
        assert outs[0] == outs[1] or max(abs(x - y) for x, y in zip(*outs)) < 1e-3
    finally:
        ss.set_num_threads(saved)
