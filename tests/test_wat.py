"""WAT (Li and Liu, AAAI 2023): the Hedge rule as the paper states it, and the plug-in on digits."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from deep.methods.wat import class_costs, hedge_weights
from frl.cli import main

COSTS = st.lists(st.floats(0, 50, allow_nan=False), min_size=3, max_size=11)


@given(COSTS, st.floats(1e-3, 2.0))
def test_hedge_weights_are_k_times_the_exponential_weights(cost, eta):
    w = hedge_weights(cost, eta).numpy()
    k = len(cost) - 1
    expected = k * np.exp(eta * np.array(cost)) / np.exp(eta * np.array(cost)).sum()
    assert np.allclose(w, expected, rtol=1e-10) and math.isclose(w.sum(), k, rel_tol=1e-12)


@given(COSTS, st.floats(1e-3, 2.0), st.floats(-100, 100))
def test_the_costliest_expert_gets_the_largest_weight_and_only_differences_matter(cost, eta, shift):
    w = hedge_weights(cost, eta)
    assert float(w[int(np.argmax(cost))]) >= float(w.max()) * (1 - 1e-12)  # monotone: the costliest weighs most
    assert torch.allclose(w, hedge_weights([c + shift for c in cost], eta), rtol=1e-9)


def test_hedge_survives_large_cumulative_costs_and_refuses_a_bad_eta():
    w = hedge_weights([1e4, 0.0, 0.0], 1.0)
    assert torch.isfinite(w).all() and math.isclose(float(w[0]), 2.0)
    with pytest.raises(ValueError, match="eta"):
        hedge_weights([1.0, 2.0], 0.0)


def test_class_costs_are_per_class_means_times_k_and_the_overall_mean():
    costs = class_costs([10.0, 30.0], [10, 10])  # two balanced classes: mean losses 1 and 3
    assert costs.tolist() == pytest.approx([1.0, 3.0, 2.0])
    with pytest.raises(ValueError, match="no validation example"):
        class_costs([0.0, 0.0], [0, 0])


def test_wat_trains_on_digits_and_weights_the_class_with_the_highest_validation_loss_most(tmp_path):
    out = tmp_path / "wat"
    assert main(["train", "--dataset", "digits", "--method", "wat", "--epochs", "2", "--attack-steps", "2",
                 "--eval-steps", "2", "--val-per-class", "10", "--out", str(out)]) == 0
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)["method"]
    w, cost = ckpt["weights"], ckpt["cum_cost"]
    assert math.isclose(float(w.sum()), 10, rel_tol=1e-9)
    # the class with the highest validation loss gets the most weight, above the mean weight 10/11
    assert int(w.argmax()) == int(cost.argmax()) and float(w[:10].max()) > 10 / 11 > float(w[:10].min())
    lines = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert lines[0]["wat_weights"] == [1.0] * 11  # epoch 0 trains with the reference's initial weights
    assert lines[-1]["wat_weights"] != lines[0]["wat_weights"]
    assert main(["train", "--dataset", "digits", "--method", "wat", "--val-per-class", "0",
                 "--out", str(tmp_path / "noval")]) == 2
