"""The claims of Section 3 as vectorised predicates, with the exact regimes where they hold.

Each ``*_holds`` function evaluates a claim of the paper at given parameters and
returns a boolean array. Comparisons are made on the probit scale (or, for
differences of errors, in log space), so they stay exact where the error rates
underflow to 0 in double precision.

Where the paper's claims hold (derivations in docs/theory.md and the docstrings):

=================================  =====================================================
claim                              regime
=================================  =====================================================
Lemmas 1, 2: w proportional to 1   everywhere (0 <= eps < eta)
Theorem 1: R(f_nat,-1) < R(f_nat,+1)  everywhere
Theorem 2: R(f_rob,-1) < R(f_rob,+1)  everywhere, robust and standard errors
Corollary 1: -1 better, +1 worse   everywhere (0 < eps < eta)
Corollary 1: b_rob < b_nat         everywhere (g' >= d (K-1)/(K+1) > 0)
Corollary 1: 0 < b_rob             only if sqrt(d)(eta - eps)/sigma > K sqrt(q(K))
Theorem 3 (Eq. 20)                 every sampled configuration, for any m >= 1
A.3: both classes' errors rise     only if sqrt(d eta^2 + m gamma^2)/sigma > T_star
=================================  =====================================================
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from .closed_form import (
    R_nat_f_nat_probit,
    R_nat_f_rob_probit,
    R_rob_f_rob_probit,
    _beta,
    b_nat,
    b_rob,
    q,
    snr,
    theorem3_R_nat_probit,
)
from .validation import check_eps_below_eta, check_model

__all__ = [
    "theorem1_holds",
    "theorem2_holds",
    "corollary1_errors_hold",
    "corollary1_b_order_holds",
    "corollary1_b_rob_positive_holds",
    "b_rob_positive_condition",
    "theorem3_holds",
    "a3_both_classes_worse_holds",
    "a3_both_classes_worse_condition",
    "T_star",
    "evaluate_claims",
    "CLAIMS",
]


def theorem1_holds(d, K, sigma, eta):
    """Theorem 1: R_nat(f_nat, -1) < R_nat(f_nat, +1). Holds everywhere: z(+1) - z(-1) = (1+K)(sqrt(A^2+q) - A) > 0."""
    z = R_nat_f_nat_probit(d, K, sigma, eta)
    return z[..., 0] < z[..., 1]


def theorem2_holds(d, K, sigma, eta, eps):
    """Theorem 2: the optimal robust classifier also errs more on class +1, in robust and in standard error.

    Holds everywhere: the robust probits have Theorem 1's form in B, and the standard
    probits differ by z(+1) - z(-1) = (K+1)/K (t (K-1)/(K+1) - beta_rob) > 0
    because beta_rob < t_rob (K-1)/(K+1) <= t (K-1)/(K+1).
    """
    zr = R_rob_f_rob_probit(d, K, sigma, eta, eps)
    zs = R_nat_f_rob_probit(d, K, sigma, eta, eps)
    return (zr[..., 0] < zr[..., 1]) & (zs[..., 0] < zs[..., 1])


def corollary1_errors_hold(d, K, sigma, eta, eps):
    """Corollary 1: R_nat(f_rob,-1) < R_nat(f_nat,-1) and R_nat(f_rob,+1) > R_nat(f_nat,+1), for 0 < eps < eta.

    Holds everywhere: both classifiers use w = 1 and b_rob < b_nat; class -1's error
    Phi((b - d eta)/(sigma sqrt d)) rises with b, class +1's falls.
    """
    check_eps_below_eta(eps, eta, allow_zero=False)
    zn = R_nat_f_nat_probit(d, K, sigma, eta)
    zr = R_nat_f_rob_probit(d, K, sigma, eta, eps)
    return (zr[..., 0] < zn[..., 0]) & (zr[..., 1] > zn[..., 1])


def corollary1_b_order_holds(d, K, sigma, eta, eps):
    """Corollary 1: b_rob < b_nat for 0 < eps < eta. Holds everywhere (g is increasing)."""
    check_eps_below_eta(eps, eta, allow_zero=False)
    return b_rob(d, K, sigma, eta, eps) < b_nat(d, K, sigma, eta)


def b_rob_positive_condition(d, K, sigma, eta, eps):
    """The exact condition for 0 < b_rob: sqrt(d) (eta - eps) / sigma > K sqrt(q(K)).

    Derivation: b_rob = sigma sqrt(d) beta(t_rob) and the numerator of the
    cancellation-free beta is t^2 (K^2 - 1) - 2 K^2 log K, positive iff
    t^2 > K^2 q(K). Equivalently d (eta - eps)^2 (K^2 - 1) > 2 K^2 sigma^2 log K.
    (With eps = 0 the same condition decides the sign of b_nat.)
    """
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    eps = check_eps_below_eta(eps, eta)
    return snr(d, sigma, eta - eps) > K * np.sqrt(q(K))


def corollary1_b_rob_positive_holds(d, K, sigma, eta, eps):
    """Corollary 1 / Appendix A.2.3: "0 < b_rob". Does NOT hold everywhere; see :func:`b_rob_positive_condition`.

    Counterexample: d = 1, K = 2, sigma = 1, eta = 1, eps = 0.9 gives b_rob = -1.199.
    """
    return b_rob(d, K, sigma, eta, eps) > 0


def _log_diff_ndtr(a, b):
    """(sign, log |Phi(a) - Phi(b)|), exact in the tails."""
    la, lb = log_ndtr(a), log_ndtr(b)
    hi, lo = np.maximum(la, lb), np.minimum(la, lb)
    with np.errstate(divide="ignore"):
        mag = hi + np.log1p(-np.exp(lo - hi))
    return np.sign(la - lb), mag


def theorem3_holds(d, K, sigma, eta, eps, m, gamma):
    """Theorem 3 (Eq. 20): in D', R_nat(f_rob;+1) - R_nat(f_nat;+1) > R_nat(f_rob;-1) - R_nat(f_nat;-1).

    Class +1's increase is always positive (beta + t grows with t); where class -1's
    change is <= 0 the claim holds trivially, otherwise the two increases are compared
    in log space. No counterexample exists in 5e6 configurations sampled over
    K in (1.0001, 1000), sqrt(d) eta / sigma in (e^-6, e^3), any eps in (0, eta) and any
    m gamma^2 (tests/test_theory_claims.py): the claim holds already for m = 1,
    so the paper's assumption m >> d is not needed for Eq. 20.
    """
    z_nat, z_rob = theorem3_R_nat_probit(d, K, sigma, eta, eps, m, gamma)
    s_p, l_p = _log_diff_ndtr(z_rob[..., 1], z_nat[..., 1])
    s_m, l_m = _log_diff_ndtr(z_rob[..., 0], z_nat[..., 0])
    return (s_p > 0) & ((s_m <= 0) | (l_p > l_m))


def T_star(d, K, sigma, eta, eps):
    """The SNR above which robust training raises class -1's standard error in D' (Appendix A.3).

    In D' the natural classifier's SNR is T = sqrt(d eta^2 + m gamma^2) / sigma and its
    class -1 probit is U(T) = beta(T) - T; f_rob's is c = beta(t_rob) - t with
    t = sqrt(d) eta / sigma, t_rob = sqrt(d)(eta - eps)/sigma. U(T) = c has the
    larger root

        T_star = (-c + K sqrt(c^2 - (K^2 - 1) q(K))) / 2,

    and for T > t (always true in D') class -1's error rises iff T > T_star.
    T_star > t always: at m gamma^2 -> 0, Corollary 1 says class -1's error falls.
    """
    d, K, sigma, eta = check_model(d, K, sigma, eta)
    eps = check_eps_below_eta(eps, eta, allow_zero=False)
    t = snr(d, sigma, eta)
    c = _beta(snr(d, sigma, eta - eps), K) - t
    return 0.5 * (-c + K * np.sqrt(c * c - (K - 1.0) * (K + 1.0) * q(K)))


def a3_both_classes_worse_condition(d, K, sigma, eta, eps, m, gamma):
    """Exact condition for "each class's standard error increases" in D': sqrt(d eta^2 + m gamma^2)/sigma > T_star."""
    T = np.sqrt(np.asarray(d) * np.asarray(eta) ** 2 + np.asarray(m) * np.asarray(gamma) ** 2) / np.asarray(sigma)
    return T > T_star(d, K, sigma, eta, eps)


def a3_both_classes_worse_holds(d, K, sigma, eta, eps, m, gamma):
    """Appendix A.3: "in D' each class's standard error will increase after adversarial training".

    Does NOT hold everywhere: class +1's error always rises, class -1's only when the
    non-robust features carry enough signal, sqrt(d eta^2 + m gamma^2)/sigma > T_star
    (:func:`T_star`). Counterexample: d = 1, K = 2, sigma = 1, eta = 1, eps = 0.5,
    m = 1, gamma = 0.1: class -1's error falls from 0.1077 to 0.0464.
    """
    z_nat, z_rob = theorem3_R_nat_probit(d, K, sigma, eta, eps, m, gamma)
    return (z_rob[..., 0] > z_nat[..., 0]) & (z_rob[..., 1] > z_nat[..., 1])


CLAIMS = {
    "theorem1": "Theorem 1: R_nat(f_nat,-1) < R_nat(f_nat,+1)",
    "theorem2": "Theorem 2: R(f_rob,-1) < R(f_rob,+1) (robust and standard)",
    "corollary1_errors": "Corollary 1: R_nat(f_rob,-1) < R_nat(f_nat,-1), R_nat(f_rob,+1) > R_nat(f_nat,+1)",
    "corollary1_b_order": "Corollary 1: b_rob < b_nat",
    "corollary1_b_rob_positive": "Corollary 1: 0 < b_rob  [needs sqrt(d)(eta-eps)/sigma > K sqrt(q(K))]",
    "theorem3": "Theorem 3 (Eq. 20): +1's error rises more than -1's in D'",
    "a3_both_classes_worse": "A.3: both classes' errors rise in D'  [needs sqrt(d eta^2+m gamma^2)/sigma > T*]",
}


def evaluate_claims(d, K, sigma, eta, eps, m=0, gamma=0.0):
    """Evaluate every claim at one parameter point: {claim id: bool} (D' claims only when m > 0)."""
    out = {
        "theorem1": bool(theorem1_holds(d, K, sigma, eta)),
        "theorem2": bool(theorem2_holds(d, K, sigma, eta, eps)),
        "corollary1_errors": bool(corollary1_errors_hold(d, K, sigma, eta, eps)),
        "corollary1_b_order": bool(corollary1_b_order_holds(d, K, sigma, eta, eps)),
        "corollary1_b_rob_positive": bool(corollary1_b_rob_positive_holds(d, K, sigma, eta, eps)),
    }
    if m > 0:
        out["theorem3"] = bool(theorem3_holds(d, K, sigma, eta, eps, m, gamma))
        out["a3_both_classes_worse"] = bool(a3_both_classes_worse_holds(d, K, sigma, eta, eps, m, gamma))
    return out
