"""Seeded Monte Carlo estimates of class-wise errors with the explicit worst-case perturbation.

An independent check of :func:`~gaussian_theory.linear.class_errors`: draw x from
each class, move it by the worst admissible delta for a linear classifier,
delta = -y eps sign(w) (l_inf) or delta = -y eps w / ||w||_2 (l2), and count
sign(<w, x + delta> + b) != y.
"""

from __future__ import annotations

import numpy as np

from .validation import as_float_array, check_bound, check_norm

__all__ = ["sample_mixture", "worst_case_delta", "monte_carlo_class_errors"]


def sample_mixture(n_per_class, theta, sigma, K, rng):
    """Draw n_per_class points from each class of D (Eq. 2) or D' (Eq. 19, theta includes gamma).

    Returns
    -------
    x : ndarray, shape (2 n_per_class, len(theta)); class -1 first
    y : ndarray of -1 / +1
    """
    theta = as_float_array("theta", theta)
    sigma = float(check_bound("sigma", sigma, gt=0))
    K = float(check_bound("K", K, gt=1))
    n = int(check_bound("n_per_class", n_per_class, ge=1, integer=True))
    x_neg = -theta + sigma * rng.standard_normal((n, theta.size))
    x_pos = theta + K * sigma * rng.standard_normal((n, theta.size))
    y = np.concatenate([-np.ones(n), np.ones(n)])
    return np.concatenate([x_neg, x_pos]), y


def worst_case_delta(w, y, eps, norm="linf"):
    """The perturbation with ||delta|| <= eps that lowers y (<w, x> + b) the most: one row per label in y."""
    w = as_float_array("w", w)
    norm = check_norm(norm)
    direction = np.sign(w) if norm == "linf" else w / max(np.linalg.norm(w), np.finfo(float).tiny)
    return -np.asarray(y, dtype=float)[:, None] * eps * direction[None, :]


def monte_carlo_class_errors(w, b, theta, sigma, K, eps=0.0, norm="linf", n=100_000, seed=0, chunk=50_000):
    """Monte Carlo estimate of [R(f; -1), R(f; +1)] and its standard error.

    Parameters
    ----------
    w : array_like, shape (n_features,)
    b : float
    theta, sigma, K, eps, norm
        As in :func:`~gaussian_theory.linear.class_errors`.
    n : int
        Samples per class.
    seed : int
        Seed of numpy's default generator; the estimate is a pure function of it.

    Returns
    -------
    errors : ndarray, shape (2,)
    stderr : ndarray, shape (2,), sqrt(p (1 - p) / n)
    """
    w = as_float_array("w", w)
    theta = as_float_array("theta", theta)
    if w.shape != theta.shape or w.ndim != 1:
        raise ValueError(f"w and theta must be vectors of the same length, got {w.shape} and {theta.shape}")
    eps = float(check_bound("eps", eps, ge=0))
    n = int(check_bound("n", n, ge=1, integer=True))
    rng = np.random.default_rng(seed)
    wrong = np.zeros(2)
    done = 0
    while done < n:
        m = min(chunk, n - done)
        x, y = sample_mixture(m, theta, sigma, K, rng)
        x_adv = x + worst_case_delta(w, y, eps, norm)
        pred = np.sign(x_adv @ w + b)
        err = pred != y
        wrong += [err[:m].sum(), err[m:].sum()]
        done += m
    p = wrong / n
    return p, np.sqrt(p * (1 - p) / n)
