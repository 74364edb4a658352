"""CFA (Wei et al., CVPR 2023): the calibration and averaging rules as the paper states them, and the plug-in on digits."""

import json

import numpy as np
import pytest
import torch
from conftest import StopTraining, stop_after_first_epoch
from hypothesis import given
from hypothesis import strategies as st

from deep.config import TrainConfig
from deep.methods.cfa import CFA, average_weights, cfa_betas, cfa_margins
from deep.run_dir import RunDir
from deep.runs import evaluate_run, train_run
from frl.cli import main

accuracies = st.lists(st.floats(0, 1), min_size=2, max_size=10)


@given(accuracies, st.floats(0, 2), st.floats(1e-3, 1))
def test_ccm_margins_follow_the_formula_and_a_harder_class_gets_a_smaller_margin(r, lam1, eps):
    m = cfa_margins(r, lam1, eps).numpy()
    assert np.allclose(m, [(lam1 + a) * eps for a in r], rtol=1e-12, atol=0)
    order = np.argsort(r, kind="stable")
    assert np.all(np.diff(m[order]) >= 0)  # lower training robust accuracy: never a larger margin
    assert np.all(m >= lam1 * eps) and np.all(m <= (lam1 + 1) * eps + 1e-15)


@given(accuracies, st.floats(0, 2), st.floats(0, 20))
def test_ccr_betas_follow_the_formula_and_stay_a_convex_weight(r, lam2, beta):
    b = cfa_betas(r, lam2, beta).numpy()
    expected = [(lam2 + a) * beta / (1 + (lam2 + a) * beta) for a in r]
    assert np.allclose(b, expected, rtol=1e-12, atol=1e-15)
    assert np.all((b >= 0) & (b < 1))  # (1 - beta_k) CE + beta_k KL: a convex combination
    order = np.argsort(r, kind="stable")
    assert np.all(np.diff(b[order]) >= -1e-15)  # a harder class leans towards its clean loss


def test_rules_refuse_what_is_outside_their_domain():
    with pytest.raises(ValueError, match="cfa_lambda1"):
        cfa_margins([0.5], -0.1, 0.1)
    with pytest.raises(ValueError, match="cfa_lambda2"):
        cfa_betas([0.5], -0.1, 6.0)
    with pytest.raises(ValueError, match="cfa_decay"):
        average_weights(None, {"w": torch.ones(1)}, 1.0)


@given(st.floats(0, 0.999), st.lists(st.floats(-10, 10), min_size=1, max_size=6), st.data())
def test_weight_average_is_the_paper_s_ema_and_copies_counters(decay, old, data):
    new = data.draw(st.lists(st.floats(-10, 10), min_size=len(old), max_size=len(old)))
    avg = {"w": torch.tensor(old, dtype=torch.float64), "n": torch.tensor(3)}
    step = {"w": torch.tensor(new, dtype=torch.float64), "n": torch.tensor(5)}
    out = average_weights(avg, step, decay)
    assert torch.allclose(out["w"], decay * avg["w"] + (1 - decay) * step["w"], rtol=1e-12, atol=1e-12)
    assert out["n"].item() == 5 and out["n"].dtype == torch.int64
    first = average_weights(None, step, decay)  # the first accepted epoch copies the weights
    assert torch.equal(first["w"], step["w"]) and first["w"] is not step["w"]


def _settings(**extra):
    return dict(dataset="digits", method="cfa", epochs=3, cfa_begin=1, cfa_threshold=0.0, attack_steps=2,
                eval_steps=2, val_per_class=5, test_every=0, seed=4, progress=False, **extra)


@pytest.fixture(scope="module")
def cfa_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cfa") / "whole"
    train_run(TrainConfig(**_settings(), out=str(out)), log=lambda m: None)
    return out


def _lines(path):
    timing = {"epoch_time", "images_per_s"}
    return [{k: v for k, v in r.items() if k not in timing} for r in RunDir(path).read_metrics()]


