"""The one-cycle schedule, best-checkpoint selection, FRL's Remargin rules and loss forms, and ``frl run``
overrides: properties of the rules, and real runs on digits."""

import json
import math
import os

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from deep.config import TrainConfig
from deep.methods.frl import remargin_paper, remargin_relative, violations
from deep.build import build_method
from deep.schedule import onecycle_factor
from frl.cli import main

BASE = ["--dataset", "digits", "--eps", "0.2", "--attack-steps", "2", "--eval-steps", "2", "--val-per-class", "10"]


def _lines(out, split=None):
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    rows = [{k: v for k, v in r.items() if k not in ("epoch_time", "images_per_s")} for r in rows]
    return [r for r in rows if split is None or r["split"] == split]


# --- one-cycle ------------------------------------------------------------------------------


@given(st.integers(2, 5000), st.floats(0.05, 0.95))
def test_onecycle_rises_to_one_at_the_peak_and_falls_to_zero(total, peak_at):
    f = [onecycle_factor(t, total, peak_at) for t in range(total)]
    assert all(0 < v <= 1 for v in f)
    top = max(range(total), key=f.__getitem__)
    assert abs(top + 0.5 - peak_at * total) <= 1.0  # the peak is where it was asked for
    assert all(a <= b + 1e-12 for a, b in zip(f[:top], f[1:top + 1]))  # warm-up: non-decreasing
    assert all(a >= b - 1e-12 for a, b in zip(f[top:], f[top + 1:]))  # then non-increasing
    assert f[-1] <= 1.0 / max(1.0, (1 - peak_at) * total) + 1e-12  # ends next to zero


def test_onecycle_run_steps_per_iteration_and_resumes_exactly(tmp_path, interrupted_then_resumed):
    argv = ["train", *BASE, "--method", "pgd_at", "--epochs", "3", "--lr", "0.1", "--lr-schedule", "onecycle"]
    ref = str(tmp_path / "ref")
    assert main([*argv, "--out", ref]) == 0
    ckpt = torch.load(os.path.join(ref, "checkpoint.pt"), weights_only=False)
    per_epoch = math.ceil((1437 - 100) / 16)  # digits: 1,437 training images, 10 per class held out, batch 16
    assert ckpt["scheduler"]["last_epoch"] == 3 * per_epoch  # one scheduler step per batch
    lrs = [r["lr"] for r in _lines(ref, "val")]
    # lr at the start of each epoch follows the one-cycle factor exactly
    assert lrs == pytest.approx([0.1 * onecycle_factor(e * per_epoch, 3 * per_epoch, 0.4) for e in range(3)])
    cut = str(tmp_path / "cut")
    interrupted_then_resumed(argv, cut, after=1)
    assert _lines(cut) == _lines(ref)


def test_a_run_from_before_the_new_settings_still_resumes(tmp_path):
    out = str(tmp_path / "old")
    argv = ["train", *BASE, "--method", "natural", "--epochs", "2", "--out", out]
    assert main(argv) == 0
    cfg = json.load(open(os.path.join(out, "config.json")))
    for key in ("lr_schedule", "lr_peak_at", "frl_loss", "remargin_rule", "init_checkpoint"):
        del cfg[key]
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"))
    ckpt = torch.load(os.path.join(out, "checkpoint.pt"), weights_only=False)
    for key in ("lr_schedule", "lr_peak_at", "frl_loss", "remargin_rule", "init_checkpoint"):
        del ckpt["config"][key]
    torch.save(ckpt, os.path.join(out, "checkpoint.pt"))
    assert main([*argv, "--resume"]) == 0  # the old config is read with the old defaults
    # an FRL run from before the change used the TRADES loss and the printed Remargin: resuming it under
    # the new defaults would change it silently, so the difference is named
    old = TrainConfig(method="frl_reweight", init="x").to_dict()
    for key in ("frl_loss", "remargin_rule"):
        del old[key]
    diff = TrainConfig(method="frl_reweight", init="x").differences(old)
    assert diff == ["frl_loss: saved 'trades', now 'pgd_at'", "remargin_rule: saved 'absolute', now 'relative'"]


# --- best checkpoint ------------------------------------------------------------------------


