"""Closed forms of Theorems 1-3 against the paper's literal formulas, high precision,
the numerical optimum and the exact errors of the optimal classifiers."""

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ndtr

import gaussian_theory as gt
from strategies import dprime_model, model, robust_model

mpmath.mp.dps = 60


def g_mp(eta, d, K, sigma):
    """Eq. 5 as printed, in 60-digit arithmetic: the reference for the stable form."""
    eta, d, K, sigma = (mpmath.mpf(float(v)) for v in (eta, d, K, sigma))
    k2m1 = K * K - 1
    qK = 2 * mpmath.log(K) / k2m1
    return (K * K + 1) / k2m1 * d * eta - K * mpmath.sqrt(4 * d * d * eta * eta / k2m1**2 + qK * d * sigma * sigma)


@pytest.mark.parametrize(
    "d,K,sigma,eta",
    [(1, 1.001, 1.0, 1e5), (1, 1.001, 1.0, 10.0), (4, 1.001, 2.0, 1e5), (2, 2**0.5, 1.0, 2.0), (1, 3.0, 1.0, 1e5)],
)
def test_b_nat_matches_numerical_optimum_to_1e9_near_K1_and_at_large_snr(d, K, sigma, eta):
    closed = float(gt.b_nat(d, K, sigma, eta))
    numeric = gt.numerical_b(d, K, sigma, eta)
    assert closed == pytest.approx(numeric, rel=1e-9)
    assert closed == pytest.approx(float(g_mp(eta, d, K, sigma)), rel=1e-12)


def test_literal_eq5_loses_digits_where_the_stable_form_does_not():
    # K -> 1 at large SNR: Eq. 5 subtracts two terms of size ~ t / (K - 1).
    d, K, sigma, eta = 1, 1 + 1e-7, 1.0, 1e5
    ref = float(g_mp(eta, d, K, sigma))
    assert abs(gt.g_literal(eta, d, K, sigma) - ref) / abs(ref) > 1e-3
    assert abs(gt.g(eta, d, K, sigma) - ref) / abs(ref) < 1e-9


@given(model())
def test_g_matches_60_digit_eq5(p):
    d, K, sigma, eta = p
    ref = g_mp(eta, d, K, sigma)
    got = float(gt.g(eta, d, K, sigma))
    # relative on the scale of the two terms of Eq. 5 (the sign change of g is a genuine root)
    scale = float(abs(ref)) + 1e-6 * sigma * np.sqrt(d)
    assert abs(got - float(ref)) <= 1e-10 * scale


@given(model())
def test_b_nat_is_the_numerical_optimum(p):
    d, K, sigma, eta = p
    closed = float(gt.b_nat(d, K, sigma, eta))
    numeric = gt.numerical_b(d, K, sigma, eta)
    assert abs(closed - numeric) <= 1e-9 * max(abs(closed), 1e-3 * sigma * np.sqrt(d))


@given(robust_model())
def test_b_rob_is_the_numerical_robust_optimum_and_equals_g_of_eta_minus_eps(p):
    d, K, sigma, eta, eps = p
    closed = float(gt.b_rob(d, K, sigma, eta, eps))
    assert closed == float(gt.g(eta - eps, d, K, sigma))
    numeric = gt.numerical_b(d, K, sigma, eta, eps)
    assert abs(closed - numeric) <= 1e-9 * max(abs(closed), 1e-3 * sigma * np.sqrt(d))


@given(model(), st.floats(min_value=-0.5, max_value=0.5))
def test_b_nat_minimises_the_average_standard_error(p, rel_shift):
    d, K, sigma, eta = p
    w, b = gt.optimal_classifier(d, K, sigma, eta)
    theta = np.full(d, eta)
    shift = rel_shift * sigma * np.sqrt(d)
    best = gt.average_error(w, b, theta, sigma, K)
    other = gt.average_error(w, b + shift, theta, sigma, K)
    assert other >= best - 1e-12


@given(model())
def test_theorem1_literal_formula(p):
    """Eq. 3 exactly as printed, with A = 2 sqrt(d) eta / ((K^2-1) sigma)."""
    d, K, sigma, eta = p
    A = 2.0 / (K**2 - 1) * np.sqrt(d) * eta / sigma
    qK = 2 * np.log(K) / (K**2 - 1)
    literal = ndtr([A - K * np.sqrt(A**2 + qK), -K * A + np.sqrt(A**2 + qK)])
    np.testing.assert_allclose(gt.R_nat_f_nat(d, K, sigma, eta), literal, rtol=1e-6, atol=1e-300)


