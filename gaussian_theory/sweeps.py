"""Parameter sweeps that feed the theory figures (results as JSON-ready dicts).

* :func:`errors_vs_eps`: class-wise standard and robust errors of f_nat and f_rob as eps
  grows from 0 towards eta (Theorems 1, 2).
* :func:`claims_map`: where the two claims that do not hold everywhere hold, on grids of
  the dimensionless parameters, with the exact boundary curves.
"""

from __future__ import annotations

import numpy as np

from .claims import T_star, a3_both_classes_worse_holds, corollary1_b_rob_positive_holds
from .closed_form import R_nat_f_nat, R_nat_f_rob, R_rob_f_nat, R_rob_f_rob, b_nat, b_rob, q
from .validation import check_bound, check_model

__all__ = ["errors_vs_eps", "claims_map"]


def errors_vs_eps(d=2, K=np.sqrt(2.0), sigma=1.0, eta=2.0, n=60, eps_max_frac=0.98):
    """Class-wise errors of f_nat and f_rob for eps on [0, eps_max_frac * eta].

    Robust errors are evaluated at the same eps the robust classifier was trained for.
    """
    d, K, sigma, eta = (float(v) for v in check_model(d, K, sigma, eta))
    n = int(check_bound("n", n, ge=2, integer=True))
    frac = float(check_bound("eps_max_frac", eps_max_frac, gt=0, lt=1))
    eps = np.linspace(0.0, frac * eta, n)
    return {
        "setting": {"d": d, "K": K, "sigma": sigma, "eta": eta},
        "eps": eps.tolist(),
        "b_nat": float(b_nat(d, K, sigma, eta)),
        "b_rob": b_rob(d, K, sigma, eta, eps).tolist(),
        "f_nat": {"std_error": np.broadcast_to(R_nat_f_nat(d, K, sigma, eta), (n, 2)).tolist(),
                  "rob_error": R_rob_f_nat(d, K, sigma, eta, eps).tolist()},
        "f_rob": {"std_error": R_nat_f_rob(d, K, sigma, eta, eps).tolist(),
                  "rob_error": R_rob_f_rob(d, K, sigma, eta, eps).tolist()},
    }


def claims_map(n=120, K_max=20.0, t_max=4.0, t=2 * np.sqrt(2.0), eps_frac=0.25, ratio_max=6.0):
    """Truth of the two conditional claims over grids, plus their exact boundaries.

    Panel "b_rob_positive": x = K, y = t_rob = sqrt(d)(eta - eps)/sigma (d = 1, sigma = 1,
    eps = eta / 2 realise each point); boundary t_rob = K sqrt(q(K)).
    Panel "a3_both_classes_worse": x = K, y = T / t, with t = sqrt(d) eta / sigma and
    eps / eta fixed (defaults: Figure 2's t = 2 sqrt 2 and eps / eta = 0.25); boundary T_star / t.
    """
    n = int(check_bound("n", n, ge=4, integer=True))
    K_max = float(check_bound("K_max", K_max, gt=1))
    Ks = np.exp(np.linspace(np.log(1.01), np.log(K_max), n))
    t_rob = np.linspace(0.02, float(check_bound("t_max", t_max, gt=0)), n)
    KK, TT = np.meshgrid(Ks, t_rob)
    # realise (K, t_rob) with d = 1, sigma = 1, eps = eta / 2
    holds_b = corollary1_b_rob_positive_holds(1, KK, 1.0, 2 * TT, TT)

    t = float(check_bound("t", t, gt=0))
    frac = float(check_bound("eps_frac", eps_frac, gt=0, lt=1))
    ratios = np.linspace(1.001, float(check_bound("ratio_max", ratio_max, gt=1)), n)
    KK2, RR = np.meshgrid(Ks, ratios)
    eta, eps = t, frac * t  # d = 1, sigma = 1
    gamma = 0.999 * eps
    m = np.ceil(((RR * t) ** 2 - t**2) / gamma**2)
    gamma_fit = np.sqrt(((RR * t) ** 2 - t**2) / m)  # exactly T = ratio * t, gamma < eps
    holds_a3 = a3_both_classes_worse_holds(1, KK2, 1.0, eta, eps, m, gamma_fit)
    return {
        "b_rob_positive": {
            "K": Ks.tolist(),
            "t_rob": t_rob.tolist(),
            "holds": holds_b.astype(int).tolist(),
            "boundary": (Ks * np.sqrt(q(Ks))).tolist(),
        },
        "a3_both_classes_worse": {
            "K": Ks.tolist(),
            "T_over_t": ratios.tolist(),
            "t": t,
            "eps_over_eta": frac,
            "holds": holds_a3.astype(int).tolist(),
            "boundary": (T_star(1, Ks, 1.0, eta, eps) / t).tolist(),
        },
        "figure2_point": {"K": float(np.sqrt(2.0)), "t_rob": float(np.sqrt(2.0) * 1.5)},
    }
