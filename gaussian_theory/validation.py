"""Parameter validation at the boundary of the theory API.

Every public function of :mod:`gaussian_theory` calls these helpers before it
computes anything, so a call outside a theorem's domain raises ``ValueError``
with a message that names the parameter, the condition and the offending value
(``"K == 1, must be > 1"``). Arrays are checked element-wise; the message shows
the first offending value.
"""

from __future__ import annotations

import numpy as np

from deep.choices import Norm

__all__ = [
    "as_float_array",
    "check_bound",
    "check_eps_below_eta",
    "check_gamma_below_eps",
    "check_model",
    "check_norm",
]

NORMS = Norm.values()


def as_float_array(name: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array, refusing NaN and non-numbers."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not be NaN")
    return arr


def _first(arr: np.ndarray, bad: np.ndarray) -> float:
    return float(np.asarray(arr)[bad].flat[0]) if np.ndim(arr) else float(arr)


def check_bound(name: str, value, *, gt=None, ge=None, lt=None, integer=False) -> np.ndarray:
    """Check ``value`` element-wise against bounds and return it as an array.

    Raises ``ValueError("name == v, must be > bound")`` on the first violation,
    in the order gt, ge, lt. ``integer=True`` also requires whole numbers.
    """
    arr = as_float_array(name, value)
    for op, bound, ok in (
        (">", gt, lambda a, b: a > b),
        (">=", ge, lambda a, b: a >= b),
        ("<", lt, lambda a, b: a < b),
    ):
        if bound is None:
            continue
        bad = ~ok(arr, bound)
        if np.any(bad):
            raise ValueError(f"{name} == {_first(arr, bad):g}, must be {op} {bound:g}")
    if integer:
        bad = arr != np.round(arr)
        if np.any(bad):
            raise ValueError(f"{name} == {_first(arr, bad):g}, must be a whole number")
    if np.isinf(arr).any():
        raise ValueError(f"{name} must be finite")
    return arr


def check_model(d, K, sigma, eta):
    """Validate the parameters of the Gaussian model D (paper Eq. 2).

    Conditions: d >= 1 (whole), K > 1, sigma > 0, eta > 0.
    """
    d = check_bound("d", d, ge=1, integer=True)
    K = check_bound("K", K, gt=1)
    sigma = check_bound("sigma", sigma, gt=0)
    eta = check_bound("eta", eta, gt=0)
    return d, K, sigma, eta


def _check_below(name, value, bound_name, bound, reason):
    v_b, b_b = np.broadcast_arrays(value, bound)
    bad = v_b >= b_b
    if np.any(bad):
        raise ValueError(f"{name} == {_first(v_b, bad):g} >= {bound_name} == {_first(b_b, bad):g}, "
                         f"must be {name} < {bound_name} ({reason})")
    return value


def check_eps_below_eta(eps, eta, *, allow_zero=True):
    """Validate the attack radius of Theorem 2: 0 <= eps < eta (eps > 0 if not allow_zero)."""
    eps = check_bound("eps", eps, ge=0) if allow_zero else check_bound("eps", eps, gt=0)
    return _check_below("eps", eps, "eta", eta, "Theorem 2 needs the robust features to survive the attack")


def check_gamma_below_eps(gamma, eps):
    """Validate the non-robust feature scale of D' (paper Eq. 19): 0 < gamma < eps."""
    gamma = check_bound("gamma", gamma, gt=0)
    return _check_below("gamma", gamma, "eps", eps, "in D' the non-robust features are those the attack can flip")


def check_norm(norm: str) -> str:
    """Validate the perturbation norm name."""
    if norm not in NORMS:
        raise ValueError(f"norm == {norm!r}, must be one of {', '.join(NORMS)}")
    return norm
