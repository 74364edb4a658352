"""Independent numerical routes: Monte Carlo with explicit perturbations, and direct optimisation over w."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from hypothesis import given, settings
from hypothesis import strategies as st

import gaussian_theory as gt


@settings(max_examples=25)
@given(
    st.integers(1, 6),
    st.floats(1.05, 4.0),
    st.floats(0.3, 3.0),
    st.floats(0.0, 1.0),
    st.sampled_from(["linf", "l2"]),
    st.integers(0, 2**31 - 1),
)
def test_monte_carlo_agrees_with_exact_class_errors(n, K, sigma, eps, norm, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.1, 2.0, n)
    w = rng.normal(size=n)
    b = rng.normal() * sigma
    exact = gt.class_errors(w, b, theta, sigma, K, eps=eps, norm=norm)
    est, se = gt.monte_carlo_class_errors(w, b, theta, sigma, K, eps=eps, norm=norm, n=40_000, seed=seed)
    # 5 standard errors (floor for rates near 0 or 1, where the estimated se vanishes)
    assert np.all(np.abs(est - exact) <= 5 * np.maximum(se, np.sqrt(0.25 / 40_000) / 10))


def test_monte_carlo_is_seeded_and_matches_theorem2():
    d, K, sigma, eta, eps = 3, 1.6, 1.0, 0.8, 0.3
    w, b = gt.optimal_classifier(d, K, sigma, eta, eps)
    theta = np.full(d, eta)
    a = gt.monte_carlo_class_errors(w, b, theta, sigma, K, eps=eps, n=200_000, seed=7)
    assert np.array_equal(a[0], gt.monte_carlo_class_errors(w, b, theta, sigma, K, eps=eps, n=200_000, seed=7)[0])
    exact = gt.R_rob_f_rob(d, K, sigma, eta, eps)
    assert np.all(np.abs(a[0] - exact) < 4 * a[1])
    std, se = gt.monte_carlo_class_errors(w, b, theta, sigma, K, n=200_000, seed=8)
    assert np.all(np.abs(std - gt.R_nat_f_rob(d, K, sigma, eta, eps)) < 4 * se)


def test_worst_case_delta_is_the_worst_vertex():
    """No corner of the l_inf ball moves the score further than the explicit perturbation."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=4)
    eps = 0.3
    corners = np.array(np.meshgrid(*[[-eps, eps]] * 4)).reshape(4, -1).T
    for y in (-1.0, 1.0):
        delta = gt.worst_case_delta(w, np.array([y]), eps)[0]
        assert np.max(np.abs(delta)) <= eps + 1e-15
        assert y * (delta @ w) == pytest.approx(np.min(y * (corners @ w)))
    delta2 = gt.worst_case_delta(w, np.array([1.0]), eps, norm="l2")[0]
    assert np.linalg.norm(delta2) == pytest.approx(eps)
    assert delta2 @ w == pytest.approx(-eps * np.linalg.norm(w))


@pytest.mark.parametrize("eps", [0.0, 0.4])
@pytest.mark.parametrize("d,K,sigma,eta", [(2, 2**0.5, 1.0, 2.0), (3, 2.0, 1.5, 1.0)])
def test_lemmas_1_2_optimum_over_w_is_proportional_to_one(d, K, sigma, eta, eps):
    """Minimising over w and b directly recovers w = 1 (direction) and b_nat / b_rob."""
    w, b, _ = gt.numerical_classifier(np.full(d, eta), sigma, K, eps=eps, seed=1)
    np.testing.assert_allclose(w, np.full(d, 1 / np.sqrt(d)), atol=2e-4)
    w_opt, b_opt = gt.optimal_classifier(d, K, sigma, eta, eps)
    assert b == pytest.approx(b_opt / np.linalg.norm(w_opt), abs=1e-3)


def test_dprime_robust_optimum_drops_non_robust_features_and_natural_uses_them():
    d, m, K, sigma, eta, eps, gamma = 2, 2, 1.5, 1.0, 1.0, 0.4, 0.3
    theta = np.concatenate([np.full(d, eta), np.full(m, gamma)])
    w_r, b_r, _ = gt.numerical_classifier(theta, sigma, K, eps=eps, seed=2)
    np.testing.assert_allclose(w_r[d:], 0.0, atol=2e-4)
    w_opt, b_opt = gt.optimal_classifier(d, K, sigma, eta, eps, m, gamma)
    np.testing.assert_allclose(w_r, w_opt / np.linalg.norm(w_opt), atol=2e-4)
    w_n, b_n, _ = gt.numerical_classifier(theta, sigma, K, seed=3)
    w_opt, b_opt = gt.optimal_classifier(d, K, sigma, eta, 0.0, m, gamma)
    np.testing.assert_allclose(w_n, w_opt / np.linalg.norm(w_opt), atol=2e-4)
    assert b_n == pytest.approx(b_opt / np.linalg.norm(w_opt), abs=1e-3)


@given(st.integers(1, 8), st.floats(1.01, 5.0), st.floats(0.2, 3.0), st.floats(0.05, 3.0), st.floats(0.0, 0.95),
       st.integers(0, 1000))
def test_no_direction_beats_w_proportional_to_one(d, K, sigma, eta, frac, seed):
    """Lemmas 1/2 as a property: another w, even with its own best bias, is never better than w = 1."""
    eps = frac * eta
    theta = np.full(d, eta)
    w_opt, b_opt = gt.optimal_classifier(d, K, sigma, eta, eps)
    best = gt.average_error(w_opt, b_opt, theta, sigma, K, eps)
    u = np.random.default_rng(seed).normal(size=d) + 1.0
    res = minimize_scalar(lambda b: float(gt.average_error(u, b, theta, sigma, K, eps)),
                          bounds=(-20 * sigma * np.sqrt(d), 20 * sigma * np.sqrt(d)), method="bounded",
                          options={"xatol": 1e-10})
    assert res.fun >= best - 1e-9


@pytest.mark.parametrize("d,m,K,sigma,eta,eps,gamma", [(2, 3, 1.5, 1.0, 0.8, 0.4, 0.3), (1, 1, 2.0, 1.0, 1.0, 0.5, 0.1)])
def test_theorem3_closed_forms_against_monte_carlo(d, m, K, sigma, eta, eps, gamma):
    """D' (Eq. 19): sample all d + m coordinates and classify with the optimal natural / robust classifiers."""
    theta = np.concatenate([np.full(d, eta), np.full(m, gamma)])
    r_nat, r_rob = gt.theorem3_R_nat(d, K, sigma, eta, eps, m, gamma)
    for r, e in ((r_nat, 0.0), (r_rob, eps)):
        w, b = gt.optimal_classifier(d, K, sigma, eta, e, m, gamma)
        est, se = gt.monte_carlo_class_errors(w, b, theta, sigma, K, n=200_000, seed=11)
        assert np.all(np.abs(est - r) < 4 * se)
