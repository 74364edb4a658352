"""FRL through the CLI: --init checks, bad parameters, logged state, exact resume, and ``frl demo``."""

import json
import os

import pytest
import torch

from frl.cli import main

BASE = ["--dataset", "digits", "--eps", "0.2", "--attack-steps", "2", "--eval-steps", "2", "--val-per-class", "10"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pre") / "pgd")
    assert main(["train", *BASE, "--method", "pgd_at", "--epochs", "2", "--out", out]) == 0
    return out


@pytest.mark.parametrize(
    "extra,needle",
    [
        ([], "frl_reweight starts from a pretrained robust model: pass --init RUN_DIR"),
        (["--init", "{tmp}/nothing"], "no checkpoint.pt there"),
        (["--init", "{pre}", "--tau1", "0"], "tau1 == 0, must be > 0"),
        (["--init", "{pre}", "--tau2=-0.1"], "tau2 == -0.1, must be > 0"),
        (["--init", "{pre}", "--alpha1=-1"], "alpha1 == -1, must be >= 0"),
        (["--init", "{pre}", "--model", "preact_resnet18"], "was trained with model 'small_cnn'"),
        (["--init", "{pre}", "--class-eps", "deer=2"], "unknown class 'deer'"),
        (["--init", "{pre}", "--class-eps", "3"], "expected CLASS=FACTOR"),
    ],
)
def test_bad_frl_input_one_line_exit_2(tmp_path, pretrained, capsys, extra, needle):
    extra = [e.replace("{tmp}", str(tmp_path)).replace("{pre}", pretrained) for e in extra]
    code = main(["train", *BASE, "--method", "frl_reweight", "--epochs", "1", "--out", str(tmp_path / "r"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1, err


def test_init_from_another_dataset_is_refused(tmp_path, pretrained, capsys):
    ckpt = torch.load(os.path.join(pretrained, "checkpoint.pt"), weights_only=False)
    ckpt["config"]["dataset"] = "svhn"
    torch.save(ckpt, tmp_path / "other.pt")
    assert main(["train", *BASE, "--method", "frl_remargin", "--init", str(tmp_path / "other.pt"), "--epochs", "1",
                 "--out", str(tmp_path / "r")]) == 2
    assert "was trained with dataset 'svhn'" in capsys.readouterr().err


def _lines(out):
    return [{k: v for k, v in json.loads(l).items() if k not in ("epoch_time", "images_per_s")}
            for l in open(os.path.join(out, "metrics.jsonl"))]


@pytest.mark.parametrize("variant", ["paper", "authors"])
def test_frl_logs_its_state_starts_from_init_and_resumes_exactly(tmp_path, pretrained, interrupted_then_resumed,
                                                                 variant):
    argv = ["train", *BASE, "--method", "frl_reweight_remargin", "--init", pretrained, "--epochs", "3",
            "--frl-variant", variant, "--tau1", "0.02", "--tau2", "0.02", "--alpha2", "0.5"]
    ref = str(tmp_path / "ref")
    assert main([*argv, "--out", ref]) == 0
    lines = _lines(ref)
    assert all({"phi_nat", "phi_bndy", "eps_class"} <= set(r) for r in lines)
    assert any(e != 0.2 for e in lines[-1]["eps_class"])  # Remargin moved some radius
    out = str(tmp_path / "cut")
    interrupted_then_resumed(argv, out, after=2)  # interrupt after the second checkpoint, then resume
    assert _lines(out) == lines
