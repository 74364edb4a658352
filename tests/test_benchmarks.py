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