def test_best_checkpoint_is_the_epoch_of_lowest_validation_robust_error(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *BASE, "--method", "pgd_at", "--epochs", "4", "--lr", "0.1", "--out", out]) == 0
    val = _lines(out, "val")
    best_epoch = min(range(len(val)), key=lambda e: (val[e]["avg"]["rob_error"], e))
    best = torch.load(os.path.join(out, "best.pt"), weights_only=False)
    assert best["epoch"] == best_epoch and best["val"]["avg"]["rob_error"] == val[best_epoch]["avg"]["rob_error"]
    assert main(["eval", out, "--checkpoint", "best", "--steps", "2", "--out", str(tmp_path / "b.json")]) == 0
    assert main(["eval", out, "--steps", "2", "--out", str(tmp_path / "l.json")]) == 0
    b, last = json.load(open(tmp_path / "b.json")), json.load(open(tmp_path / "l.json"))
    assert (b["checkpoint"], b["epoch"]) == ("best", best_epoch) and (last["checkpoint"], last["epoch"]) == ("last", 3)
    # the best model on the validation split is what the training loop measured there
    assert main(["eval", out, "--checkpoint", "best", "--split", "val", "--steps", "2",
                 "--out", str(tmp_path / "bv.json")]) == 0
    assert json.load(open(tmp_path / "bv.json"))["std_error"] == pytest.approx(val[best_epoch]["std_error"])


def test_eval_of_best_without_best_pt_is_one_line(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *BASE, "--method", "natural", "--epochs", "1", "--out", out]) == 0
    os.remove(os.path.join(out, "best.pt"))
    capsys.readouterr()
    assert main(["eval", out, "--checkpoint", "best"]) == 2
    err = capsys.readouterr().err
    assert "has no best.pt" in err and err.count("\n") == 1


# --- FRL: Remargin rules and the loss forms ---------------------------------------------------

K = 10
rates = st.lists(st.floats(0.0, 1.0), min_size=K, max_size=K)


@given(rates, st.floats(0.0, 1.0), st.floats(0.001, 0.2), st.lists(st.floats(1.0, 2.0), min_size=K, max_size=K))
def test_relative_remargin_grows_only_violating_classes_and_stays_in_range(bndy, alpha, tau, factors):
    eps, cap = 0.2, 0.4
    eps_class = [eps * f for f in factors]
    avg = sum(bndy) / K
    new = remargin_relative(eps_class, bndy, avg, alpha, tau, eps, cap)
    v = violations(bndy, avg, tau)
    old = torch.tensor(eps_class, dtype=torch.float64)
    assert torch.all(new >= eps - 1e-12) and torch.all(new <= cap + 1e-12)
    assert torch.all(new[v <= 0] <= old[v <= 0].clamp(max=cap) + 1e-12)  # inside the band: never grows
    assert torch.all(new[v > 0] >= old[v > 0].clamp(max=cap) - 1e-12)  # violating: never shrinks


@given(st.floats(0.1, 0.9), st.floats(0.001, 0.05))
def test_the_printed_remargin_grows_every_class_above_tau_but_the_relative_rule_does_not(level, tau):
    """Eq. 11 as printed: equal boundary errors above tau2 grow every radius; the constraint form grows none."""
    bndy = [level] * K
    if level <= tau:
        return
    grown = remargin_paper([0.2] * K, bndy, 0.05, tau, 0.4)
    assert torch.all(grown > 0.2)
    assert torch.all(remargin_relative([0.2] * K, bndy, level, 0.05, tau, 0.2, 0.4) == 0.2)


def test_frl_with_the_pgd_at_loss_attacks_with_cross_entropy_and_trains(tmp_path):
    names = tuple("0123456789")
    atk = build_method(TrainConfig(method="frl_reweight_remargin", init="x"), names).attack  # the default loss
    assert atk.loss == "ce" and atk.random_start
    atk = build_method(TrainConfig(method="frl_reweight_remargin", init="x", frl_loss="trades"), names).attack
    assert atk.loss == "kl" and not atk.random_start
    pre = str(tmp_path / "pre")
    assert main(["train", *BASE, "--method", "pgd_at", "--epochs", "1", "--out", pre]) == 0
    out = str(tmp_path / "frl")
    assert main(["train", *BASE, "--method", "frl_reweight_remargin", "--init", pre, "--init-checkpoint", "best",
                 "--frl-loss", "pgd_at", "--remargin-rule", "relative", "--tau2", "0.01", "--alpha2", "0.5",
                 "--epochs", "2", "--out", out]) == 0
    last = _lines(out, "val")[-1]
    assert min(last["eps_class"]) >= 0.2 - 1e-7 and max(last["eps_class"]) <= 0.4 + 1e-7
    cfg = json.load(open(os.path.join(out, "config.json")))
    assert (cfg["frl_loss"], cfg["remargin_rule"], cfg["init_checkpoint"]) == ("pgd_at", "relative", "best")


