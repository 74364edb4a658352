"""torchrun with 2 CPU processes (gloo) against one process on the same global batch."""

import json
import os
import subprocess
import sys

import pytest

ARGS = ["--dataset", "digits", "--model", "small_cnn", "--eps", "0.2", "--batch-size", "32", "--lr", "0.05",
        "--eval-steps", "3", "--val-per-class", "10", "--no-eval-random-start", "--seed", "4"]


def _run(out, nproc, method="natural", epochs=1, extra=()):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, "-m", "frl", "train"]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "frl", "train"]
    proc = subprocess.run([*cmd, *ARGS, "--method", method, "--epochs", str(epochs), *extra, "--out", str(out)],
                          env=env,
                          capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in open(out / "metrics.jsonl")]


def test_two_gloo_processes_match_one_process(tmp_path):
    one = _run(tmp_path / "one", 1)
    two = _run(tmp_path / "two", 2)
    assert [(r["epoch"], r["split"]) for r in two] == [(r["epoch"], r["split"]) for r in one]  # rank 0 wrote once
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)  # same global batches, same augmentation
        assert b["n_per_class"] == a["n_per_class"]  # every example evaluated once, counts summed
        # the same model up to float summation order: at most one clean prediction per class may differ
        assert all(abs(x - y) * n <= 1 + 1e-9 for x, y, n in zip(a["std_error"], b["std_error"], a["n_per_class"]))
        # PGD follows gradient signs, which float noise can flip near zero: robust errors agree closely
        assert b["avg"]["rob_error"] == pytest.approx(a["avg"]["rob_error"], abs=0.02)


def test_pgd_at_and_frl_controller_run_under_torchrun(tmp_path):
    lines = _run(tmp_path / "pgd", 2, method="pgd_at", epochs=2)
    assert len(lines) == 4 and lines[-1]["split"] == "test"
    assert sum(lines[-1]["n_per_class"]) == 360


@pytest.mark.parametrize("method,extra", [("dafa", ["--dafa-warmup", "1"]),
                                          ("cfa", ["--cfa-begin", "1", "--cfa-threshold", "0"])])
def test_training_statistics_are_summed_over_processes(tmp_path, method, extra):
    """DAFA's similarity and CFA's training accuracies are summed over the shards before they are used."""
    import torch

    states = {}
    for nproc in (1, 2):
        _run(tmp_path / str(nproc), nproc, method=method, epochs=2, extra=extra)
        states[nproc] = torch.load(tmp_path / str(nproc) / "checkpoint.pt", weights_only=False)["method"]
    one, two = states[1], states[2]
    if method == "dafa":
        assert float(two["count"].sum()) == float(one["count"].sum()) > 1000  # every example of the warm-up once
        from deep.methods.dafa import class_similarity, dafa_weights

        # W comes from the summed statistics; the runs themselves differ a little (batch norm sees each
        # process's half batch), so W does too
        assert torch.allclose(two["weights"], dafa_weights(class_similarity(two["prob_sum"], two["count"]), 1.0))
        assert torch.allclose(two["weights"], one["weights"], atol=0.1)
    else:
        assert torch.allclose(two["train_rob_acc"], one["train_rob_acc"], atol=0.05)
        assert int(two["averaged_updates"]) == int(one["averaged_updates"]) == 2
        assert torch.allclose(two["eps_class"], one["eps_class"], atol=0.05 * 0.2)
