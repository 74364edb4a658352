"""95 % intervals of class-wise errors, and of the change between two models on one test set.

With 1,000 test images a class, a class-wise error carries about +-3 points (binomial: 1.96 sqrt(p (1 - p)
/ 1000) = 3.0 at p = 0.5), the same order as many of the changes the FRL papers report. Three kinds:

* a class's error, or the average error over all N examples: **Clopper-Pearson** (the exact binomial
  interval; Clopper and Pearson 1934), from the counts alone;
* the worst class's error max_c p_c: [max_c lo_c, max_c hi_c] of the classes' Clopper-Pearson
  intervals at level 1 - (1 - level) / K (Bonferroni): all K class intervals hold at once with
  probability >= level, and then so does this one. Valid whatever the gaps between classes (a
  percentile bootstrap of the maximum is not: with near-tied classes, the regime FRL aims for, its
  95 % interval covered the true worst error in under 90 % of simulated test sets, and in about 1 %
  with all classes tied), at the price of width;
* the change of the average or the worst class between two models scored on the **same** examples:
  a **paired** stratified bootstrap: per class, the four joint outcomes (wrong / right under each
  model) are resampled together (a multinomial of the observed cell frequencies), so what both models
  get wrong cancels. For the average this is the usual bootstrap of a mean. For the worst class it is
  approximate: a replicate's maximum over near-tied classes is biased up, so the interval of a change
  toward tied classes leans toward "no improvement" (conservative for a claim that a worst class
  improved by equalising). A change is *significant* at the 95 % level when its interval excludes 0.

Every function takes errors as counts or per-example flags and returns fractions; ``level`` is the
coverage (0.95), ``draws`` the bootstrap replicates and ``seed`` their generator's seed (results are
reproducible).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["clopper_pearson", "worst_class_interval", "paired_change", "result_intervals", "significance", "DRAWS",
           "LEVEL"]

LEVEL = 0.95
DRAWS = 4000


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level == {level}, must be in (0, 1)")


def clopper_pearson(k, n, level: float = LEVEL):
    """(lower, upper) of the exact binomial interval of k wrong out of n, elementwise over arrays.

    >>> lo, hi = clopper_pearson(500, 1000)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4685, 0.5315)
    """
    _check_level(level)
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n) or np.any(k != np.round(k)):
        raise ValueError("clopper_pearson needs whole counts 0 <= k <= n with n >= 1")
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    return lo, hi


def _counts(k, n):
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    if k.shape != n.shape or k.ndim != 1 or np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("per-class counts: k and n must be 1-d of one length with 0 <= k <= n and n >= 1")
    return k, n


def worst_class_interval(k, n, level: float = LEVEL):
    """(lower, upper) of the worst class's error max_c k_c / n_c: the largest lower and the largest upper
    end of the classes' simultaneous (Bonferroni) Clopper-Pearson intervals (module docstring)."""
    _check_level(level)
    k, n = _counts(k, n)
    lo, hi = clopper_pearson(k, n, 1 - (1 - level) / len(n))
    return float(np.max(lo)), float(np.max(hi))


def significance(intervals) -> str:
    """"up" / "down" when every (change, lower, upper) of ``intervals`` (one per seed) excludes 0 on that
    side, else "no" (also for no intervals at all)."""
    intervals = list(intervals)
    if intervals and all(lo > 0 for _, lo, _ in intervals):
        return "up"
    if intervals and all(hi < 0 for _, _, hi in intervals):
        return "down"
    return "no"


def paired_change(labels, wrong_a, wrong_b, num_classes: int | None = None, level: float = LEVEL,
                  draws: int = DRAWS, seed: int = 0) -> dict:
    """The change b - a of the average and of the worst-class error between models a and b scored on the
    same examples (``labels``; ``wrong_a`` / ``wrong_b``: per-example error flags), with paired bootstrap
    intervals: {"avg": (change, lower, upper), "worst": (...), "per_class": [(change, lower, upper), ...]}.
    """
    _check_level(level)
    labels = np.asarray(labels, dtype=np.int64)
    wa, wb = np.asarray(wrong_a, dtype=bool), np.asarray(wrong_b, dtype=bool)
    if not (labels.shape == wa.shape == wb.shape) or labels.ndim != 1 or labels.size == 0:
        raise ValueError("paired_change: labels and both flag arrays must be 1-d, non-empty, of one length")
    k = int(num_classes if num_classes is not None else labels.max() + 1)
    classes = [c for c in range(k) if np.any(labels == c)]
    rng = np.random.default_rng(seed)
    n_c = np.array([np.sum(labels == c) for c in classes])
    err_a = np.empty((draws, len(classes)))
    err_b = np.empty((draws, len(classes)))
    for j, c in enumerate(classes):
        m = labels == c
        # joint cells (a wrong, b wrong): 11, 10, 01, 00
        cells = np.array([np.sum(wa[m] & wb[m]), np.sum(wa[m] & ~wb[m]), np.sum(~wa[m] & wb[m]),
                          np.sum(~wa[m] & ~wb[m])], dtype=float)
        draw = rng.multinomial(n_c[j], cells / n_c[j], size=draws)
        err_a[:, j] = (draw[:, 0] + draw[:, 1]) / n_c[j]
        err_b[:, j] = (draw[:, 0] + draw[:, 2]) / n_c[j]
    a = (1 - level) / 2

    def summary(observed, replicates):
        lo, hi = np.quantile(replicates, [a, 1 - a], axis=0)
        return float(observed), float(lo), float(hi)

    obs_a = np.array([wa[labels == c].mean() for c in classes])
    obs_b = np.array([wb[labels == c].mean() for c in classes])
    avg = summary(wb.mean() - wa.mean(), (err_b - err_a) @ n_c / n_c.sum())
    worst = summary(obs_b.max() - obs_a.max(), err_b.max(axis=1) - err_a.max(axis=1))
    per_class = [summary(obs_b[j] - obs_a[j], err_b[:, j] - err_a[:, j]) for j in range(len(classes))]
    return {"avg": avg, "worst": worst, "per_class": per_class, "classes": classes, "level": level,
            "draws": draws, "seed": seed}


def result_intervals(res: dict, level: float = LEVEL) -> dict:
    """Intervals of an eval.json dict's errors: {"std_error" | "bndy_error" | "rob_error": {"avg": (lo, hi),
    "worst": (lo, hi), "per_class": [(lo, hi), ...]}}, from its class-wise errors and class sizes."""
    n = np.asarray(res["n_per_class"], dtype=np.int64)
    present = n > 0
    out = {}
    for key in ("std_error", "bndy_error", "rob_error"):
        rates = np.array([0.0 if v is None else v for v in res[key]])
        k = np.rint(rates * n).astype(np.int64)
        lo, hi = clopper_pearson(k[present], n[present], level)
        avg = clopper_pearson(k.sum(), n.sum(), level)
        per_class, it = [], iter(zip(lo.tolist(), hi.tolist()))
        for ok in present:
            per_class.append(next(it) if ok else None)
        out[key] = {"avg": (float(avg[0]), float(avg[1])),
                    "worst": worst_class_interval(k[present], n[present], level),
                    "per_class": per_class}
    return out