def test_pgd_at_loss_at_uniform_weights_is_clean_plus_adversarial_cross_entropy():
    import torch.nn.functional as F

    from deep.attacks import PGD
    from deep.methods.frl import FRL

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x, y = torch.rand(8, 1, 4, 4), torch.arange(8) % 3
    atk = PGD(eps=0.1, steps=2, random_start=True, loss="ce")
    m = FRL(3, 0.1, atk, loss="pgd_at", beta=2.0)
    torch.manual_seed(1)
    got = m.loss(model, x, y)
    torch.manual_seed(1)
    x_adv = atk(model, x, y)
    want = F.cross_entropy(model(x), y) + 2.0 * F.cross_entropy(model(x_adv), y)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


# --- frl run: overrides and switched-off flags -------------------------------------------------


def test_train_set_overrides_every_stage_and_false_switches_off(tmp_path):
    from deep.pipeline import parse_overrides, stage_config

    extra = parse_overrides(["epochs=1", "model=small_cnn", "lr=0.5", "compile=false"])
    assert extra == {"epochs": 1, "model": "small_cnn", "lr": 0.5, "compile": False}
    cfg = stage_config({"run": {"name": "a"}, "train": {"method": "pgd_at", **extra, "normalize": False}}, tmp_path)
    assert cfg.compile is False and cfg.normalize is False and cfg.epochs == 1 and cfg.lr == 0.5
    assert cfg.out == str(tmp_path / "a") and cfg.resume
    assert main(["run", "x.toml", "--train-set", "novalue"]) == 2


# --- bad values that used to be accepted or to hang: one line, exit 2 -------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("tiny") / "run")
    assert main(["train", *BASE, "--method", "natural", "--epochs", "1", "--out", out]) == 0
    return out


@pytest.mark.parametrize("argv,needle", [
    (["train", *BASE, "--method", "pgd_at", "--lr-gamma=-0.1", "--out", "{tmp}/r"], "lr_gamma == -0.1"),
    (["train", *BASE, "--method", "frl_reweight", "--init", "x", "--frl-beta=-1", "--out", "{tmp}/r"],
     "frl_beta == -1"),
    (["train", *BASE, "--method", "pgd_at", "--class-eps", "3=inf", "--out", "{tmp}/r"], "must be finite"),
    (["train", *BASE, "--method", "pgd_at", "--seed=-1", "--out", "{tmp}/r"], "seed == -1"),
    (["train", *BASE, "--method", "pgd_at", "--lr-schedule", "onecycle", "--lr-peak-at", "1", "--out", "{tmp}/r"],
     "lr_peak_at == 1, must be in [0, 1)"),
    (["train", *BASE, "--method", "pgd_at", "--lr-schedule", "cosine", "--out", "{tmp}/r"], "invalid choice"),
    (["run", "{tmp}/none.toml", "--train-set", "=1"], "expected KEY=VALUE"),
    (["demo", "--out", "{tmp}/d", "--threads", "0"], "--threads 0: must be >= 1"),
    (["prepare-cifar10", "{tmp}/none", "--out", "{tmp}/o", "--workers", "0"], "--workers 0: must be >= 1"),
    (["eval", "{tmp}/none", "--seed=-1"], "--seed -1: must be in [0, 2**63)"),
    (["eval", "{tmp}/none", "--limit", "0"], "--limit 0: must be >= 1"),
    (["certify", "{tmp}/none", "--sigma", "0.25", "--batch-size", "0"], "batch_size == 0"),
    (["certify", "{tmp}/none", "--sigma", "0.25", "--limit=-2"], "--limit -2: must be >= 1"),
    (["ablation", "fig3", "--class", "3", "--init", "x", "--out", "{tmp}/a", "--weights", "1,nan"],
     "positive and finite"),
    (["eval", "{run}", "--device", "tpu"], "--device 'tpu': must be cpu, cuda or cuda:N"),
    (["eval", "{run}", "--step-size=-0.1"], "--step-size -0.1: must be > 0"),
    (["ablation", "fig3", "--dataset", "mnist", "--class", "3", "--init", "x", "--out", "{tmp}/a"],
     "unknown dataset 'mnist'"),
    (["ablation", "frl-loss", "--out", "{tmp}/a", "--train-arg=--bogus"], "--train-arg: unrecognized arguments"),
    (["certify", "{run}", "--sigma", "0.25", "--device", "cuda:x"], "must be cpu, cuda or cuda:N"),
])
def test_bad_values_are_one_line_and_exit_2(tmp_path, tiny_run, capsys, argv, needle):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", tiny_run) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_resuming_a_finished_run_says_so(tiny_run, capsys):
    argv = ["train", *BASE, "--method", "natural", "--epochs", "1", "--out", tiny_run, "--resume"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "already finished (1 epochs); nothing to train" in err and "resuming" not in err
