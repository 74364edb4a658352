"""torchrun with 2 CPU processes (gloo) against one process on the same global batch."""

import json
import os
import subprocess
import sys

import pytest

ARGS = ["--dataset", "digits", "--model", "small_cnn", "--eps", "0.2", "--batch-size", "32", "--lr", "0.05",
        "--eval-steps", "3", "--val-per-class", "10", "--no-eval-random-start", "--seed", "4"]


def _run(out, nproc, method="natural", epochs=1):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, "-m", "frl", "train"]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "frl", "train"]
    proc = subprocess.run([*cmd, *ARGS, "--method", method, "--epochs", str(epochs), "--out", str(out)], env=env,
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
