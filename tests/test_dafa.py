"""DAFA (Lee et al., ICLR 2024): the class-weight rule as the paper states it, and the plug-in on digits."""

import json

import numpy as np
import pytest
from conftest import StopTraining, stop_after_first_epoch
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from deep.config import TrainConfig
from deep.methods.dafa import class_similarity, dafa_weights
from deep.run_dir import RunDir
from deep.runs import train_run


def _similarity(k, data):
    rows = [data.draw(st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k)) for _ in range(k)]
    s = np.array(rows)
    return s / s.sum(axis=1, keepdims=True)  # each row a mean of probability vectors: sums to 1


@given(st.integers(2, 8), st.floats(0, 3), st.data())
def test_dafa_weights_follow_the_formula(k, lam, data):
    s = _similarity(k, data)
    expected = np.ones(k)
    for i in range(k):
        for j in range(k):
            if i != j and s[i, i] < s[j, j]:
                expected[i] += lam * s[i, j] * s[j, j]
            elif i != j:
                expected[i] -= lam * s[j, i] * s[i, i]
    assert np.allclose(dafa_weights(s, lam).numpy(), expected, rtol=1e-12, atol=1e-12)


@given(st.integers(2, 8), st.floats(0, 3), st.data())
def test_dafa_moves_weight_between_classes_without_creating_it(k, lam, data):
    s = _similarity(k, data)
    assume(len(set(np.diag(s))) == k)  # with a tie both classes of the pair give weight up
    assert dafa_weights(s, lam).sum().item() == pytest.approx(k, rel=1e-12)


@given(st.integers(2, 8), st.floats(0.01, 3), st.data())
def test_the_hardest_class_gains_weight_and_the_easiest_gives_it_up(k, lam, data):
    s = _similarity(k, data)
    w = dafa_weights(s, lam).numpy()
    diag = np.diag(s)
    assert w[np.argmax(diag)] <= 1 + 1e-12  # the easiest class never gains
    # the hardest class gains when it is strictly the hardest (with a tie, the rule's "<" gives no sign)
    assume(np.sum(diag == diag.min()) == 1)
    assert w[np.argmin(diag)] >= 1 - 1e-12
    assert np.allclose(dafa_weights(s, 0.0).numpy(), 1.0)


def test_class_similarity_is_the_per_class_mean_of_the_probabilities():
    s = class_similarity([[1.5, 0.5], [0.2, 0.8]], [2, 1])
    assert torch.allclose(s, torch.tensor([[0.75, 0.25], [0.2, 0.8]], dtype=torch.float64))
    with pytest.raises(ValueError, match="dafa_lambda"):
        dafa_weights(s, -1.0)


def test_dafa_sets_its_weights_after_the_warm_up_and_resumes_across_it_exactly(tmp_path):
    settings = dict(dataset="digits", method="dafa", epochs=2, dafa_warmup=1, attack_steps=2, eval_steps=2,
                    val_per_class=5, test_every=0, seed=2, progress=False)
    whole = TrainConfig(**settings, out=str(tmp_path / "whole"))
    train_run(whole, log=lambda m: None)
    with pytest.raises(StopTraining):
        train_run(TrainConfig(**settings, out=str(tmp_path / "cut")), log=stop_after_first_epoch)
    train_run(TrainConfig(**settings, out=str(tmp_path / "cut"), resume=True), log=lambda m: None)
    timing = {"epoch_time", "images_per_s"}
    lines = [{k: v for k, v in r.items() if k not in timing} for r in RunDir(whole.out).read_metrics()]
    assert lines == [{k: v for k, v in r.items() if k not in timing} for r in RunDir(tmp_path / "cut").read_metrics()]
    assert lines[0]["dafa_weights"] == [1.0] * 10  # the warm-up epoch trains with W = 1
    state = RunDir(whole.out).load_checkpoint()["method"]
    w, s = state["weights"], class_similarity(state["prob_sum"], state["count"])
    assert float(state["count"].sum()) > 1000  # every training example of the warm-up epoch was recorded
    assert torch.allclose(w, dafa_weights(s, 1.0)) and not torch.allclose(w, torch.ones(10, dtype=w.dtype))
    assert lines[1]["dafa_weights"] == pytest.approx(w.tolist())
    assert lines[1]["eps_class"] == pytest.approx((0.2 * w).tolist(), rel=1e-6)  # W scales each class's radius
    hardest = int(torch.diagonal(s).argmin())
    assert float(w[hardest]) >= 1.0
    json.dumps(lines)


def test_the_pgd_at_form_attacks_with_cross_entropy_and_weights_the_adversarial_loss(tmp_path):
    from deep.build import build_method
    from deep.methods.dafa import DAFA

    cfg = TrainConfig(dataset="digits", method="dafa", base_loss="pgd_at", epochs=2, dafa_warmup=1, attack_steps=2,
                      eval_steps=2, val_per_class=5, test_every=0, seed=2, progress=False, out=str(tmp_path / "at"))
    method = build_method(cfg, tuple("0123456789"))
    assert isinstance(method, DAFA) and method.attack.loss == "ce" and method.attack.random_start
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    x, y = torch.rand(40, 1, 8, 8), torch.arange(40) % 10
    method.weights = torch.linspace(0.5, 1.5, 10, dtype=torch.float64)
    method.eps_class = (method.weights * 0.2).float()
    torch.manual_seed(0)
    got = method.loss(model, x, y)
    torch.manual_seed(0)
    x_adv = method.attack(model, x, y, eps=method.sample_eps(y))
    per = torch.nn.functional.cross_entropy(model(x_adv), y, reduction="none")
    assert torch.allclose(got, (method.weights.float()[y] * per).mean())
    train_run(cfg, log=lambda m: None)
    w = RunDir(cfg.out).load_checkpoint()["method"]["weights"]
    assert not torch.allclose(w, torch.ones(10, dtype=w.dtype))  # set after the warm-up epoch, as in TRADES form
