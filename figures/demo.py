"""The demo's figure: class-wise standard, boundary and robust error of the PGD-AT start, FRL and the controls.

Input: the dict of :func:`figures.results.demo_figure` (from ``frl demo``'s folder): class names and,
per method, its label and class-wise errors (fractions; drawn in %), as in the paper's Figure 1 and
Table 2, where the worst class is what FRL is for.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import style

__all__ = ["draw_demo"]

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
