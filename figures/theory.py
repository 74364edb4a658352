"""Theory figures: class-wise errors of f_nat and f_rob as eps grows, and the map of where
the paper's conditional claims hold. Inputs come from :mod:`gaussian_theory.sweeps`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from . import style

__all__ = ["draw_errors_vs_eps", "draw_claims_map"]


def draw_errors_vs_eps(res: dict):
    """Two panels (standard, robust error) with one line per (classifier, class)."""
    eps = np.asarray(res["eps"])
    s = res["setting"]
    with style.use():
        fig, axes = plt.subplots(1, 2, figsize=(style.DOUBLE, 2.6), sharex=True)
        for ax, key, title in ((axes[0], "std_error", "standard error"), (axes[1], "rob_error", "robust error (l∞, same ε)")):
            for clf, ls in (("f_nat", "--"), ("f_rob", "-")):
                err = np.asarray(res[clf][key])
                for i, cls in enumerate((-1, +1)):
                    ax.plot(eps, 100 * err[:, i], ls, color=style.CLASS_COLOURS[cls],
                            label=f"{clf}, {style.CLASS_LABELS[cls]}")
            ax.set_title(title)
            ax.set_xlabel("ε")
            ax.set_ylabel("class-wise error (%)")
        axes[0].legend(frameon=False)
        fig.suptitle(
            f"Theorems 1-2: d = {s['d']:g}, K = {s['K']:.4g}, σ = {s['sigma']:g}, η = {s['eta']:g}; "
            "robust training helps class −1 and hurts class +1",
            fontsize=8,
        )
        fig.tight_layout()
    return fig


def _region_patches():
    return [Patch(facecolor=style.HOLDS_COLOUR, edgecolor="0.6", label="claim holds"),
            Patch(facecolor=style.FAILS_COLOUR, edgecolor="0.6", label="claim fails")]


def draw_claims_map(res: dict):
    """Where "0 < b_rob" and "both classes' errors rise in D'" hold, with their exact boundaries."""
    cmap = ListedColormap([style.FAILS_COLOUR, style.HOLDS_COLOUR])
    with style.use():
        fig, axes = plt.subplots(1, 2, figsize=(style.DOUBLE, 2.8))
        a = res["b_rob_positive"]
        ax = axes[0]
        ax.pcolormesh(a["K"], a["t_rob"], np.asarray(a["holds"]), cmap=cmap, vmin=0, vmax=1, shading="auto",
                      rasterized=True)
        ax.plot(a["K"], a["boundary"], "k-", lw=1.2, label="t_rob = K √q(K)")
        p = res["figure2_point"]
        ax.plot([p["K"]], [p["t_rob"]], "k*", ms=7, label="Figure 2's setting")
        ax.set_xscale("log")
        ax.set_ylim(min(a["t_rob"]), max(a["t_rob"]))
        ax.set_xlabel("K = σ₊₁ / σ₋₁")
        ax.set_ylabel("t_rob = √d (η − ε) / σ")
        ax.set_title("Corollary 1: 0 < b_rob\n")
        ax.legend(handles=[*ax.get_legend_handles_labels()[0], *_region_patches()], frameon=True, framealpha=0.85,
                  loc="upper left")

        b = res["a3_both_classes_worse"]
        ax = axes[1]
        ax.pcolormesh(b["K"], b["T_over_t"], np.asarray(b["holds"]), cmap=cmap, vmin=0, vmax=1, shading="auto",
                      rasterized=True)
        ax.plot(b["K"], b["boundary"], "k-", lw=1.2, label="T = T*")
        ax.set_xscale("log")
        ax.set_ylim(min(b["T_over_t"]), max(b["T_over_t"]))
        ax.set_xlabel("K = σ₊₁ / σ₋₁")
        ax.set_ylabel("T / t = √(dη² + mγ²) / (√d η)")
        ax.set_title(f"A.3 in D': both classes worse\nt = √d η/σ = {b['t']:.3g}, ε/η = {b['eps_over_eta']:g}")
        ax.legend(handles=[*ax.get_legend_handles_labels()[0], *_region_patches()], frameon=True, framealpha=0.85,
                  loc="upper left")
        fig.tight_layout()
    return fig
