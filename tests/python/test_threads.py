"""Thread settings of the Python package (timings are never asserted here)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait_settings_after_import(**env_settings):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    env.update(env_settings)
    code = "import os, shanshui; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_import_bounds_how_long_openmp_threads_spin():
    # libgomp's default spin made two threads up to 70x slower than one on a loaded machine.
    assert _wait_settings_after_import() == ["None", "20000"]


def test_import_keeps_the_users_wait_settings():
    assert _wait_settings_after_import(OMP_WAIT_POLICY="PASSIVE") == ["PASSIVE", "None"]
    assert _wait_settings_after_import(GOMP_SPINCOUNT="0") == ["None", "0"]


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
