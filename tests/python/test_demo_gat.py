"""The GAT node classification demo (examples/gat_cora.py) in its short mode on Cora
(../shared/data/cora beside the repository) and on its generated graph, and its two
Cora readers (safetensors, Planetoid pickles) against each other."""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORA = os.path.join(ROOT, "..", "shared", "data", "cora")
SCRIPT = os.path.join(ROOT, "examples", "gat_cora.py")
sys.path.insert(0, os.path.join(ROOT, "examples", "graph"))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import data as graph_data  # noqa: E402
import gat_cora  # noqa: E402


def run_demo(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, "--threads", "1", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_short_run_on_cora_learns(tmp_path):
    r = run_demo("--short", "--data", CORA, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["dataset"] == "Cora" and len(res["runs"]) == 1
    run = res["runs"][0]
    # ln(7) = 1.95 at the start; 100 epochs of the recipe bring it near 1.
    assert abs(run["first_loss"] - np.log(7)) < 0.1
    assert run["final_loss"] < 0.7 * run["first_loss"], run
    # Chance is 1/7 and the largest class is under a third of the test nodes.
    assert run["test_accuracy"] > 0.6, run
    assert "test accuracy over 1 seeds" in r.stdout
    for png in ("learning_curves.png", "per_class_accuracy.png", "attention_entropy.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generated_graph_learns(tmp_path):
    # In process (the CLI path is covered above): 80 epochs on the default generated graph.
    res = gat_cora.main(["--epochs", "80", "--seeds", "1", "--seed", "3", "--threads", "1", "--out", str(tmp_path)])
    assert res["dataset"] == "generated CSBM" and res["args"]["seed"] == 3
    assert len(res["accuracies"]) == 1 and res["mean"] == res["accuracies"][0]
    run = res["runs"][0]
    assert run["final_loss"] < 0.7 * run["first_loss"], run
    assert run["test_accuracy"] > 0.5, run  # 5 classes: chance is 0.2
    assert json.loads((tmp_path / "results.json").read_text())["mean"] == res["mean"]


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    g = gat_cora.to_tensors(graph_data.make_csbm(nodes=1000, feats=20, seed=1))
    args = gat_cora.parse_args(["--epochs", "300", "--patience", "5", "--threads", "1"])
    run = gat_cora.run(g, 0, args)
    curve = np.array(run["curve"])  # (train loss, val loss, val acc) per epoch
    # It stopped early, at least `patience` epochs after the kept epoch, and the kept epoch is
    # one where validation loss and accuracy were both at their best so far.
    assert run["epochs"] < 300 and run["epochs"] - run["best_epoch"] >= 5, run["epochs"]
    b = run["best_epoch"] - 1
    assert curve[b, 1] == curve[:b + 1, 1].min() and curve[b, 2] == curve[:b + 1, 2].max()
    # The last `patience` epochs improved neither validation loss nor accuracy.
    tail = curve[-5:]
    assert (tail[:, 1] > curve[:-5, 1].min()).all() and (tail[:, 2] < curve[:-5, 2].max()).all()


def test_planetoid_files_give_the_same_graph_as_safetensors():
    a = graph_data.load_graph(CORA, "planetoid")
    b = graph_data.load_graph(CORA, "safetensors")
    assert a["x"].shape == (2708, 1433) and a["edge_index"].shape == (2, 10556)
    for k in ("x", "y", "edge_index", "train", "val", "test"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert a["classes"] == 7 and np.allclose(a["x"].sum(1)[a["x"].sum(1) > 0], 1.0)
    assert sorted(np.bincount(a["y"][a["train"]]).tolist()) == [20] * 7  # 20 labelled nodes per class


def test_bad_arguments_are_reported(tmp_path):
    r = run_demo("--data", str(tmp_path / "nowhere"), "--out", str(tmp_path), timeout=60)
    assert r.returncode != 0 and "does not exist" in r.stderr
    r = run_demo("--data", str(tmp_path), "--out", str(tmp_path), timeout=60)
    assert r.returncode != 0 and "neither cora.safetensors nor ind.cora" in r.stderr
    r = run_demo("--seeds", "0", timeout=60)
    assert r.returncode != 0 and "--seeds must be positive" in r.stderr
