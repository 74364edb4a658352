"""Exact class-wise standard and robust errors of any linear classifier on D (and D').

For f(x) = sign(<w, x> + b) and x | y ~ N(y theta, s_y^2 I) with s_{-1} = sigma,
s_{+1} = K sigma, the score <w, x> + b is Gaussian, and the worst perturbation
with ||delta|| <= eps moves it by eps ||w||_* towards the wrong side (||.||_* the
dual norm: l1 for an l_inf attack, l2 for an l2 attack). Hence, exactly,

    R(f; -1) = Phi((b - <w, theta> + eps ||w||_*) / (sigma ||w||_2)),
    R(f; +1) = Phi((-b - <w, theta> + eps ||w||_*) / (K sigma ||w||_2)).

With eps = 0 these are the standard errors; with eps > 0 the robust errors (the
probability that *some* admissible delta flips the prediction). A point whose
score is exactly 0 counts as an error for either class (sign(0) = 0 is no label);
this matters only for w = 0, where f is the constant sign(b).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .validation import as_float_array, check_bound, check_norm

__all__ = ["class_errors", "class_errors_probit"]


def class_errors_probit(w, b, theta, sigma, K, eps=0.0, norm="linf"):
    """Probits z with class_errors = Phi(z), last axis [class -1, class +1].

    For w = 0 the probit is +inf (certain error) or -inf (certain success).
    Same parameters as :func:`class_errors`.
    """
    norm = check_norm(norm)
    w = as_float_array("w", w)
    if w.ndim == 0:
        raise ValueError("w must have a last axis holding the weights, got a scalar")
    b = as_float_array("b", b)
    theta = as_float_array("theta", theta)
    if theta.ndim == 0 or theta.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"theta's last axis has length {theta.shape[-1] if theta.ndim else 0}, "
            f"w's has {w.shape[-1]}: they must match"
        )
    if np.isinf(w).any() or np.isinf(b).any() or np.isinf(theta).any():
        raise ValueError("w, b and theta must be finite")
    sigma = check_bound("sigma", sigma, gt=0)
    K = check_bound("K", K, gt=1)
    eps = check_bound("eps", eps, ge=0)

    margin = np.einsum("...i,...i->...", w, theta)
    norm2 = np.sqrt(np.einsum("...i,...i->...", w, w))
    dual = np.abs(w).sum(axis=-1) if norm == "linf" else norm2
    shift = eps * dual
    num_m = b - margin + shift
    num_p = -b - margin + shift
    with np.errstate(divide="ignore", invalid="ignore"):
        z_m = num_m / (sigma * norm2)
        z_p = num_p / (K * sigma * norm2)
    zero = norm2 == 0
    if np.any(zero):
        # f(x) = sign(b) is constant; a tie (b == 0) is an error for both classes.
        z_m = np.where(zero, np.where(b >= 0, np.inf, -np.inf), z_m)
        z_p = np.where(zero, np.where(b <= 0, np.inf, -np.inf), z_p)
    return np.stack(np.broadcast_arrays(z_m, z_p), axis=-1)


def class_errors(w, b, theta, sigma, K, eps=0.0, norm="linf"):
    """Exact class-wise error rates [R(f; -1), R(f; +1)] of f(x) = sign(<w, x> + b).

    Parameters
    ----------
    w : array_like, shape (..., n)
        Weights; a batch of classifiers over the leading axes.
    b : array_like, broadcastable to w.shape[:-1]
        Biases.
    theta : array_like, shape (n,) or broadcastable (..., n)
        Class +1's mean (class -1's mean is -theta).
    sigma : array_like, > 0
        Standard deviation of class -1 (class +1 has K sigma).
    K : array_like, > 1
        Ratio of the standard deviations, sigma_{+1} / sigma_{-1}.
    eps : array_like, >= 0
        Attack radius; 0 gives the standard errors, eps > 0 the robust errors.
    norm : {"linf", "l2"}
        The attack's norm.

    Returns
    -------
    ndarray, shape (..., 2)
        [R(f; -1), R(f; +1)] along the last axis.

    Raises
    ------
    ValueError
        If sigma <= 0, K <= 1, eps < 0, an unknown norm, NaN/inf input, or mismatched shapes.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(class_errors([1.0, 1.0], 0.0, [2.0, 2.0], 1.0, 2.0), 4)
    array([0.0023, 0.0786])
    """
    return ndtr(class_errors_probit(w, b, theta, sigma, K, eps=eps, norm=norm))
