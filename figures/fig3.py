"""Figure 3: one class's standard, boundary and robust error when its boundary-error weight is
raised (left) and when its training margin is enlarged (right)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from . import style

__all__ = ["draw_fig3"]

LINES = (("std_error", "standard error", "-"), ("bndy_error", "boundary error", "--"),
         ("rob_error", "robust error", ":"))


def draw_fig3(res: dict):
    with style.use():
        fig, axes = plt.subplots(1, 2, figsize=(style.DOUBLE, 2.6), sharey=True)
        for ax, group, title, xlabel in (
            (axes[0], "weight", "(a) upweight boundary error", "weight of the class's boundary error (×)"),
            (axes[1], "margin", "(b) increase perturbation margin", "training radius of the class (× ε)"),
        ):
            pts = sorted(res[group], key=lambda p: p["factor"])
            x = [p["factor"] for p in pts]
            for key, label, ls in LINES:
                ax.plot(x, [100 * p[key] for p in pts], ls, marker="o", ms=3, color="k", label=label)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
        axes[0].set_ylabel(f"error of class '{res['class']}' (%)")
        axes[0].legend(frameon=False)
        fig.suptitle(f"Figure 3 ({res['dataset']}): class '{res['class']}'", fontsize=8)
        fig.tight_layout()
    return fig
