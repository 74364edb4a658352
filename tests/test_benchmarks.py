"""The benchmark scripts run (tiny sizes on CPU) and write the row format the issue fixes; no timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_epoch_time_writes_a_labelled_row(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "epoch_time.py"), "--device", "cpu",
                           "--models", "preact_resnet18", "--batch-size", "4", "--batches", "1", "--warmup", "1",
                           "--attack-steps", "2", "--results", str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = tmp_path.glob("*.json")
    (row,) = json.loads(path.read_text())
    assert {"device", "model", "attack_steps", "batch_size", "ours_epoch_s", "plain_epoch_s", "torch", "date"} <= set(row)
    assert row["kind"] == "cpu" and row["attack_steps"] == 2 and row["ours_epoch_s"] > 0
    assert "speedup" in proc.stdout


def test_theory_speed_prints_rates():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "theory_speed.py"), "--n", "10000",
                           "--repeats", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "configurations/s" in proc.stdout


def test_controller_steps_scores_a_start_and_its_fine_tune_with_both_attacks(tmp_path):
    from frl.cli import main

    common = ["--dataset", "digits", "--epochs", "1", "--test-every", "0", "--val-per-class", "10"]
    assert main(["train", "--method", "pgd_at", *common, "--out", str(tmp_path / "pgd")]) == 0
    assert main(["train", "--method", "frl_reweight_remargin", "--init", str(tmp_path / "pgd"), *common,
                 "--out", str(tmp_path / "frl")]) == 0
    out = tmp_path / "cs.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "controller_steps.py"), str(tmp_path / "frl"),
                           "--with-init", "--steps", "2", "20", "--repeat", "3", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    start, frl = json.loads(out.read_text())["results"]
    assert start["run"] == str(tmp_path / "pgd") and frl["run"] == str(tmp_path / "frl")
    for r in (start, frl):
        a, b = r["by_steps"]["2"], r["by_steps"]["20"]
        assert r["gap"]["max_abs_bndy_gap"] == round(max(abs(x - y) for x, y in zip(a["bndy_error"], b["bndy_error"])), 4)
        assert len(a["after_3"]["eps_class_over_eps"]) == 10 and min(a["after_1"]["eps_class_over_eps"]) >= 1.0
        assert b["rob_avg"] >= a["rob_avg"] - 0.05  # PGD-20 is at least about as strong as PGD-2
