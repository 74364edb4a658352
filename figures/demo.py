"""The demo's figure: class-wise standard, boundary and robust error of the PGD-AT start, FRL and the controls.

Input: the dict of :func:`figures.results.demo_figure` (from ``frl demo``'s folder): class names and,
per method, its label and class-wise errors (fractions; drawn in %), as in the paper's Figure 1 and
Table 2, where the worst class is what FRL is for.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import style

__all__ = ["draw_demo", "LABELS", "summary_markdown", "write_demo", "demo_report_text"]

# The start in grey, FRL Reweight+Remargin in the adversarial colour, the controls and the other variants after.
COLOURS = {"pgd_at": "#9E9E9E", "frl_reweight_remargin": style.METHOD_COLOURS["pgd_at"], "pgd_at_continued": "#56B4E9",
           "loss_only": "#0072B2", "frl_reweight": "#E69F00", "frl_remargin": "#F0E442",
           "baseline_reweight": style.METHOD_COLOURS["trades"]}


def draw_demo(res: dict):
    """Three panels (standard, boundary, robust error), bars per class and method; the worst class marked."""
    names = res["class_names"]
    methods = list(res["methods"])
    k, width = len(names), 0.8 / max(len(methods), 1)
    with style.use():
        fig, axes = plt.subplots(3, 1, figsize=(style.DOUBLE, 5.6), sharex=True)
        for ax, key, title in zip(axes, ("std_error", "bndy_error", "rob_error"),
                                  ("standard error", "boundary error", "robust error (PGD-20)")):
            for j, m in enumerate(methods):
                values = np.array([np.nan if v is None else 100 * v for v in res["methods"][m][key]])
                ax.bar(np.arange(k) + (j - (len(methods) - 1) / 2) * width, values, width,
                       color=COLOURS.get(m, f"C{j}"), label=res["methods"][m]["label"])
            start = np.array([np.nan if v is None else 100 * v for v in res["methods"][methods[0]][key]])
            ax.axhline(np.nanmax(start), color="0.4", lw=0.8, ls=":")
            ax.set_ylabel(f"{title} (%)")
        axes[-1].set_xticks(np.arange(k))
        axes[-1].set_xticklabels(names)
        axes[-1].set_xlabel("class")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(methods)), frameon=False,
                   bbox_to_anchor=(0.5, -0.005))
        fig.suptitle(f"{res['title']}\n(dotted: the start's worst class)", fontsize=8)
        rows = -(-len(methods) // min(4, len(methods)))
        fig.tight_layout(rect=(0, 0.005 + 0.03 * rows, 1, 1))
    return fig


LABELS = {"pgd_at": "PGD-AT (start)", "frl_reweight_remargin": "FRL Reweight+Remargin",
          "pgd_at_continued": "PGD-AT trained as long (control)", "loss_only": "FRL's loss, controller off (control)",
          "frl_reweight": "FRL Reweight", "frl_remargin": "FRL Remargin", "baseline_reweight": "Baseline Reweight"}


def summary_markdown(summary: dict) -> str:
    """The demo's six numbers per method as the README's Markdown table (%)."""
    from deep.run_dir import SIX

    lines = ["| method | avg std | worst std | avg bndy | worst bndy | avg rob | worst rob |",
             "|---|---|---|---|---|---|---|"]
    for m, s in summary.items():
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(f"{100 * s[n]:.1f}" for n, _, _ in SIX) + " |")
    return "\n".join(lines) + "\n"


def write_demo(out, evals: dict, info: dict) -> dict:
    """summary.json / .md, demo.json (``info`` with the methods and their labels) and demo_classwise.png /
    .pdf in ``out``; returns the summary {run: six numbers}."""
    from deep.run_dir import RunDir, six_numbers

    from .results import demo_figure

    summary = {name: six_numbers(res) for name, res in evals.items()}
    group = RunDir(out)
    group.write_summary(summary, summary_markdown(summary))
    group.write_json(RunDir.DEMO, {**info, "methods": [m for m in evals if m != "pgd_at"],
                                   "labels": {m: LABELS.get(m, m) for m in evals}})
    with style.use():
        style.save(draw_demo(demo_figure(out)), out, "demo_classwise")
    return summary


def demo_report_text(summary: dict, classwise: dict) -> str:
    """What ``frl demo`` prints: class-wise robust errors, the six numbers, and the paper's claim checked."""
    from deep.run_dir import SIX

    names = classwise["pgd_at"]["class_names"]
    lines = ["Class-wise robust error (%, test split, PGD-20 l_inf 0.2):",
             f"{'method':<24}" + "".join(f"{n:>6}" for n in names)]
    for m, res in classwise.items():
        lines.append(f"{m:<24}" + "".join(f"{100 * v:6.1f}" for v in res["rob_error"]))
    lines += ["", f"{'method':<24}" + "".join(f"{n:>11}" for n, _, _ in SIX)]
    for m, s in summary.items():
        lines.append(f"{m:<24}" + "".join(f"{100 * s[n]:11.1f}" for n, _, _ in SIX))
    if "frl_reweight_remargin" in summary:
        lines += ["", *_claim_lines(summary)]
    return "\n".join(lines)


def _claim_lines(summary: dict) -> list:
    a, b = summary["pgd_at"], summary["frl_reweight_remargin"]
    d_worst, d_std = 100 * (a["worst_rob"] - b["worst_rob"]), 100 * (b["avg_std"] - a["avg_std"])
    holds = d_worst >= 3 and d_std <= 2
    lines = [f"Paper's claim (FRL RW+RM vs its PGD-AT start: worst-class robust error -3 points or more, "
             f"average standard error +2 points or less): worst rob {-d_worst:+.1f}, avg std {d_std:+.1f} "
             f"-> {'holds' if holds else 'does NOT hold'} here"]
    if "pgd_at_continued" in summary:
        c = summary["pgd_at_continued"]
        lines.append(f"Control (PGD-AT trained as long): worst rob {100 * (c['worst_rob'] - a['worst_rob']):+.1f}, "
                     f"avg std {100 * (c['avg_std'] - a['avg_std']):+.1f}")
    if "loss_only" in summary:
        c = summary["loss_only"]
        lines.append(f"Control (FRL's loss, controller off): worst rob "
                     f"{100 * (c['worst_rob'] - a['worst_rob']):+.1f}, avg rob {100 * (c['avg_rob'] - a['avg_rob']):+.1f}"
                     f"; FRL RW+RM: avg rob {100 * (b['avg_rob'] - a['avg_rob']):+.1f}")
    return lines
