"""Evaluation against references (the official AutoAttack, separate smoothing streams), CIFAR-10 preparation,
the prepared GPU script at a tiny size on CPU, the FRL ablation and its aggregation, and the demo's
reproducibility."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from fake_datasets import CIFAR_TEST_NPZ, CIFAR_TRAIN_NPZ, real_or_random_cifar
from deep.errors import ConfigError
from frl.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASE = ["--dataset", "digits", "--eps", "0.2", "--attack-steps", "2", "--eval-steps", "2", "--val-per-class", "10"]


@pytest.fixture(scope="module")
def digits_pgd(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("aa") / "pgd")
    assert main(["train", *BASE, "--method", "pgd_at", "--epochs", "3", "--lr-schedule", "onecycle",
                 "--out", out]) == 0
    return out


# --- AutoAttack: the official settings, and the official code's numbers ---------------------------


def test_standard_autoattack_records_the_official_settings_read_from_the_package():
    from deep.autoattack import AutoAttack

    rec = AutoAttack(8 / 255, "linf", "standard").settings()
    spec = {s["name"]: s for s in rec["attacks"]}
    assert rec["package"] == "pyautoattack" and rec["package_version"]
    assert list(spec) == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert spec["apgd-ce"]["n_iter"] == spec["apgd-t"]["n_iter"] == spec["fab-t"]["n_iter"] == 100
    assert spec["apgd-ce"]["n_restarts"] == 1 and spec["apgd-ce"]["rho"] == 0.75
    assert spec["apgd-t"]["n_target_classes"] == spec["fab-t"]["n_target_classes"] == 9
    assert spec["square"]["n_queries"] == 5000 and spec["square"]["resc_schedule"] is False
    plus = [s["name"] for s in AutoAttack(8 / 255, "linf", "plus").settings()["attacks"]]
    assert plus == ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"]
    rand = AutoAttack(8 / 255, "l2", "rand").settings()["attacks"]
    assert [s["eot_iter"] for s in rand] == [20, 20]
    few = AutoAttack(0.2, "linf", "standard", n_classes=4).build(torch.nn.Linear(2, 4), "cpu")
    assert few.apgd_targeted.n_target_classes == few.fab.n_target_classes == 3  # every other class
    with pytest.raises(ConfigError, match="at least 4 classes"):
        AutoAttack(0.2, "linf", "standard", n_classes=3)


def test_frl_eval_autoattack_is_the_official_package_example_by_example(digits_pgd, tmp_path, capsys):
    """frl eval --attack autoattack against the package called directly on the same model and inputs:
    the same outcome for every example, hence the same class-wise errors."""
    pyautoattack = pytest.importorskip("pyautoattack")
    from deep.evaluate import decode_examples
    from deep.data import to_input
    from deep.runs import load_trained

    out = tmp_path / "aa.json"
    assert main(["eval", digits_pgd, "--attack", "autoattack", "--limit", "40", "--steps", "5", "--batch-size", "15",
                 "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "AutoAttack standard, linf eps 0.2" in line and "AutoAttack - PGD-5 robust error: avg +" in line
    res = json.load(open(out))
    assert [c["name"] for c in res["attack"]["attacks"]] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert res["attack"]["package"] == "pyautoattack" and res["attack"]["batch_size"] == 15

    _, model, data, _, _ = load_trained(digits_pgd, limit=40)
    x, y = to_input(data.x), data.y
    ref = pyautoattack.AutoAttack(model, eps=0.2, norm="Linf", seed=0, version="standard", device="cpu")
    _, y_adv = ref.run_standard_evaluation(x, y, batch_size=15)
    labels, std_wrong, rob_wrong = decode_examples(res["examples"])
    assert np.array_equal(labels, y.numpy()) and np.array_equal(rob_wrong, (y_adv != y).numpy())
    assert 0 < rob_wrong.sum() < len(y) and rob_wrong.sum() > std_wrong.sum()  # something was found
    for c in range(10):
        in_c = labels == c
        if in_c.any():
            assert res["rob_error"][c] == pytest.approx(rob_wrong[in_c].mean())
    # at least as strong as PGD in every class that the 40 examples hold (None: a class without one)
    gaps = res["gap_autoattack_minus_pgd"]
    assert all((g is None) == (n == 0) for g, n in zip(gaps, res["n_per_class"]))
    assert all(g >= -1e-12 for g in gaps if g is not None)


def test_predict_does_not_change_the_certified_numbers(digits_pgd):
    from deep.certify import certify_dataset
    from deep.data import to_input
    from deep.runs import load_trained

    _, model, data, _, _ = load_trained(digits_pgd, limit=12)
    x = to_input(data.x)
    args = (model, x, data.y, 0.25, 0.5, 200, 20, 0.001, 10)
    plain, both = certify_dataset(*args), certify_dataset(*args, with_predict=True)
    assert plain["radius_per_sample"] == both["radius_per_sample"] and plain["predicted"] == both["predicted"]
    assert both["predict_error"] is not None


# --- CIFAR-10 preparation ---------------------------------------------------------------------------


def _tiny_tgz(path: Path, per_class_train=3, per_class_test=2):
    from PIL import Image

    x, _ = real_or_random_cifar(10 * (per_class_train + per_class_test))
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    k, pixels = 0, {}
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", per_class_train), ("test", per_class_test)):
            for c in classes:
                for i in range(n):
                    buf = io.BytesIO()
                    Image.fromarray(x[k]).save(buf, format="JPEG", quality=75)
                    info = tarfile.TarInfo(f"cifar10_jpeg_q75/{split}/{c}/{i:04d}.jpg")
                    info.size = len(buf.getvalue())
                    tar.addfile(info, io.BytesIO(buf.getvalue()))
                    pixels[(split, c, i)] = k
                    k += 1
    return classes


def test_prepare_from_a_jpeg_archive_matches_imagefolder_decoding(tmp_path):
    """Training images in ImageFolder's order; the test images the same, class-interleaved."""
    from deep.data import load_split
    from deep.prepare import interleaved_order

    classes = _tiny_tgz(tmp_path / "tiny.tgz")
    assert main(["prepare-cifar10", str(tmp_path / "tiny.tgz"), "--out", str(tmp_path / "c10"), "--workers", "2"]) == 0
    with tarfile.open(tmp_path / "tiny.tgz") as tar:
        tar.extractall(tmp_path / "tree", filter="data")
    for train in (True, False):
        ours = load_split("cifar10", train, tmp_path / "c10")
        ref = load_split("imagefolder", train, tmp_path / "tree" / "cifar10_jpeg_q75")
        assert ours.class_names == tuple(classes) == ref.class_names
        if not train:
            ref = ref.subset(torch.from_numpy(interleaved_order(ref.y.numpy())))
            assert ours.y.tolist() == list(range(10)) * 2
        assert torch.equal(ours.x, ref.x) and torch.equal(ours.y, ref.y)


