"""The class-wise controller over a run: per epoch, each class's validation error and the weight the
method gives the class (FRL's Reweight, Algorithm 1 steps 6-9; WAT's Hedge weights; DAFA's), with
the numbers that say whether the loop settles or swings.

FRL alternates a multiplier step phi_i <- max(0, phi_i + alpha (R(f,i) - R(f) - tau)) (Eq. 9) with
an epoch of training under the resulting class weights. With a large step, the class that was worst
gets so much weight that a confusable class becomes the worst one an epoch later, and back again: a
period-2 oscillation. :func:`swing` measures it from the class-wise validation errors e_i(t):

* ``mean_change``: the mean over classes and epochs of |e_i(t) - e_i(t-1)|;
* ``largest_change``: the largest such change, with its class and the two epochs;
* ``alternation``: sum Δ_i(t) Δ_i(t+1) / sqrt(sum Δ_i(t)^2 sum Δ_i(t+1)^2) over classes and epochs,
  Δ_i(t) = e_i(t) - e_i(t-1): -1 when every change is undone by the next (a period-2 swing), -1/2
  for independent noise around a fixed level, 0 for a random walk, +1 for a steady drift; None with
  fewer than three validated epochs. Read it with ``mean_change``: noise of a few points alternates
  at about -1/2 too.

A run without class weights (PGD-AT, TRADES) is drawn all the same: its swing is the yardstick.

    >>> res = controller_trace("results/cpu/cifar10_frl")   # every run below, stage/seed_N
    >>> res["runs"][0]["swing"]["alternation"]

Reading only (``metrics.jsonl`` and ``config.json`` of run directories); ``frl figures
controller_trace --runs DIR`` draws it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from deep.errors import RunDirError
from deep.run_dir import RunDir

from . import style
from .results import BadResults, MissingResults

__all__ = ["WEIGHT_KEYS", "MAX_ROWS", "swing", "controller_trace", "draw_controller_trace", "controller_trace_markdown"]

# metrics keys of the per-class weights a method logs, in the order looked for: FRL (and Baseline
# Reweight), WAT, DAFA
WEIGHT_KEYS = ("class_weights", "wat_weights", "dafa_weights")
MAX_ROWS = 12  # runs drawn; the JSON and the table hold every run


def swing(errors) -> dict:
    """Epoch-to-epoch movement of class-wise errors ``errors`` (epochs x classes, fractions); see the module doc."""
    e = np.asarray(errors, dtype=float)
    if e.ndim != 2 or e.shape[0] < 2:
        raise ValueError(f"errors has shape {e.shape}: need epochs x classes with at least 2 epochs")
    d = np.diff(e, axis=0)
    t, i = np.unravel_index(int(np.argmax(np.abs(d))), d.shape)
    out = {"mean_change": float(np.abs(d).mean()), "largest_change": float(d[t, i]), "largest_class": int(i),
           "largest_epochs": [int(t), int(t) + 1], "alternation": None}
    if d.shape[0] >= 2:
        a, b = d[:-1], d[1:]
        denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
        out["alternation"] = float((a * b).sum() / denom) if denom > 0 else 0.0
    return out


def _run_dirs(root: Path) -> list[Path]:
    """root itself if it holds a metrics.jsonl, else its runs one or two folders down (stage/seed_N)."""
    if (root / RunDir.METRICS).exists():
        return [root]
    found = sorted(root.glob(f"*/{RunDir.METRICS}")) + sorted(root.glob(f"*/*/{RunDir.METRICS}"))
    return [p.parent for p in found]


def _trace(run: Path, label: str) -> dict | None:
    """One run's validation lines -> its trace, or None when it has fewer than two validated epochs."""
    rd = RunDir(run)
    by_epoch = {r["epoch"]: r for r in rd.read_metrics() if r.get("split") == "val" and isinstance(r.get("epoch"), int)}
    lines = [by_epoch[k] for k in sorted(by_epoch)]
    if len(lines) < 2:
        return None
    try:
        method = rd.read_config().get("method")
    except RunDirError:
        method = None
    key = next((k for k in WEIGHT_KEYS if lines[-1].get(k) is not None), None)
    try:
        std = [[float(v) for v in r["std_error"]] for r in lines]
        rob = [[float(v) for v in r["rob_error"]] for r in lines]
        weights = [[float(v) for v in r[key]] for r in lines] if key else None
    except (KeyError, TypeError, ValueError) as exc:
        raise BadResults(f"{rd.metrics_path}: a validation line lacks class-wise errors or weights ({exc})") from None
    k = len(std[0])
    return {"run": label, "method": method, "epochs": [int(r["epoch"]) for r in lines],
            "class_names": lines[-1].get("class_names") or [str(c) for c in range(k)],
            "std_error": std, "rob_error": rob, "weights": weights, "weights_key": key,
            "eps_class": [r["eps_class"] for r in lines] if all(r.get("eps_class") for r in lines) else None,
            "swing": swing(std)}