@given(robust_model())
def test_theorem2_literal_formulas(p):
    """Eq. 4/16 (standard) and the robust errors of the proof of Theorem 2, as printed."""
    d, K, sigma, eta, eps = p
    B = 2.0 / (K**2 - 1) * np.sqrt(d) * (eta - eps) / sigma
    qK = 2 * np.log(K) / (K**2 - 1)
    s = np.sqrt(d) * eps / sigma
    std = ndtr([B - K * np.sqrt(B**2 + qK) - s, -K * B + np.sqrt(B**2 + qK) - s / K])
    rob = ndtr([B - K * np.sqrt(B**2 + qK), -K * B + np.sqrt(B**2 + qK)])
    np.testing.assert_allclose(gt.R_nat_f_rob(d, K, sigma, eta, eps), std, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(gt.R_rob_f_rob(d, K, sigma, eta, eps), rob, rtol=1e-6, atol=1e-300)


@given(robust_model())
def test_closed_forms_equal_exact_errors_of_the_optimal_classifiers(p):
    d, K, sigma, eta, eps = p
    theta = np.full(d, eta)
    w, b = gt.optimal_classifier(d, K, sigma, eta)
    np.testing.assert_allclose(gt.class_errors(w, b, theta, sigma, K), gt.R_nat_f_nat(d, K, sigma, eta), rtol=1e-9)
    np.testing.assert_allclose(gt.class_errors(w, b, theta, sigma, K, eps), gt.R_rob_f_nat(d, K, sigma, eta, eps),
                               rtol=1e-9)
    w, b = gt.optimal_classifier(d, K, sigma, eta, eps)
    np.testing.assert_allclose(gt.class_errors(w, b, theta, sigma, K), gt.R_nat_f_rob(d, K, sigma, eta, eps),
                               rtol=1e-9)
    np.testing.assert_allclose(gt.class_errors(w, b, theta, sigma, K, eps), gt.R_rob_f_rob(d, K, sigma, eta, eps),
                               rtol=1e-9)


@given(dprime_model(max_m=200))
def test_theorem3_literal_formulas_and_optimal_classifiers_in_dprime(p):
    d, K, sigma, eta, eps, m, gamma = p
    A = 2.0 / (sigma * (K**2 - 1)) * np.sqrt(m * gamma**2 + d * eta**2)
    qK = 2 * np.log(K) / (K**2 - 1)
    r_nat, r_rob = gt.theorem3_R_nat(d, K, sigma, eta, eps, m, gamma)
    np.testing.assert_allclose(r_nat, ndtr([A - K * np.sqrt(A**2 + qK), -K * A + np.sqrt(A**2 + qK)]),
                               rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(r_rob, gt.R_nat_f_rob(d, K, sigma, eta, eps), rtol=1e-12)
    theta = np.concatenate([np.full(d, eta), np.full(m, gamma)])
    w, b = gt.optimal_classifier(d, K, sigma, eta, 0.0, m, gamma)
    np.testing.assert_allclose(gt.class_errors(w, b, theta, sigma, K), r_nat, rtol=1e-9, atol=1e-300)
    w, b = gt.optimal_classifier(d, K, sigma, eta, eps, m, gamma)
    assert np.all(w[d:] == 0)
    np.testing.assert_allclose(gt.class_errors(w, b, theta, sigma, K), r_rob, rtol=1e-9, atol=1e-300)


def test_b_nat_broadcasts_over_arrays():
    K = np.array([1.5, 2.0, 3.0])[:, None]
    eta = np.array([0.5, 1.0])
    out = gt.b_nat(3, K, 1.0, eta)
    assert out.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert out[i, j] == pytest.approx(gt.b_nat(3, float(K[i, 0]), 1.0, float(eta[j])), rel=1e-15)
    assert gt.R_nat_f_rob(3, K, 1.0, eta, 0.25).shape == (3, 2, 2)


def test_q_limit_and_value():
    assert gt.q(1 + 1e-12) == pytest.approx(1.0, rel=1e-9)
    assert gt.q(2.0) == pytest.approx(2 * np.log(2) / 3, rel=1e-15)