@pytest.mark.skipif(not CIFAR_TRAIN_NPZ.exists(), reason="needs ../shared/data")
def test_prepare_from_the_exact_npz_subsets(tmp_path):
    from deep.data import load_split

    assert main(["prepare-cifar10", str(CIFAR_TRAIN_NPZ), str(CIFAR_TEST_NPZ), "--out", str(tmp_path)]) == 0
    train, test = load_split("cifar10", True, tmp_path), load_split("cifar10", False, tmp_path)
    assert len(train) == 4000 and len(test) == 1000
    assert torch.bincount(test.y).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    d = np.load(CIFAR_TEST_NPZ)
    assert torch.equal(test.x, torch.from_numpy(d["x"].transpose(0, 3, 1, 2).copy()))


@pytest.mark.parametrize("sources,needle", [(["{tmp}/nothing"], "no such file"),
                                            (["{tmp}/bad.tgz"], "not a readable tar archive"),
                                            (["a.npz", "b.npz", "c.npz"], "give one JPEG tree")])
def test_prepare_bad_source_is_one_line(tmp_path, capsys, sources, needle):
    (tmp_path / "bad.tgz").write_bytes(b"not a tar")
    sources = [s.replace("{tmp}", str(tmp_path)) for s in sources]
    assert main(["prepare-cifar10", *sources, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


# --- the prepared GPU script, at a tiny size on CPU ------------------------------------------------


def _run_gpu_script(tmp_path, script, *args) -> Path:
    """Run a prepared device script on CPU against a tiny CIFAR-10 archive; returns its $OUT."""
    _tiny_tgz(tmp_path / "tiny.tgz", per_class_train=4, per_class_test=2)
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "RUNS": str(tmp_path / "runs"), "DATA": str(tmp_path / "data"),
           "TGZ": str(tmp_path / "tiny.tgz"), "DEVICE": "cpu"}
    proc = subprocess.run(["bash", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_gpu_script_runs_end_to_end_at_a_tiny_size(tmp_path):
    tiny = ["epochs=1", "model=small_cnn", "batch_size=8", "val_per_class=1", "attack_steps=1", "eval_steps=1"]
    out = _run_gpu_script(tmp_path, "benchmarks/gpu_frl_fast.sh", *[a for t in tiny for a in ("--train-set", t)])
    files = sorted(p.name for p in out.iterdir())
    assert files == ["fast_frl.md", "log.txt", "machine.txt", "stages.json", "summary.json"]
    import tomllib

    cfg = tomllib.loads((ROOT / "configs/fast/cifar10_preact_frl.toml").read_text())
    names = [s["name"] for s in cfg["stage"]]
    md = (out / "fast_frl.md").read_text()
    assert all(f"| {n} |" in md for n in names) and "Targets:" in md and "Class-wise robust error" in md
    stages = json.loads((out / "stages.json").read_text())
    assert list(stages) == names and all(s["eval"]["attack"]["steps"] == 20 for s in stages.values())


# --- the FRL ablation -----------------------------------------------------------------------------


def _eval(avg_std, worst_std, avg_bndy, worst_bndy):
    return {"avg": {"std_error": avg_std, "bndy_error": avg_bndy, "rob_error": avg_std + avg_bndy},
            "worst": {"std_error": worst_std, "bndy_error": worst_bndy, "rob_error": worst_std + worst_bndy}}


def test_aggregate_arms_means_stds_and_same_sign_marks():
    from figures.ablation import aggregate_arms, frl_loss_markdown

    per_seed = {0: {"start": _eval(0.1, 0.3, 0.3, 0.5), "a": _eval(0.12, 0.2, 0.25, 0.4)},
                1: {"start": _eval(0.2, 0.4, 0.3, 0.5), "a": _eval(0.18, 0.3, 0.28, 0.5)}}
    agg = aggregate_arms(per_seed)
    a = agg["rows"]["a"]
    assert a["mean"]["avg_std"] == pytest.approx(15.0) and a["std"]["avg_std"] == pytest.approx(np.std([12, 18], ddof=1))
    assert a["delta_mean"]["avg_std"] == pytest.approx(0.0) and a["delta_sign"]["avg_std"] == 0  # +2 and -2
    assert a["delta_sign"]["avg_bndy"] == -1 and a["delta_mean"]["avg_bndy"] == pytest.approx(-3.5)
    assert "delta_mean" not in agg["rows"]["start"]
    md = frl_loss_markdown(agg, "t")
    assert "| a | 15.0 ± 4.2" in md and "-3.5 ± 2.1*" in md


def test_frl_loss_ablation_writes_table_curves_and_resumes(tmp_path, capsys):
    argv = ["ablation", "frl-loss", "--out", str(tmp_path), "--seeds", "0,1", "--pretrain-epochs", "1", "--epochs",
            "2", "--arms", "trades_b1,frl_printed,frl_pgdat", "--train-arg=--attack-steps=1",
            "--train-arg=--eval-steps=1", "--train-arg=--val-per-class=5", "--train-arg=--test-every=0"]
    assert main(argv) == 0
    res = json.loads((tmp_path / "frl_loss.json").read_text())
    assert res["seeds"] == [0, 1] and res["arms"] == ["start", "trades_b1", "frl_printed", "frl_pgdat"]
    for arm in ("trades_b1", "frl_printed"):
        assert res["val_curves"][arm]["epoch"] == [0, 1, 2] and len(res["val_curves"][arm]["avg_rob"]) == 3
    seed0 = json.loads((tmp_path / "seed_0" / "frl_printed" / "eval.json").read_text())
    assert res["rows"]["frl_printed"]["per_seed"]["0"]["avg_rob"] == pytest.approx(100 * seed0["avg"]["rob_error"])
    cfg = json.loads((tmp_path / "seed_1" / "frl_pgdat" / "config.json").read_text())
    assert (cfg["frl_loss"], cfg["remargin_rule"], cfg["seed"]) == ("pgd_at", "relative", 1)
    assert (tmp_path / "frl_loss.md").read_text().count("\n|") >= 5 and (tmp_path / "frl_loss_curves.png").exists()
    mtime = (tmp_path / "seed_0" / "start" / "checkpoint.pt").stat().st_mtime
    assert main(argv) == 0  # a rerun trains nothing again
    assert (tmp_path / "seed_0" / "start" / "checkpoint.pt").stat().st_mtime == mtime
    # a rerun with another setting refuses, naming it, instead of reusing runs made otherwise
    capsys.readouterr()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".pt"}
    assert main([*argv, "--lr", "0.05"]) == 2
    err = capsys.readouterr().err
    assert "was made with other settings (lr: saved 0.001, now 0.05)" in err and err.count("\n") == 1, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".pt"} == before


# --- the demo: reproducible, and the README table generated from it -------------------------------


def test_demo_is_reproducible_and_feeds_the_readme(tmp_path, capsys):
    argv = ["demo", "--quick", "--pretrain-epochs", "2", "--frl-epochs", "1", "--threads", "1"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    assert "Class-wise robust error" in text and "Paper's claim" in text
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in "ab")
    assert a == b
    assert set(a) == {"pgd_at", "frl_reweight_remargin"}
    for s in a.values():
        assert set(s) == {"avg_std", "worst_std", "avg_bndy", "worst_bndy", "avg_rob", "worst_rob"}
        assert 0 <= s["avg_std"] <= s["worst_std"] <= 1 and s["avg_rob"] <= s["worst_rob"] <= 1
    assert (tmp_path / "a" / "pgd_at" / "eval.json").exists()
    assert (tmp_path / "a" / "frl_reweight_remargin" / "checkpoint.pt").exists()
    info = json.loads((tmp_path / "a" / "demo.json").read_text())
    assert info["threads"] == 1 and info["torch"] == torch.__version__
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- demo-table:start -->\nold\n<!-- demo-table:end -->\ny\n")
    proc = subprocess.run([sys.executable, "benchmarks/update_readme.py", "--readme", str(readme), "--demo",
                           str(tmp_path / "a")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text()
    assert "old" not in text and "| FRL Reweight+Remargin |" in text and "1 threads" in text
    assert f"{100 * a['pgd_at']['avg_rob']:.1f}" in text and text.endswith("<!-- demo-table:end -->\ny\n")


def test_the_readme_blocks_hold_generated_tables():
    """The measured blocks exist (in the README or docs/) and hold what the generator writes (a table per block,
    the demo's rows)."""
    import re

    text = "".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    for block, row in (("demo-table", "| FRL Reweight+Remargin |"), ("ablation-digits", "| PGD-AT start |"),
                       ("ablation-cifar10-4k", "| PGD-AT start |")):
        body = re.search(rf"<!-- {block}:start -->\n(.*?)<!-- {block}:end -->", text, re.S)
        assert body is not None, block
        assert row in body.group(1) and body.group(1).count("\n|") >= 3, block


@pytest.mark.parametrize("extra,needle", [(["--arms", "nope"], "unknown arm(s) nope"),
                                          (["--seeds", "1,1"], "expected distinct whole numbers"),
                                          (["--seeds", "a"], "expected comma-separated whole numbers"),
                                          (["--init", "{tmp}/missing"], "not a run directory with a checkpoint"),
                                          (["--epochs", "0"], "must be >= 1")])
def test_frl_loss_ablation_bad_input_is_one_line(tmp_path, capsys, extra, needle):
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    assert main(["ablation", "frl-loss", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_gpu_compare_script_runs_end_to_end_at_a_tiny_size(tmp_path):
    """benchmarks/gpu_compare_fast.sh (issue 16): configs/compare/cifar10_fast.toml for one seed, then frl compare."""
    tiny = ["epochs=2", "dafa_warmup=1", "model=small_cnn", "batch_size=8", "val_per_class=1", "attack_steps=1",
            "eval_steps=1"]
    out = _run_gpu_script(tmp_path, "benchmarks/gpu_compare_fast.sh", *[a for t in tiny for a in ("--train-set", t)])
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md", "compare.pdf", "compare.png",
                                                     "log.txt", "machine.txt"]  # at most 8 files come back
    res = json.loads((out / "compare.json").read_text())
    assert list(res["methods"]) == ["trades", "cfa", "dafa", "frl", "wat"] and res["base"] == "trades"
    assert all(m["seeds"] == ["seed_0"] for m in res["methods"].values())
    group = tmp_path / "runs" / "compare" / "cifar10_fast"
    assert json.loads((group / "frl" / "seed_0" / "config.json").read_text())["init"].endswith("trades/seed_0")
    log = (out / "log.txt").read_text()
    assert "epoch 2/2" in log and "eval.json" in log