def controller_trace(runs) -> dict:
    """Every run under ``runs`` (a run directory, or folders of them) with two or more validated epochs."""
    root = Path(runs)
    traces = [t for t in (_trace(p, str(p.relative_to(root)) if p != root else p.name) for p in _run_dirs(root)) if t]
    if not traces:
        raise MissingResults(f"no run with two or more validated epochs in {root} (a metrics.jsonl with "
                             "split 'val' lines; train one with `frl train --val-per-class N`)")
    return {"title": f"class-wise validation standard error and class weights per epoch: {root}",
            "runs": traces, "source": str(root)}


def _plot_classes(ax, epochs, values, names, highlight):
    colours = plt.get_cmap("tab10")(np.arange(len(names)) % 10)
    v = 100 * np.asarray(values)
    for c, name in enumerate(names):
        strong = c in highlight
        ax.plot(epochs, v[:, c], color=colours[c], lw=1.6 if strong else 0.7, alpha=1.0 if strong else 0.45,
                marker="o" if strong else None, ms=2.5, label=name if strong else None)


def draw_controller_trace(res: dict):
    """One row a run (the first :data:`MAX_ROWS`): class-wise validation standard error per epoch and, where
    the method has them, its class weights; the two classes that move most drawn bold."""
    runs = res["runs"][:MAX_ROWS]
    cols = 2 if any(r["weights"] for r in runs) else 1
    with style.use():
        fig, axes = plt.subplots(len(runs), cols, figsize=(style.DOUBLE, 0.4 + 1.5 * len(runs)), squeeze=False)
        for row, r in zip(axes, runs):
            d = np.abs(np.diff(np.asarray(r["std_error"]), axis=0)).sum(axis=0)
            top = set(np.argsort(-d)[:2].tolist())
            _plot_classes(row[0], r["epochs"], r["std_error"], r["class_names"], top)
            s = r["swing"]
            alt = "—" if s["alternation"] is None else f"{s['alternation']:+.2f}"
            row[0].set_title(f"{r['run']} ({r['method']}): mean |Δ| {100 * s['mean_change']:.1f} pt, "
                             f"alternation {alt}", fontsize=6.5)
            row[0].set_ylabel("val std error (%)")
            row[0].legend(frameon=False, fontsize=6, loc="best")
            if cols == 2:
                if r["weights"]:
                    _plot_classes(row[1], r["epochs"], r["weights"], r["class_names"], top)
                    row[1].set_ylabel(f"{r['weights_key']} (%)")
                else:
                    row[1].axis("off")
        for ax in axes.flat:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes[-1]:
            ax.set_xlabel("epoch")
        fig.suptitle(res["title"], fontsize=7)
        fig.tight_layout()
    return fig


def controller_trace_markdown(res: dict) -> str:
    lines = ["Class-wise validation standard error, epoch to epoch (`figures/controller.py`: mean |Δ| over classes "
             "and epochs; the largest change; alternation: -1 = every change undone by the next, -0.5 = noise around a "
             "fixed level, 0 = a random walk, +1 = a steady drift)", "",
             "| run | method | validated epochs | mean abs Δ (pt) | largest Δ (pt, class, epochs) | alternation | "
             "worst class by epoch |", "|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        s, names = r["swing"], r["class_names"]
        worst = " ".join(names[int(np.argmax(e))] for e in r["std_error"])
        alt = "—" if s["alternation"] is None else f"{s['alternation']:+.2f}"
        e0, e1 = (r["epochs"][j] for j in s["largest_epochs"])
        lines.append(f"| {r['run']} | {r['method']} | {len(r['epochs'])} | {100 * s['mean_change']:.1f} | "
                     f"{100 * s['largest_change']:+.1f} ({names[s['largest_class']]}, {e0}→{e1}) | {alt} | {worst} |")
    return "\n".join(lines)
