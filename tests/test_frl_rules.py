"""FRL's update rules as functions (hypothesis), and the FRL methods in the loop."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from deep.methods.frl import (
    FRL,
    authors_weights,
    lagrangian_weights,
    remargin_authors,
    remargin_paper,
    update_multipliers,
    violations,
)

K = 10
rates = st.lists(st.floats(0.0, 1.0), min_size=K, max_size=K)
phis = st.lists(st.floats(0.0, 2.0), min_size=K, max_size=K)
alpha = st.floats(0.0, 1.0)
tau = st.floats(0.001, 0.2)


def _avg(r):
    return sum(r) / len(r)


@given(phis, rates, alpha, tau, st.sampled_from([None, 0.5]))
def test_multipliers_stay_nonnegative_and_under_the_limit(phi, r, a, t, limit):
    new = update_multipliers(phi, violations(r, _avg(r), t), a, limit)
    assert torch.all(new >= 0)
    if limit is not None:
        assert float(new.sum()) <= limit + 1e-12


@given(phis, rates, alpha, tau)
def test_a_class_that_satisfies_its_constraint_never_gets_a_larger_multiplier(phi, r, a, t):
    v = violations(r, _avg(r), t)
    new = update_multipliers(phi, v, a)
    phi = torch.as_tensor(phi, dtype=torch.float64)
    assert torch.all(new[v <= 0] <= phi[v <= 0] + 1e-15)
    assert torch.all(new[v > 0] >= phi[v > 0])


@given(phis, rates, tau)
def test_paper_weights_are_a_distribution_and_satisfied_classes_gain_nothing(phi, r, t):
    v = violations(r, _avg(r), t)
    w = lagrangian_weights(phi, v > 0)
    assert torch.all(w >= 0) and float(w.sum()) == pytest.approx(1.0)
    sat, vio = w[v <= 0], w[v > 0]
    if len(sat):
        assert float(sat.max()) <= 1.0 / K + 1e-12  # never above uniform
        if len(vio):
            assert float(sat.max()) <= float(vio.min()) + 1e-12  # and never above a violating class


@given(st.lists(st.floats(0.0, 0.5 / K), min_size=K, max_size=K))
def test_authors_weights_are_a_distribution_when_sum_phi_is_within_the_limit(phi):
    w = authors_weights(phi)
    assert torch.all(w >= 0) and float(w.sum()) == pytest.approx(1.0)


@given(phis, rates, alpha, tau)
def test_authors_update_then_weights_is_always_a_distribution(phi, r, a, t):
    new = update_multipliers(phi, violations(r, _avg(r), t), a, limit=0.5)
    w = authors_weights(new)
    assert torch.all(w >= -1e-12) and float(w.sum()) == pytest.approx(1.0)


@given(st.lists(st.floats(0.001, 0.1), min_size=K, max_size=K), rates, alpha, tau, st.integers(1, 30))
def test_paper_remargin_respects_its_cap_and_follows_eq11(eps, bndy, a, t, rounds):
    cap = 16 / 255
    e = torch.as_tensor(eps, dtype=torch.float64)
    for _ in range(rounds):
        e_new = remargin_paper(e, bndy, a, t, cap)
        expect = (e * torch.exp(a * (torch.as_tensor(bndy, dtype=torch.float64) - t))).clamp(max=cap)
        assert torch.allclose(e_new, expect)
        e = e_new
        assert torch.all(e <= cap + 1e-15) and torch.all(e > 0)


@given(rates, alpha, tau, st.integers(1, 50))
def test_authors_remargin_stays_within_098_and_3_eps(bndy, a, t, rounds):
    lam = torch.zeros(K, dtype=torch.float64)
    for _ in range(rounds):
        lam, e = remargin_authors(lam, bndy, _avg(bndy), a, t, 8 / 255)
        assert torch.all(e >= 0.98 * 8 / 255 - 1e-15) and torch.all(e <= 3 * 8 / 255 + 1e-15)


def _val(std, bndy):
    return {"std_error": std, "bndy_error": bndy, "bndy_error_accdiff": bndy, "n_per_class": [30] * K,
            "avg": {"std_error": _avg(std), "bndy_error": _avg(bndy)}}


def test_frl_controller_upweights_the_violating_class_and_decays_alpha():
    frl = FRL(K, 8 / 255, attack=None, reweight=True, remargin=True, tau1=0.05, tau2=0.05, remargin_rule="absolute")
    rel = FRL(K, 8 / 255, attack=None, reweight=True, remargin=True, tau1=0.05, tau2=0.05)  # the default rule
    std = [0.1] * K
    std[3] = 0.4  # "cat": far above average
    bndy = [0.3] * K
    bndy[5] = 0.6
    frl.on_epoch_start(0, _val(std, bndy))
    rel.on_epoch_start(0, _val(std, bndy))
    assert rel.eps_class[5] == pytest.approx(8 / 255 * math.exp(0.05 * (0.6 - 0.33 - 0.05)), rel=1e-6)
    others = rel.eps_class[torch.arange(K) != 5]
    assert torch.allclose(others, torch.full_like(others, 8 / 255))  # inside the band: unchanged
    assert int(frl.class_weights.argmax()) == 3 and int(frl.class_weights_bndy.argmax()) == 5
    assert frl.phi_nat[3] == pytest.approx(0.05 * (0.4 - 0.13 - 0.05))
    assert frl.eps_class[5] == pytest.approx(8 / 255 * torch.exp(torch.tensor(0.05 * (0.6 - 0.05))).item(), rel=1e-6)
    before = frl.phi_nat[3].item()
    frl.on_epoch_start(40, _val(std, bndy))  # alpha decayed x0.1 after 40 epochs
    assert frl.phi_nat[3].item() - before == pytest.approx(0.005 * (0.4 - 0.13 - 0.05))
    log = frl.log()
    assert {"phi_nat", "phi_bndy", "eps_class"} <= set(log)


def test_the_switched_rule_drops_a_class_the_epoch_its_constraint_holds_and_the_multiplier_rule_keeps_it():
    """docs/results.md, FRL's swing: under the gradient of Eq. 9 (switched) a class's accumulated multiplier
    stops counting as soon as its error is back within tau of the average; 1/K + phi_i - mean(phi) keeps it."""
    switched = FRL(K, 8 / 255, attack=None, alpha1=0.5, alpha2=0.5)
    kept = FRL(K, 8 / 255, attack=None, alpha1=0.5, alpha2=0.5, weight_rule="multiplier")
    bad, good = [0.1] * K, [0.1] * K
    bad[3] = 0.5  # cat far above the average
    good[3], good[5] = 0.12, 0.4  # next epoch cat is fine, dog is not
    bndy = [0.3] * K
    for frl in (switched, kept):
        frl.on_epoch_start(0, _val(bad, bndy))
    assert torch.allclose(switched.class_weights, kept.class_weights)  # only cat violates: the rules agree
    phi_cat = 0.5 * (0.5 - 0.14 - 0.05)
    assert kept.class_weights[3].item() == pytest.approx(0.1 + phi_cat * (1 - 1 / K), rel=1e-6)
    for frl in (switched, kept):
        frl.on_epoch_start(1, _val(good, bndy))
    assert switched.phi_nat[3] == pytest.approx(kept.phi_nat[3].item())  # the same multipliers
    assert int(switched.class_weights.argmax()) == 5 and switched.class_weights[3] < 1 / K  # cat switched off
    assert kept.class_weights[3] > 1 / K  # its multiplier still counts
    phi = kept.phi_nat
    assert torch.allclose(kept.class_weights.double(), (1 / K + phi - phi.mean()) / (1 / K + phi - phi.mean()).sum(),
                          atol=1e-6)


@pytest.mark.parametrize("kw,msg", [({"tau1": 0}, "tau1 == 0"), ({"tau2": -1}, "tau2 == -1"),
                                    ({"alpha1": -0.1}, "alpha1 == -0.1"), ({"variant": "x"}, "variant"),
                                    ({"weight_rule": "x"}, "weight_rule == 'x'")])
def test_frl_rejects_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        FRL(K, 0.1, None, **kw)
