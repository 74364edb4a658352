"""The FRL loss / controller ablation (``frl ablation frl-loss``): aggregation over seeds, its table
and its per-epoch validation curves. Reads results dicts; never trains.

Every arm fine-tunes the same PGD-AT start (one per seed) for the same epochs; a row holds the
six numbers of the paper's tables (avg / worst standard, boundary and robust error, % on the
test split, PGD-20) as mean ± std over seeds, and the change against the start, whose sign per
seed says whether the direction is the same on every seed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np

from . import style
from .results import summary_of_eval

__all__ = ["SIX", "six_numbers", "mean_std", "aggregate_arms", "frl_loss_markdown", "draw_frl_loss_curves",
           "frl_loss_result", "write_frl_loss"]

SIX = ("avg_std", "worst_std", "avg_bndy", "worst_bndy", "avg_rob", "worst_rob")
SIX_LABELS = ("avg std", "worst std", "avg bndy", "worst bndy", "avg rob", "worst rob")


def six_numbers(res: dict) -> dict:
    """The six numbers (%) of an eval.json-like dict, by name."""
    return dict(zip(SIX, summary_of_eval(res)))


def mean_std(values):
    """(mean, sample standard deviation) of a list of numbers; the deviation of one number is 0."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def aggregate_arms(per_seed: dict, labels: dict | None = None) -> dict:
    """``per_seed``: {seed: {"start": eval, arm: eval, ...}} -> rows with mean / std and deltas vs the start.

    Each row: ``per_seed`` (six numbers per seed), ``mean``, ``std``, ``delta_mean``, ``delta_std``
    and ``delta_sign`` (per number: +1 / -1 if the change against the start has that sign on every
    seed, else 0). The start's row has no deltas.
    """
    seeds = sorted(per_seed)
    arms = [a for a in per_seed[seeds[0]] if all(a in per_seed[s] for s in seeds)]
    rows = {}
    for arm in arms:
        nums = {s: six_numbers(per_seed[s][arm]) for s in seeds}
        row = {"label": (labels or {}).get(arm, arm), "per_seed": {str(s): nums[s] for s in seeds},
               "mean": {}, "std": {}}
        for key in SIX:
            row["mean"][key], row["std"][key] = mean_std([nums[s][key] for s in seeds])
        if arm != "start":
            row["delta_mean"], row["delta_std"], row["delta_sign"] = {}, {}, {}
            for key in SIX:
                d = [nums[s][key] - six_numbers(per_seed[s]["start"])[key] for s in seeds]
                row["delta_mean"][key], row["delta_std"][key] = mean_std(d)
                row["delta_sign"][key] = 1 if all(v > 0 for v in d) else -1 if all(v < 0 for v in d) else 0
        rows[arm] = row
    return {"seeds": seeds, "arms": arms, "rows": rows}


def frl_loss_markdown(agg: dict, title: str = "") -> str:
    """The ablation as a Markdown table: mean ± std (%), then the changes against the start."""
    n = len(agg["seeds"])
    head = "| arm | " + " | ".join(SIX_LABELS) + " | Δ avg std | Δ avg bndy | Δ avg rob | Δ worst rob |"
    lines = [f"### {title}" if title else "", f"Test split, PGD-20, % (mean ± std over {n} seed(s): "
             f"{', '.join(map(str, agg['seeds']))}); Δ: change against the PGD-AT start (mean ± std), "
             "marked * where its sign is the same on every seed.", "", head,
             "|" + "---|" * (len(SIX) + 5)]
    for arm in agg["arms"]:
        r = agg["rows"][arm]
        cells = [f"{r['mean'][k]:.1f} ± {r['std'][k]:.1f}" for k in SIX]
        deltas = []
        for k in ("avg_std", "avg_bndy", "avg_rob", "worst_rob"):
            if "delta_mean" in r:
                mark = "*" if r["delta_sign"][k] != 0 and n > 1 else ""
                deltas.append(f"{r['delta_mean'][k]:+.1f} ± {r['delta_std'][k]:.1f}{mark}")
            else:
                deltas.append("")
        lines.append(f"| {r['label']} | " + " | ".join(cells + deltas) + " |")
    return "\n".join(line for line in lines if line is not None) + "\n"


def draw_frl_loss_curves(curves: dict, labels: dict | None = None):
    """Per-epoch validation avg and worst-class robust error (%), one line per arm (mean over seeds).

    ``curves``: {arm: {"epoch": [...], "avg_rob": [...], "worst_rob": [...]}}; epoch 0 is the start.
    """
    with style.use():
        fig, axes = plt.subplots(1, 2, figsize=(style.DOUBLE, 2.6))
        cmap = plt.get_cmap("tab10")
        for j, (arm, c) in enumerate(curves.items()):
            label = (labels or {}).get(arm, arm)
            for ax, key in zip(axes, ("avg_rob", "worst_rob")):
                ax.plot(c["epoch"], 100 * np.asarray(c[key]), color=cmap(j % 10), linewidth=1.2, label=label,
                        linestyle=("-", "--", ":")[j // 10 % 3], marker="o", markersize=2)
        for ax, title in zip(axes, ("validation avg robust error", "validation worst-class robust error")):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(title)
            ax.set_xlabel("fine-tuning epoch (0: the start)")
            ax.set_ylabel("%")
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
        fig.tight_layout()
    return fig


def frl_loss_result(per_seed: dict, curves: dict, labels: dict, design: dict) -> dict:
    """The ablation's result: ``design`` (its settings), the arms aggregated over seeds and the mean curves."""
    agg = aggregate_arms(per_seed, labels)
    mean_curves = {a: {"epoch": c[0]["epoch"],
                       **{k: np.mean([ci[k] for ci in c], axis=0).tolist() for k in ("avg_rob", "worst_rob")}}
                   for a, c in curves.items()}
    return {**design, **agg, "val_curves": mean_curves}


def write_frl_loss(out, result: dict, labels: dict, title: str) -> str:
    """frl_loss.json, frl_loss.md and frl_loss_curves.png / .pdf in ``out``, as one set
    (:func:`figures.style.save_with_results`); returns the Markdown table."""
    from deep.run_dir import RunDir

    md = frl_loss_markdown(result, title)
    style.save_with_results(draw_frl_loss_curves(result["val_curves"], labels), out, Path(RunDir.FRL_LOSS).stem,
                            result, md, "frl_loss_curves")
    return md
