"""Each claim of Section 3 as a property, tested in its documented regime, and from both
sides where the paper's claim does not hold everywhere."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import gaussian_theory as gt
from gaussian_theory.closed_form import _beta, _natural_probits
from strategies import K_s, d_s, dprime_model, model, robust_model, sigma_s


@given(model())
def test_theorem1_class_plus1_is_harder_everywhere(p):
    assert gt.theorem1_holds(*p)
    r = gt.R_nat_f_nat(*p)
    assert r[0] <= r[1]


@given(robust_model())
def test_theorem2_class_plus1_is_harder_for_the_robust_classifier_everywhere(p):
    assert gt.theorem2_holds(*p)


@given(robust_model())
def test_corollary1_minus1_better_plus1_worse_everywhere(p):
    assert gt.corollary1_errors_hold(*p)
    d, K, sigma, eta, eps = p
    nat, rob = gt.R_nat_f_nat(d, K, sigma, eta), gt.R_nat_f_rob(*p)
    assert rob[0] <= nat[0] and rob[1] >= nat[1]


@given(robust_model())
def test_corollary1_b_rob_below_b_nat_everywhere(p):
    assert gt.corollary1_b_order_holds(*p)


@given(model(), st.floats(0.0, 10.0), st.floats(1e-3, 10.0))
def test_g_is_increasing_with_the_papers_slope_bound(p, x, dx):
    d, K, sigma, _ = p
    lo, hi = gt.g(x, d, K, sigma), gt.g(x + dx, d, K, sigma)
    assert hi - lo >= d * (K - 1) / (K + 1) * dx * (1 - 1e-9) - 1e-9 * abs(hi)


# --- the claim that fails: 0 < b_rob ---------------------------------------------------


@given(d_s, K_s, sigma_s, st.floats(0.02, 0.98), st.sampled_from([-1, 1]), st.floats(0.01, 0.9))
def test_b_rob_positive_exactly_when_the_documented_condition_holds(d, K, sigma, frac, side, rel):
    """Put sqrt(d)(eta - eps)/sigma at (1 + rel) or (1 - rel) times K sqrt(q(K)): both sides of the boundary."""
    t_rob = K * np.sqrt(gt.q(K)) * (1 + side * rel)
    eta_minus_eps = t_rob * sigma / np.sqrt(d)
    eta = eta_minus_eps / (1 - frac)
    eps = eta - eta_minus_eps
    assume(0 < eps < eta)
    cond = bool(gt.b_rob_positive_condition(d, K, sigma, eta, eps))
    assert cond == (side > 0)
    assert bool(gt.corollary1_b_rob_positive_holds(d, K, sigma, eta, eps)) == cond


def test_b_rob_positive_counterexample():
    assert gt.b_rob(1, 2.0, 1.0, 1.0, 0.9) == pytest.approx(-1.1994117568767861, rel=1e-12)
    assert not gt.corollary1_b_rob_positive_holds(1, 2.0, 1.0, 1.0, 0.9)


# --- Theorem 3 and m >> d ----------------------------------------------------------------


@given(dprime_model())
def test_theorem3_holds_in_dprime(p):
    assert gt.theorem3_holds(*p)


@given(robust_model(), st.floats(0.01, 0.99))
def test_theorem3_needs_no_m_much_larger_than_d(p, frac):
    """m = 1 non-robust feature and d up to 500 robust ones: Eq. 20 still holds."""
    d, K, sigma, eta, eps = p
    assert gt.theorem3_holds(d, K, sigma, eta, eps, 1, frac * eps)


def test_theorem3_sweep_over_the_dimensionless_parameters():
    """Eq. 20 depends on (K, t, s, T) only: t = sqrt(d) eta/sigma, s = sqrt(d) eps/sigma, T >= t the SNR
    of all features. A dense random sweep finds no counterexample (the regime stated in claims.py)."""
    rng = np.random.default_rng(2021)
    n = 400_000
    K = np.exp(rng.uniform(np.log(1.0001), np.log(1000), n))
    t = np.exp(rng.uniform(-6, 3, n))
    s = t * rng.uniform(0.001, 0.999, n)
    T = t * np.exp(rng.uniform(1e-6, 5, n))
    # realise (t, s, T) with d = 1, sigma = 1, m = 1 and gamma^2 = T^2 - t^2 < eps^2 when possible
    gamma = np.sqrt(T**2 - t**2)
    m = np.ceil((gamma / (0.99 * s)) ** 2)
    gamma = np.sqrt((T**2 - t**2) / m)
    assert np.all(gamma < s)
    assert np.all(gt.theorem3_holds(1, K, 1.0, t, s, m, gamma))


# --- Appendix A.3: "each class's standard error increases" in D' -----------------------


@given(robust_model(), st.sampled_from([-1, 1]), st.floats(0.02, 0.9))
def test_a3_both_classes_worse_exactly_above_T_star(p, side, rel):
    d, K, sigma, eta, eps = p
    Ts = float(gt.T_star(d, K, sigma, eta, eps))
    t = np.sqrt(d) * eta / sigma
    assert Ts > t
    T = Ts * (1 + side * rel)
    assume(T > t * (1 + 1e-9))
    # mgamma2 = sigma^2 T^2 - d eta^2, split over enough coordinates to keep gamma < eps
    mg2 = sigma**2 * T**2 - d * eta**2
    m = int(np.ceil(mg2 / (0.9 * eps) ** 2))
    assume(m <= 10**9)
    gamma = np.sqrt(mg2 / m)
    cond = bool(gt.a3_both_classes_worse_condition(d, K, sigma, eta, eps, m, gamma))
    assert cond == (side > 0)
    assert bool(gt.a3_both_classes_worse_holds(d, K, sigma, eta, eps, m, gamma)) == cond


def test_a3_counterexample_and_T_star_is_a_root():
    nat, rob = gt.theorem3_R_nat(1, 2.0, 1.0, 1.0, 0.5, 1, 0.1)
    assert rob[0] < nat[0] and rob[1] > nat[1]
    assert not gt.a3_both_classes_worse_holds(1, 2.0, 1.0, 1.0, 0.5, 1, 0.1)
    K, t, t_rob = 2.0, 1.0, 0.5
    Ts = float(gt.T_star(1, K, 1.0, 1.0, 0.5))
    z_at_Ts = _natural_probits(Ts, K)[0]
    assert z_at_Ts == pytest.approx(_beta(t_rob, K) - t, abs=1e-12)


def test_evaluate_claims_at_figure2_setting():
    res = gt.evaluate_claims(2, np.sqrt(2), 1.0, 2.0, 0.5)
    assert all(res.values())
    res = gt.evaluate_claims(1, 2.0, 1.0, 1.0, 0.9)
    assert res["corollary1_b_rob_positive"] is False


@given(K_s, st.floats(0.05, 0.95))
def test_class_minus1_error_of_f_nat_is_not_monotone_in_snr(K, frac):
    """Documented side finding: the probit A - K sqrt(A^2+q) peaks at A = sqrt(q/(K^2-1))."""
    a_peak = np.sqrt(gt.q(K) / (K**2 - 1))
    t_peak = a_peak * (K**2 - 1) / 2
    z = lambda t: _natural_probits(t, K)[0]  # noqa: E731
    assert z(frac * t_peak) < z(t_peak) > z(t_peak / frac)
