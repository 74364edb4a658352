"""Numerical optima: independent routes to the closed forms of Theorems 1-3.

* :func:`numerical_b` finds the error-optimal bias for w = 1 by root-finding the
  first-order condition of the averaged error, written in log-densities so that it
  stays exact where the errors themselves underflow (sqrt(d) eta / sigma up to 1e5
  and beyond). It never uses the quadratic-formula solution of :mod:`closed_form`.
* :func:`numerical_classifier` minimises the exact average (robust) error of
  :func:`~gaussian_theory.linear.class_errors` over the direction of w *and* b
  with a derivative-free optimiser: a check of Lemmas 1 and 2 (w proportional
  to 1) for small dimensions.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.special import log_ndtr

from .linear import class_errors_probit
from .validation import check_bound, check_eps_below_eta, check_model

__all__ = ["numerical_b", "numerical_classifier", "average_error"]


def _stationarity(beta, t, K):
    """Sign-carrying form of d/dbeta [Phi(beta - t) + Phi(-(beta + t)/K)] (up to a positive factor).

    The derivative is phi(z1) - phi(z2)/K with z1 = beta - t, z2 = -(beta + t)/K;
    its sign is that of log phi(z1) - log phi(z2) + log K = (z2^2 - z1^2)/2 + log K,
    evaluated as a product (z2 - z1)(z2 + z1) to avoid squaring large numbers.
    """
    z1 = beta - t
    z2 = -(beta + t) / K
    return 0.5 * (z2 - z1) * (z2 + z1) + np.log(K)


def _numerical_beta(t: float, K: float, xtol: float) -> float:
    f = lambda beta: _stationarity(beta, t, K)  # noqa: E731
    # F(beta) is a downward parabola: negative far left, positive between its two
    # roots (the error minimum and maximum), whose midpoint is its vertex.
    vertex = t * (K * K + 1.0) / ((K - 1.0) * (K + 1.0))
    if f(0.0) < 0.0 and 0.0 < vertex:
        lo, hi = 0.0, vertex
    else:
        hi = min(0.0, vertex)
        step = 1.0 + abs(t)
        lo = hi - step
        while f(lo) >= 0.0:
            step *= 2.0
            lo = hi - step
    return brentq(f, lo, hi, xtol=xtol * max(1.0, abs(t)), rtol=4 * np.finfo(float).eps, maxiter=500)


def numerical_b(d, K, sigma, eta, eps=0.0, xtol=1e-14):
    """Error-optimal bias of f(x) = sign(sum_i x_i + b) found numerically (scalars only).

    For eps = 0 this is the minimiser of the average standard error (compare b_nat);
    for 0 < eps < eta of the average l_inf robust error (compare b_rob).
    """
    d, K, sigma, eta = (float(a) for a in check_model(d, K, sigma, eta))
    eps = float(check_eps_below_eta(eps, eta))
    t = np.sqrt(d) * (eta - eps) / sigma
    return float(sigma * np.sqrt(d) * _numerical_beta(t, K, xtol))


def average_error(w, b, theta, sigma, K, eps=0.0, norm="linf"):
    """Average (over the two equally likely classes) error of a linear classifier, in log space.

    Returns log of the average so that tiny errors still order correctly.
    """
    z = class_errors_probit(w, b, theta, sigma, K, eps=eps, norm=norm)
    return np.logaddexp(log_ndtr(z[..., 0]), log_ndtr(z[..., 1])) - np.log(2.0)


def numerical_classifier(theta, sigma, K, eps=0.0, norm="linf", seed=0, restarts=4):
    """Minimise the exact average (robust) error over w (direction) and b numerically.

    Parameters
    ----------
    theta : array_like, shape (n,), n <= 12
        Class +1's mean.
    sigma, K, eps, norm
        As in :func:`~gaussian_theory.linear.class_errors`.
    seed : int
        Seeds the random restarts.
    restarts : int
        Number of random starting points (the best result is kept).

    Returns
    -------
    w : ndarray, shape (n,), unit l2 norm
    b : float, the bias for that unit-norm w
    log_avg_error : float
    """
    theta = np.asarray(theta, dtype=float)
    if theta.ndim != 1 or not 1 <= theta.size <= 12:
        raise ValueError(f"theta must be a vector of length 1..12, got shape {theta.shape}")
    sigma = float(check_bound("sigma", sigma, gt=0))
    K = float(check_bound("K", K, gt=1))
    eps = float(check_bound("eps", eps, ge=0))
    n = theta.size
    rng = np.random.default_rng(seed)
    scale = sigma * K

    def objective(p):
        v = p[:n]
        nv = np.linalg.norm(v)
        if nv == 0:
            return 0.0
        return float(average_error(v / nv, p[n] * scale, theta, sigma, K, eps, norm))

    best = None
    for r in range(restarts):
        v0 = rng.normal(size=n) + (np.sign(theta) if r == 0 else 0.0)
        p0 = np.concatenate([v0 / np.linalg.norm(v0), [0.0]])
        res = minimize(objective, p0, method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 40000, "maxfev": 40000})
        res = minimize(objective, res.x, method="Powell", options={"xtol": 1e-10, "ftol": 1e-14})
        if best is None or res.fun < best.fun:
            best = res
    v = best.x[:n]
    nv = np.linalg.norm(v)
    return v / nv, float(best.x[n] * scale), float(best.fun)