def test_cfa_calibrates_from_the_previous_epoch_and_resumes_exactly(cfa_run, tmp_path):
    cut = tmp_path / "cut"
    with pytest.raises(StopTraining):
        train_run(TrainConfig(**_settings(), out=str(cut)), log=stop_after_first_epoch)
    train_run(TrainConfig(**_settings(), out=str(cut), resume=True), log=lambda m: None)
    lines = _lines(cfa_run)
    assert lines == _lines(cut)  # the training accuracies and the weight average survive the cut
    json.dumps(lines)
    first, later = lines[0], [r for r in lines if r["epoch"] >= 1 and r["split"] == "val"]
    assert first["eps_class"] == pytest.approx([0.2] * 10) and first["train_rob_acc"] is None
    assert first["cfa_beta"] == pytest.approx([6 / 7] * 10)  # before `begin`: TRADES scaled by 1 / (1 + beta)
    for r in later:
        acc = r["train_rob_acc"]
        assert r["eps_class"] == pytest.approx(cfa_margins(acc, 0.5, 0.2).tolist(), rel=1e-6)
        assert r["cfa_beta"] == pytest.approx(cfa_betas(acc, 0.5, 6.0).tolist())
        worst = int(np.argmin(acc))  # the paper's direction: the hardest class trains with the smallest margin
        assert r["eps_class"][worst] == pytest.approx(min(r["eps_class"]))
    assert len({tuple(r["train_rob_acc"]) for r in later}) == len(later)  # measured anew every epoch
    state_a, state_b = (RunDir(p).load_checkpoint()["method"] for p in (cfa_run, cut))
    assert int(state_a["averaged_updates"]) == 3  # threshold 0: every epoch is averaged
    # each line counts the updates its epoch's checkpoint holds, this epoch's included
    assert [r["averaged_updates"] for r in lines if r["split"] == "val"] == [1, 2, 3]
    assert all(torch.equal(state_a["averaged"][k], state_b["averaged"][k]) for k in state_a["averaged"])


def test_the_averaged_model_is_the_ema_of_the_epochs_and_frl_eval_reads_it(cfa_run, capsys):
    ckpt = RunDir(cfa_run).load_checkpoint()
    avg, last = ckpt["method"]["averaged"], ckpt["model"]
    key = next(k for k, v in last.items() if v.is_floating_point() and v.ndim > 1)
    assert not torch.equal(avg[key], last[key])  # an average of three epochs, not the last weights
    assert main(["eval", str(cfa_run), "--checkpoint", "averaged", "--steps", "2", "--limit", "50",
                 "--out", str(cfa_run / "eval_avg.json")]) == 0
    res = json.loads((cfa_run / "eval_avg.json").read_text())
    assert res["checkpoint"] == "averaged" and len(res["rob_error"]) == 10
    plain = evaluate_run(cfa_run, steps=2, limit=50)
    assert plain["std_error"] != res["std_error"] or plain["rob_error"] != res["rob_error"]


def test_an_average_that_never_started_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "never"
    train_run(TrainConfig(**{**_settings(), "epochs": 2, "cfa_threshold": 2.0}, out=str(out)), log=lambda m: None)
    assert RunDir(out).load_checkpoint()["method"]["averaged"] is None
    assert main(["eval", str(out), "--checkpoint", "averaged", "--limit", "10"]) == 2
    err = capsys.readouterr().err
    assert "holds no averaged model" in err and "--cfa-threshold" in err and err.count("\n") == 1
    assert main(["eval", str(tmp_path / "nothing"), "--checkpoint", "averaged"]) == 2  # no run at all
    # a fine-tuning run started from it names the problem as well
    assert main(["train", "--dataset", "digits", "--method", "frl_reweight", "--init", str(out), "--init-checkpoint",
                 "averaged", "--epochs", "1", "--out", str(tmp_path / "ft")]) == 2
    assert "holds no averaged model" in capsys.readouterr().err


def test_the_pgd_at_form_trains_with_calibrated_margins_and_a_fixed_step(tmp_path):
    cfg = TrainConfig(**{**_settings(base_loss="pgd_at"), "epochs": 2}, out=str(tmp_path / "at"))
    from deep.build import build_method

    method = build_method(cfg, tuple("0123456789"))
    assert isinstance(method, CFA) and method.attack.loss == "ce" and method.attack.random_start
    assert method.attack.step_size == pytest.approx(0.05)  # eps / 4, absolute whatever the class's margin
    train_run(cfg, log=lambda m: None)
    last = _lines(cfg.out)[-1]
    assert last["cfa_beta"] is None and last["eps_class"] == pytest.approx(
        cfa_margins(last["train_rob_acc"], 0.5, 0.2).tolist(), rel=1e-6)


def test_before_its_calibration_cfa_is_trades_divided_by_one_plus_beta():
    """The equivalence configs/compare/{digits,cifar10_fast}.toml rely on: lr x (1 + beta) and weight decay
    / (1 + beta) then give exactly TRADES' SGD steps (SGD is linear in the loss's gradient)."""
    from deep.build import build_method

    common = dict(dataset="digits", eps=0.2, attack_steps=3, beta=6.0, out="unused")
    cfa = build_method(TrainConfig(method="cfa", **common), tuple("0123456789"))
    trades = build_method(TrainConfig(method="trades", **common), tuple("0123456789"))
    cfa.on_epoch_start(0, None)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    x, y = torch.rand(50, 1, 8, 8), torch.arange(50) % 10
    torch.manual_seed(1)
    ours = cfa.loss(model, x, y)
    torch.manual_seed(1)
    theirs = trades.loss(model, x, y)
    assert (ours * 7).item() == pytest.approx(theirs.item(), rel=1e-5)
