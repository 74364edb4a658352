"""Closed forms of Section 3: q(K), g, b_nat, b_rob and the class-wise errors of
Theorems 1, 2 and 3 (Xu et al., "To be Robust or to be Fair", ICML 2021).

The model D (paper Eq. 2): y uniform on {-1, +1}; x | y=-1 ~ N(-theta, sigma^2 I),
x | y=+1 ~ N(+theta, K^2 sigma^2 I), theta = (eta, ..., eta) in R^d, K > 1.
A linear classifier is f(x) = sign(<w, x> + b).

Everything is computed on the *probit scale*: a class-wise error is Phi(z) and
the functions named ``*_probit`` return z. Working with z keeps comparisons exact
where Phi(z) underflows to 0 (large sqrt(d) eta / sigma).

Cancellation-free g
-------------------
Eq. 5 writes g(eta) = (K^2+1)/(K^2-1) d eta - K sqrt(4 d^2 eta^2/(K^2-1)^2 + q(K) d sigma^2).
As K -> 1 both terms grow like 1/(K-1) and cancel. Write t = sqrt(d) eta / sigma
and g = sigma sqrt(d) beta(t). Multiplying by the conjugate gives

    beta(t) = (t^2 (K^2-1) - 2 K^2 log K) / (t (K^2+1) + K sqrt(4 t^2 + 2 (K^2-1) log K)),

whose terms are all O(K-1) and computed with K^2-1 = (K-1)(K+1) and
log K = log1p(K-1): no subtraction of large nearly equal numbers remains.
The class-wise probits follow as z(-1) = beta - t and z(+1) = -(beta + t)/K,
which equal the paper's A - K sqrt(A^2+q) and -K A + sqrt(A^2+q) (Theorem 1).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .validation import (
    check_bound,
    check_eps_below_eta,
    check_gamma_below_eps,
    check_model,
)

__all__ = [
    "q",
    "g",
    "g_literal",
    "b_nat",
    "b_rob",
    "snr",
    "R_nat_f_nat",
    "R_nat_f_nat_probit",
    "R_nat_f_rob",
    "R_nat_f_rob_probit",
    "R_rob_f_rob",
    "R_rob_f_rob_probit",
    "R_rob_f_nat",
    "R_rob_f_nat_probit",
    "theorem3_R_nat",
    "theorem3_R_nat_probit",
    "optimal_classifier",
]


def _km1_kp1(K):
    """(K - 1), (K + 1) and log K computed without cancellation."""
    km1 = K - 1.0
    return km1, K + 1.0, np.log1p(km1)


def q(K):
    """q(K) = 2 log K / (K^2 - 1) (Theorem 1). Positive for K > 1, tends to 1 as K -> 1.

    >>> round(float(q(2.0)), 6)
    0.462098
    """
    K = check_bound("K", K, gt=1)
    km1, kp1, logK = _km1_kp1(K)
    return 2.0 * logK / (km1 * kp1)


def _beta(t, K):
    """Optimal bias on the normalised scale, beta = b / (sigma ||w||), for SNR t >= 0.

    The smaller root of the stationarity condition (Eq. 14 differentiated), in the
    cancellation-free form of the module docstring. No validation (internal).
    """
    km1, kp1, logK = _km1_kp1(K)
    k2m1 = km1 * kp1
    num = t * t * k2m1 - 2.0 * K * K * logK
    den = t * (K * K + 1.0) + K * np.sqrt(4.0 * t * t + 2.0 * k2m1 * logK)
    return num / den


def _natural_probits(t, K):
    """Probits [z(-1), z(+1)] of the error-optimal bias at SNR t (last axis 2)."""
    beta = _beta(t, K)
    return np.stack(np.broadcast_arrays(beta - t, -(beta + t) / K), axis=-1)


def snr(d, sigma, eta):
    """t = sqrt(d) eta / sigma, the signal-to-noise ratio along w = 1 (class -1's scale)."""
    return np.sqrt(d) * eta / sigma


def g(eta, d, K, sigma):
    """The optimal-bias function g of Eq. 5, in a cancellation-free form.

    g(eta) = (K^2+1)/(K^2-1) d eta - K sqrt(4 d^2 eta^2 / (K^2-1)^2 + q(K) d sigma^2).

    Parameters
    ----------
    eta : array_like, >= 0
        The per-coordinate mean (eta for b_nat, eta - eps for b_rob).
    d : array_like, whole >= 1
    K : array_like, > 1
    sigma : array_like, > 0

    Notes
    -----
    g is increasing on [0, inf) with g' >= d (K-1)/(K+1) (Appendix A.2.3), but
    g(0) = -K sigma sqrt(d q(K)) < 0: g is positive only for
    sqrt(d) eta / sigma > K sqrt(q(K)).
    """
    eta = check_bound("eta", eta, ge=0)
    d = check_bound("d", d, ge=1, integer=True)
    K = check_bound("K", K, gt=1)
    sigma = check_bound("sigma", sigma, gt=0)
    return sigma * np.sqrt(d) * _beta(snr(d, sigma, eta), K)


def g_literal(eta, d, K, sigma):
    """Eq. 5 exactly as printed (for reference and tests; loses digits as K -> 1)."""
    eta, d, K, sigma = (np.asarray(a, dtype=float) for a in (eta, d, K, sigma))
    k2m1 = K * K - 1.0
    qK = 2.0 * np.log(K) / k2m1
    return (K * K + 1.0) / k2m1 * d * eta - K * np.sqrt(
        4.0 * d * d * eta * eta / k2m1**2 + qK * d * sigma * sigma
    )


def b_nat(d, K, sigma, eta):
    """Theorem 1 / Eq. 15: the bias of the optimal natural classifier, b_nat = g(eta).

    The classifier is f_nat(x) = sign(sum_i x_i + b_nat) (Lemma 1: w_nat = 1).
    Broadcasts over array arguments.

    Raises
    ------
    ValueError
        If d < 1 or not whole, K <= 1, sigma <= 0 or eta <= 0.
    """
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    return sigma * np.sqrt(d) * _beta(snr(d, sigma, eta), K)


def b_rob(d, K, sigma, eta, eps):
    """Theorem 2 / Eq. 18: the bias of the optimal l_inf-robust classifier, b_rob = g(eta - eps).

    Raises
    ------
    ValueError
        On the conditions of :func:`b_nat`, and if eps < 0 or eps >= eta.
    """
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    eps = check_eps_below_eta(eps, eta)
    return sigma * np.sqrt(d) * _beta(snr(d, sigma, eta - eps), K)


# --- Theorem 1 ---------------------------------------------------------------------------


def R_nat_f_nat_probit(d, K, sigma, eta):
    """Probits of Theorem 1: [A - K sqrt(A^2 + q), -K A + sqrt(A^2 + q)], A = 2 sqrt(d) eta / (sigma (K^2-1))."""
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    return _natural_probits(snr(d, sigma, eta), K)


def R_nat_f_nat(d, K, sigma, eta):
    """Theorem 1 (Eq. 3): class-wise standard errors [R_nat(f_nat, -1), R_nat(f_nat, +1)] (last axis)."""
    return ndtr(R_nat_f_nat_probit(d, K, sigma, eta))


# --- Theorem 2 ---------------------------------------------------------------------------


def _robust_parts(d, K, sigma, eta, eps):
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    eps = check_eps_below_eta(eps, eta)
    t_rob = snr(d, sigma, eta - eps)  # sqrt(d)(eta - eps)/sigma: B (K^2-1)/2
    return d, K, sigma, eps, t_rob


def R_rob_f_rob_probit(d, K, sigma, eta, eps):
    """Probits of the robust errors of f_rob: [B - K sqrt(B^2+q), -K B + sqrt(B^2+q)] (proof of Theorem 2)."""
    d, K, sigma, eps, t_rob = _robust_parts(d, K, sigma, eta, eps)
    return _natural_probits(t_rob, K)


def R_rob_f_rob(d, K, sigma, eta, eps):
    """Class-wise l_inf robust errors of f_rob, [R_rob(f_rob, -1), R_rob(f_rob, +1)] (Appendix A.2.2)."""
    return ndtr(R_rob_f_rob_probit(d, K, sigma, eta, eps))


def R_nat_f_rob_probit(d, K, sigma, eta, eps):
    """Probits of Theorem 2 (Eq. 4/16): the robust probits shifted by -sqrt(d) eps/sigma and -sqrt(d) eps/(K sigma)."""
    d, K, sigma, eps, t_rob = _robust_parts(d, K, sigma, eta, eps)
    z = _natural_probits(t_rob, K)
    shift = snr(d, sigma, eps)
    return z - np.stack(np.broadcast_arrays(shift, shift / K), axis=-1)


def R_nat_f_rob(d, K, sigma, eta, eps):
    """Theorem 2 (Eq. 4/16): class-wise standard errors [R_nat(f_rob, -1), R_nat(f_rob, +1)]."""
    return ndtr(R_nat_f_rob_probit(d, K, sigma, eta, eps))


def R_rob_f_nat_probit(d, K, sigma, eta, eps):
    """Probits of the l_inf robust errors of f_nat: Theorem 1's probits shifted by +sqrt(d) eps/sigma, +sqrt(d) eps/(K sigma)."""
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    eps = check_bound("eps", eps, ge=0)
    z = _natural_probits(snr(d, sigma, eta), K)
    shift = snr(d, sigma, eps)
    return z + np.stack(np.broadcast_arrays(shift, shift / K), axis=-1)


def R_rob_f_nat(d, K, sigma, eta, eps):
    """Class-wise l_inf robust errors of the natural classifier f_nat (not stated in the paper; exact)."""
    return ndtr(R_rob_f_nat_probit(d, K, sigma, eta, eps))


# --- Theorem 3 (model D', Eq. 19) ------------------------------------------------------


def _check_dprime(d, K, sigma, eta, eps, m, gamma):
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    eps = check_eps_below_eta(eps, eta, allow_zero=False)
    m = check_bound("m", m, ge=1, integer=True)
    gamma = check_gamma_below_eps(gamma, eps)
    return d, K, sigma, eta, eps, m, gamma


def theorem3_R_nat_probit(d, K, sigma, eta, eps, m, gamma):
    """Probits of the class-wise standard errors of f_nat and f_rob in D' (Appendix A.3).

    D' appends m non-robust coordinates of mean +-gamma (gamma < eps < eta) to the d
    robust ones. f_nat uses w proportional to theta, so its SNR is
    sqrt(d eta^2 + m gamma^2)/sigma (the paper's A = 2 sqrt(m gamma^2 + d eta^2) / (sigma (K^2-1)));
    f_rob puts zero weight on the non-robust coordinates (gamma - eps < 0) and is
    Theorem 2's classifier on the robust ones.

    Returns
    -------
    (z_nat, z_rob) : two arrays with last axis [class -1, class +1].
    """
    d, K, sigma, eta, eps, m, gamma = _check_dprime(d, K, sigma, eta, eps, m, gamma)
    t_all = np.sqrt(d * eta**2 + m * gamma**2) / sigma
    z_nat = _natural_probits(t_all, K)
    z_rob = R_nat_f_rob_probit(d, K, sigma, eta, eps)
    return np.broadcast_arrays(z_nat, z_rob)


def theorem3_R_nat(d, K, sigma, eta, eps, m, gamma):
    """Theorem 3's class-wise standard errors (R_nat(f_nat), R_nat(f_rob)) in D', each [class -1, class +1]."""
    z_nat, z_rob = theorem3_R_nat_probit(d, K, sigma, eta, eps, m, gamma)
    return ndtr(z_nat), ndtr(z_rob)


# --- the classifiers themselves ----------------------------------------------------------


def optimal_classifier(d, K, sigma, eta, eps=0.0, m=0, gamma=0.0):
    """The optimal natural (eps = 0) or l_inf-robust (eps > 0) linear classifier (w, b).

    In D (m = 0): w = 1 (Lemmas 1, 2) and b = b_nat or b_rob. In D' (m > 0, Eq. 19):
    the natural classifier has w = theta / eta = (1, ..., 1, gamma/eta, ...) and the
    robust one w = (1, ..., 1, 0, ..., 0). Scalar parameters only; w has length d + m.

    Why w is optimal: for any bias, both class-wise (robust) errors fall as
    (<w, theta> - eps ||w||_1) / ||w||_2 grows, which for eps < eta is maximised by
    w proportional to 1 on coordinates with mean > eps and 0 where the mean is < eps.

    Raises
    ------
    ValueError
        If a model parameter is out of its domain, eps >= eta, m < 0, or in D'
        gamma <= 0 or (eps > 0 and) gamma >= eps.
    """
    for name, v in (("d", d), ("K", K), ("sigma", sigma), ("eta", eta), ("eps", eps), ("m", m), ("gamma", gamma)):
        if np.ndim(v) != 0:
            raise ValueError(f"{name} must be a scalar for optimal_classifier, got shape {np.shape(v)}")
    d, K, sigma, eta = (float(a) for a in check_model(d, K, sigma, eta))
    eps = float(check_eps_below_eta(eps, eta))
    m = int(check_bound("m", m, ge=0, integer=True))
    d = int(d)
    if m == 0:
        w = np.ones(d)
        b = float(b_nat(d, K, sigma, eta) if eps == 0 else b_rob(d, K, sigma, eta, eps))
        return w, b
    gamma = float(check_bound("gamma", gamma, gt=0))
    if eps > 0:
        check_gamma_below_eps(gamma, eps)
        w = np.concatenate([np.ones(d), np.zeros(m)])
        return w, float(b_rob(d, K, sigma, eta, eps))
    w = np.concatenate([np.ones(d), np.full(m, gamma / eta)])
    norm_w = float(np.linalg.norm(w))
    t_all = np.sqrt(d * eta**2 + m * gamma**2) / sigma
    return w, float(sigma * norm_w * _beta(t_all, K))
