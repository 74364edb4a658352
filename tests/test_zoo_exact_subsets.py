"""Issue 27 at the size of real data: a RobustBench zoo start (Wong2020Fast's PreAct-ResNet18, loaded by
RobustBench's own loader from its local layout) fine-tuned with FRL Reweight+Remargin for one epoch on the
exact CIFAR-10 subsets of ../shared/data (4,000 training and 1,000 test images, through ``frl
prepare-cifar10``), scored on the whole 1,000-image test split, audited there, and both read by ``frl
compare``.

A PreAct-ResNet18 epoch over 4,000 images takes minutes on two CPU cores, more than CI's time allows
for one test, so this runs only where asked (``FRL_SLOW_TESTS=1``; docs/speed.md has its time). The same
code paths at a tiny size (resume after a cut included) are in tests/test_zoo.py, which CI runs.

    FRL_SLOW_TESTS=1 python -m pytest -q tests/test_zoo_exact_subsets.py
"""

import hashlib
import json
import os

import pytest
import torch

from fake_datasets import CIFAR_TEST_NPZ, CIFAR_TRAIN_NPZ
from frl.cli import main
from test_zoo import HAVE_ROBUSTBENCH, NAME

pytestmark = [
    pytest.mark.skipif(os.environ.get("FRL_SLOW_TESTS") != "1",
                       reason="slow (minutes on 2 cores): FRL_SLOW_TESTS=1 python -m pytest tests/test_zoo_exact_subsets.py"),
    pytest.mark.skipif(not CIFAR_TRAIN_NPZ.exists(), reason="needs the exact CIFAR-10 subsets in ../shared/data"),
    pytest.mark.skipif(not HAVE_ROBUSTBENCH, reason="robustbench is not installed (pip install -e '.[zoo]')"),
]


def test_a_zoo_start_fine_tunes_one_epoch_on_the_exact_subsets_then_audit_and_compare_read_it(tmp_path):
    from deep.zoo import zoo_architecture, zoo_file

    data, models, runs = tmp_path / "data", tmp_path / "models", tmp_path / "runs"
    assert main(["prepare-cifar10", str(CIFAR_TRAIN_NPZ), str(CIFAR_TEST_NPZ), "--out", str(data)]) == 0
    torch.manual_seed(0)
    path = zoo_file(NAME, models)
    path.parent.mkdir(parents=True)
    torch.save(zoo_architecture(NAME).state_dict(), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()

    run = runs / "frl" / "seed_0"
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(data), "--method", "frl_reweight_remargin",
                 "--init", f"robustbench:{NAME}", "--zoo-dir", str(models), "--epochs", "1", "--attack-steps", "1",
                 "--val-per-class", "10", "--eval-steps", "1", "--test-every", "0", "--batch-size", "128",
                 "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["init_zoo"]["sha256"] == sha and config["model"] == f"robustbench:{NAME}"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (row,) = [r for r in rows if r["split"] == "val"]  # one epoch; the run's closing line scores the test split
    assert rows[-1]["split"] == "test" and sum(rows[-1]["n_per_class"]) == 1000
    assert row["images_per_s"] * row["epoch_time"] == pytest.approx(4000 - 100, rel=0.02)  # the whole subset, less val
    assert main(["eval", str(run), "--steps", "2"]) == 0
    res = json.loads((run / "eval.json").read_text())
    assert res["n_per_class"] == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]  # the exact 1,000-image test split

    audit = runs / "zoo" / "seed_0"
    assert main(["audit", f"robustbench:{NAME}", "--zoo-dir", str(models), "--data-dir", str(data), "--steps", "2",
                 "--out", str(audit)]) == 0
    zoo = json.loads((audit / "eval.json").read_text())
    assert zoo["audited"]["sha256"] == sha and zoo["n_per_class"] == res["n_per_class"]
    assert main(["compare", str(runs), "--base", "zoo", "--out", str(tmp_path / "cmp")]) == 0
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert set(cmp["methods"]) == {"zoo", "frl"}
