"""Randomized smoothing: PREDICT and CERTIFY of Cohen, Rosenfeld and Kolter (2019, arXiv:1902.02918).

The smoothed classifier g(x) = argmax_c P(f(x + N(0, sigma^2 I)) = c).

* CERTIFY: n0 noisy samples choose the top class c_A; n more give p_A_lower, the one-sided
  (1 - alpha) Clopper-Pearson lower bound on P(f(x + noise) = c_A) (scipy's beta quantile).
  If p_A_lower > 1/2, g predicts c_A with certified l2 radius sigma Phi^-1(p_A_lower);
  otherwise it abstains (radius -1 here).
* PREDICT: n samples; the top two counts n_A, n_B; return the top class if a two-sided
  binomial test of n_A against n_A + n_B at 1/2 has p-value <= alpha, else abstain.

Class-wise results: the certified standard error of class i is the fraction of its examples
that CERTIFY does not return correctly with radius >= 0 (wrong or abstained); the certified
robust error at radius R, the fraction not certified correct with radius >= R.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import beta, binomtest, norm

from .errors import ConfigError

__all__ = ["lower_confidence_bound", "sample_counts", "certify", "predict", "certify_dataset", "check_params"]


def check_params(sigma, radius, n, n0, alpha, batch_size=1) -> None:
    """ConfigError (a ValueError) naming the first bad parameter."""
    if batch_size < 1:
        raise ConfigError(f"batch_size == {batch_size}, must be >= 1")
    if not sigma > 0:
        raise ConfigError(f"sigma == {sigma:g}, must be > 0")
    if not radius >= 0:
        raise ConfigError(f"radius == {radius:g}, must be >= 0")
    if n < 1 or n0 < 1:
        raise ConfigError(f"n == {n}, n0 == {n0}: both must be >= 1")
    if n0 > n:
        raise ConfigError(f"n0 == {n0} > n == {n}: the selection sample must not exceed the estimation sample")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha == {alpha:g}, must be in (0, 1)")


def lower_confidence_bound(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion with k of n successes."""
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


@torch.no_grad()
def sample_counts(model, x, num, sigma, num_classes, batch_size=1000, generator=None) -> np.ndarray:
    """Class counts of f(x + N(0, sigma^2 I)) over ``num`` noise draws for one input x (C, H, W)."""
    counts = torch.zeros(num_classes, dtype=torch.long)
    remaining = num
    while remaining > 0:
        b = min(batch_size, remaining)
        batch = x.unsqueeze(0).expand(b, *x.shape)
        noise = torch.randn(batch.shape, generator=generator, device="cpu").to(x.device)
        pred = model(batch + sigma * noise).argmax(1)
        counts += torch.bincount(pred.cpu(), minlength=num_classes)
        remaining -= b
    return counts.numpy()


def certify(model, x, sigma, n0, n, alpha, num_classes, batch_size=1000, generator=None):
    """CERTIFY: (predicted class or -1 to abstain, certified l2 radius or -1)."""
    c_a = int(sample_counts(model, x, n0, sigma, num_classes, batch_size, generator).argmax())
    counts = sample_counts(model, x, n, sigma, num_classes, batch_size, generator)
    p_lower = lower_confidence_bound(int(counts[c_a]), n, alpha)
    if p_lower <= 0.5:
        return -1, -1.0
    return c_a, float(sigma * norm.ppf(p_lower))


def predict(model, x, sigma, n, alpha, num_classes, batch_size=1000, generator=None) -> int:
    """PREDICT: the smoothed prediction, or -1 to abstain."""
    counts = sample_counts(model, x, n, sigma, num_classes, batch_size, generator)
    top2 = np.argsort(counts)[::-1][:2]
    n_a, n_b = int(counts[top2[0]]), int(counts[top2[1]])
    if binomtest(n_a, n_a + n_b, 0.5).pvalue <= alpha:
        return int(top2[0])
    return -1


def _classwise(y, correct, radii, radius, smoothed, num_classes):
    """Per class: certified standard and robust error, PREDICT's error (if ``smoothed``) and the count; a class
    without examples has no error (None), left out of the worst."""
    std_err, rob_err, pred_err, n_per = [], [], [], []
    for c in range(num_classes):
        sel = y == c
        m = int(sel.sum())
        n_per.append(m)
        std_err.append(float(1 - (correct[sel] & (radii[sel] >= 0)).sum() / m) if m else None)
        rob_err.append(float(1 - (correct[sel] & (radii[sel] >= radius)).sum() / m) if m else None)
        if smoothed is not None:
            pred_err.append(float((smoothed[sel] != c).sum() / m) if m else None)
    return std_err, rob_err, pred_err, n_per


def certify_dataset(model, x_all, y_all, sigma, radius, n, n0, alpha, num_classes, batch_size=1000, seed=0,
                    class_names=None, progress=None, with_predict=False) -> dict:
    """CERTIFY (and, if asked, PREDICT) every example; class-wise certified standard / robust errors at ``radius``."""
    check_params(sigma, radius, n, n0, alpha, batch_size)
    model.eval()
    # CERTIFY and PREDICT draw from separate noise streams, so that asking for PREDICT leaves the
    # certified numbers unchanged (CERTIFY's stream is seeded by ``seed`` alone, as before)
    g = torch.Generator().manual_seed(seed)
    g_predict = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))
    preds, radii, smoothed = [], [], []
    for i in range(len(y_all)):
        c, r = certify(model, x_all[i], sigma, n0, n, alpha, num_classes, batch_size, g)
        preds.append(c)
        radii.append(r)
        if with_predict:
            smoothed.append(predict(model, x_all[i], sigma, n, alpha, num_classes, batch_size, g_predict))
        if progress is not None:
            progress(i + 1, len(y_all))
    y = np.asarray(y_all.cpu() if torch.is_tensor(y_all) else y_all)
    preds, radii = np.asarray(preds), np.asarray(radii)
    smoothed = np.asarray(smoothed) if with_predict else None
    correct = preds == y
    if len(y) == 0:
        raise ConfigError("the split is empty: there is no example to certify")
    std_err, rob_err, pred_err, n_per = _classwise(y, correct, radii, radius, smoothed, num_classes)
    total = len(y)
    return {
        "sigma": sigma, "radius": radius, "n": n, "n0": n0, "alpha": alpha, "seed": seed,
        "certified_std_error": std_err,
        "certified_error": rob_err,
        "predict_error": pred_err if with_predict else None,
        "avg": {"certified_std_error": float(1 - (correct & (radii >= 0)).sum() / total),
                "certified_error": float(1 - (correct & (radii >= radius)).sum() / total),
                "predict_error": float((smoothed != y).sum() / total) if with_predict else None},
        "worst": {"certified_std_error": max(v for v in std_err if v is not None),
                  "certified_error": max(v for v in rob_err if v is not None)},
        "n_per_class": n_per,
        "class_names": list(class_names) if class_names is not None else None,
        "labels": y.tolist(),
        "predicted": preds.tolist(),
        "radius_per_sample": radii.tolist(),
        "abstain_rate": float((preds == -1).mean()),
    }
