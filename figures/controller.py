"""The class-wise controller over a run, drawn and measured: per epoch, each class's validation
standard error and the weight the method gives the class (FRL's Reweight, Algorithm 1 steps 6-9;
WAT's Hedge weights; DAFA's), with the numbers that say whether the loop settles or swings.

FRL (the paper's variant, :func:`deep.methods.frl.lagrangian_weights`) takes a multiplier step
phi_i <- max(0, phi_i + alpha (R(f,i) - R(f) - tau)) and trains the next epoch under the gradient of
Eq. 9 with respect to the class-wise errors, w_i = 1/K + a_i phi_i - mean(a phi), where a_i = 1 only
while class i breaks its constraint. A class's whole multiplier is thus switched on or off as its
error crosses R(f) + tau: the class that was worst gets the weight, a confusable class becomes the
worst an epoch later, and back, a period-2 swing whose size is the accumulated multiplier.
:func:`swing` measures it from the class-wise errors e_i(t) of consecutive validated epochs:

* ``mean_change``: the mean over classes and epochs of |e_i(t) - e_i(t-1)|;
* ``largest_change``: the largest such change (signed), with its class and the two epochs;
* ``alternation``: sum Δ_i(t) Δ_i(t+1) / sqrt(sum Δ_i(t)^2 sum Δ_i(t+1)^2) over classes and epochs,
  Δ_i(t) = e_i(t) - e_i(t-1): -1 when every change is undone by the next (a period-2 swing), -1/2
  for independent noise around a fixed level, 0 for a random walk, +1 for a steady drift; None with
  fewer than three epochs or no change at all. With few epochs read it with ``mean_change``: noise
  alternates near -1/2 too (errors drawn anew each epoch as from 300 images a class at 33 %, 4
  epochs: -0.48 ± 0.17, at a mean change of 3.0 points).

Classes without validation images (None in a metrics line) are NaN and left out.

    >>> s = swing([[0.2, 0.8], [0.8, 0.2], [0.2, 0.8]])
    >>> round(s["mean_change"], 3), round(s["alternation"], 3)
    (0.6, -1.0)

The reading is :func:`figures.results.controller_trace`; ``frl figures controller_trace --runs DIR``
draws it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from . import style

__all__ = ["MAX_ROWS", "swing", "draw_controller_trace", "controller_trace_markdown"]

MAX_ROWS = 16  # runs drawn (the title says when there are more); the JSON and the table hold every run


def _as_array(rows) -> np.ndarray:
    """Rows of per-class values as a float array, None (a class without images) as NaN."""
    if isinstance(rows, np.ndarray):
        return rows.astype(float)
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def swing(errors) -> dict:
    """Epoch-to-epoch movement of class-wise errors ``errors`` (epochs x classes, fractions; None or NaN
    for a class without images, left out); see the module doc. ValueError for fewer than 2 epochs."""
    e = _as_array(errors)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 1:
        raise ValueError(f"errors has shape {e.shape}: need epochs x classes with at least 2 epochs")
    keep = ~np.isnan(e).any(axis=0)  # classes measured in every epoch
    if not keep.any():
        raise ValueError("no class has an error in every epoch")
    d = np.diff(e[:, keep], axis=0)
    t, j = np.unravel_index(int(np.argmax(np.abs(d))), d.shape)
    out = {"mean_change": float(np.abs(d).mean()), "largest_change": float(d[t, j]),
           "largest_class": int(np.flatnonzero(keep)[j]), "largest_epochs": [int(t), int(t) + 1], "alternation": None}
    if d.shape[0] >= 2:
        a, b = d[:-1], d[1:]
        denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
        if denom > 0 and np.isfinite(denom):
            out["alternation"] = float((a * b).sum() / denom)
    return out


def _plot_classes(ax, epochs, values, names, highlight, scale=1.0):
    colours = plt.get_cmap("tab10")(np.arange(len(names)) % 10)
    v = scale * _as_array([row[:len(names)] for row in values])
    for c, name in enumerate(names):
        strong = c in highlight
        ax.plot(epochs, v[:, c], color=colours[c], lw=1.6 if strong else 0.7, alpha=1.0 if strong else 0.45,
                marker="o" if strong else None, ms=2.5, label=name if strong else None)


def _row(row, r, cols):
    e = _as_array(r["std_error"])
    top = set(np.argsort(-np.nan_to_num(np.abs(np.diff(e, axis=0)).sum(axis=0), nan=-1.0))[:2].tolist())
    _plot_classes(row[0], r["epochs"], r["std_error"], r["class_names"], top, scale=100.0)
    s = r["swing"]
    alt = "—" if s["alternation"] is None else f"{s['alternation']:+.2f}"
    row[0].set_title(f"{r['run']} ({r['method']}): mean |Δ| {100 * s['mean_change']:.1f} pt, alternation {alt}",
                     fontsize=6.5)
    row[0].set_ylabel("val std error (%)")
    row[0].legend(frameon=False, fontsize=6, loc="best")
    if cols == 2:
        if r["weights"]:
            _plot_classes(row[1], r["epochs"], r["weights"], r["class_names"], top)
            row[1].set_ylabel(r["weights_key"])
        else:
            row[1].axis("off")


def draw_controller_trace(res: dict):
    """One row a run (the first :data:`MAX_ROWS`): class-wise validation standard error per epoch and, where
    the method logs them, its class weights (as logged: FRL's sum to 1, DAFA's start at 1, WAT's first K of
    K + 1); the two classes that move most drawn bold."""
    runs = res["runs"][:MAX_ROWS]
    cols = 2 if any(r["weights"] for r in runs) else 1
    title = res["title"] + (f" (the first {MAX_ROWS} of {len(res['runs'])} runs)" if len(res["runs"]) > MAX_ROWS else "")
    with style.use():
        fig, axes = plt.subplots(len(runs), cols, figsize=(style.DOUBLE, 0.4 + 1.5 * len(runs)), squeeze=False)
        for row, r in zip(axes, runs):
            _row(row, r, cols)
        for ax in axes.flat:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes[-1]:
            ax.set_xlabel("epoch")
        fig.suptitle(title, fontsize=7)
        fig.tight_layout()
    return fig


def controller_trace_markdown(res: dict) -> str:
    lines = ["Class-wise validation standard error, epoch to epoch (`figures/controller.py`: mean |Δ| over classes "
             "and epochs; the largest change; alternation: -1 = every change undone by the next, -0.5 = noise around "
             "a fixed level, 0 = a random walk, +1 = a steady drift)", "",
             "| run | method | validated epochs | mean abs Δ (pt) | largest Δ (pt, class, epochs) | alternation | "
             "worst class by epoch |", "|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        s, names = r["swing"], r["class_names"]
        e = _as_array(r["std_error"])
        worst = " ".join(names[int(np.nanargmax(x))] for x in e)
        alt = "—" if s["alternation"] is None else f"{s['alternation']:+.2f}"
        e0, e1 = (r["epochs"][j] for j in s["largest_epochs"])
        gaps = "" if r["epochs"] == list(range(r["epochs"][0], r["epochs"][-1] + 1)) else " (epochs missing)"
        lines.append(f"| {r['run']} | {r['method']} | {len(r['epochs'])}{gaps} | {100 * s['mean_change']:.1f} | "
                     f"{100 * s['largest_change']:+.1f} ({names[s['largest_class']]}, {e0}→{e1}) | {alt} | {worst} |")
    return "\n".join(lines)
