"""Figure 2: natural vs adversarial logistic regression (left) and MLP (right) on the
Gaussian mixture of Eq. 2, with the theory's optimal linear boundaries for reference.

Input: the results dict of :func:`gaussian_theory.simulation.run_fig2` (``fig2.json``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import style

__all__ = ["draw_fig2"]


def _line(ax, w, b, extent, **kw):
    """Draw {x : w1 x1 + w2 x2 + b = 0} across the plotting window."""
    xs = np.linspace(extent[0], extent[1], 2)
    if abs(w[1]) > 1e-12:
        ax.plot(xs, -(w[0] * xs + b) / w[1], **kw)
    else:
        ax.axvline(-b / w[0], **kw)


def _scatter(ax, samples):
    for cls, key in ((-1, "class_-1"), (+1, "class_+1")):
        pts = np.asarray(samples[key])
        ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.35, color=style.CLASS_COLOURS[cls], label=style.CLASS_LABELS[cls],
                   linewidths=0, rasterized=True)


def _theory_lines(ax, res, extent, label=True):
    th = res["theory"]
    ones = np.ones(2)
    for key, clf in (("b_nat", "nat"), ("b_rob", "rob")):
        _line(ax, ones, th[key], extent, color=style.METHOD_COLOURS[f"theory_{clf}"], **style.THEORY_STYLE,
              label=f"theory f_{clf} ({key})" if label else None)


def _boundaries(ax, res, kind, extent, label=True):
    for method in ("natural", "adversarial"):
        key = f"{kind}_{method}"
        colour = style.METHOD_COLOURS[method]
        name = f"{method} {'LR' if kind == 'lr' else 'MLP'}" if label else None
        if kind == "lr":
            m = res["models"][key]
            _line(ax, m["w"], m["b"], extent, color=colour, **style.MODEL_STYLE, label=name)
        else:
            grid = res["mlp_grid"][key]
            axis = np.asarray(grid["axis"])
            ax.contour(axis, axis, np.asarray(grid["score"]), levels=[0.0], colors=[colour],
                       linewidths=style.MODEL_STYLE["linewidth"])
            if label:
                ax.plot([], [], color=colour, **style.MODEL_STYLE, label=name)
    _theory_lines(ax, res, extent, label=label)


def _error_rows(res):
    rows = []
    for key, name in (("lr_natural", "natural LR"), ("lr_adversarial", "adversarial LR"),
                      ("mlp_natural", "natural MLP"), ("mlp_adversarial", "adversarial MLP")):
        m = res["models"][key]
        cells = [style.pct(v) for v in m["std_error"] + m["rob_error"]]
        if "std_error_se" in m:
            se = m["std_error_se"] + m["rob_error_se"]
            cells = [f"{c} ± {100 * s:.2f}" for c, s in zip(cells, se)]
        rows.append([name, *cells])
    for key, name in (("f_nat", "theory f_nat"), ("f_rob", "theory f_rob")):
        m = res["theory"][key]
        rows.append([name, *[style.pct(v) for v in m["std_error"] + m["rob_error"]]])
    return rows


def _zoom(ax, res: dict, kind: str, extent, centre: float, half: float) -> None:
    """An inset of ``ax`` on the square of half-width ``half`` around ``centre``, where the boundaries separate."""
    zoom = ax.inset_axes([0.1, 0.6, 0.36, 0.36])
    _scatter(zoom, res["samples"])
    _boundaries(zoom, res, kind, extent, label=False)
    zoom.set_xlim(centre - half, centre + half)
    zoom.set_ylim(centre - half, centre + half)
    zoom.set_aspect("equal")
    zoom.tick_params(labelsize=5, length=2, pad=1)
    zoom.set_title(f"zoom ×{(extent[1] - extent[0]) / (2 * half):.0f}", fontsize=6, pad=2)
    ax.indicate_inset_zoom(zoom, edgecolor="0.4")


def draw_fig2(res: dict):
    """Return the Figure 2 matplotlib figure drawn from ``res``; nothing is trained here.

    Each panel shows samples of both classes, the natural and adversarial boundaries and
    the theory's optimal linear boundaries (b_nat, b_rob), with a zoom on the region
    between the classes where they separate; the table below gives the class-wise errors.
    """
    extent = res["config"]["extent"]
    s = res["setting"]
    with style.use():
        fig = plt.figure(figsize=(style.DOUBLE, 5.8))
        grid = fig.add_gridspec(3, 2, height_ratios=[3.6, 0.45, 1.3], hspace=0.3, wspace=0.22)
        axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
        centre = -0.5 * (res["theory"]["b_nat"] + res["theory"]["b_rob"]) / 2
        half = 0.9
        for ax, kind, title in ((axes[0], "lr", "(a) Logistic regression"), (axes[1], "mlp", "(b) MLP")):
            _scatter(ax, res["samples"])
            _boundaries(ax, res, kind, extent)
            ax.set_title(title)
            ax.set_xlim(extent)
            ax.set_ylim(extent)
            ax.set_aspect("equal")
            ax.set_xlabel("$x_1$")
            ax.set_ylabel("$x_2$")
            _zoom(ax, res, kind, extent, centre, half)
        # one legend for both panels, in its own row: it never covers the boundaries
        legend_ax = fig.add_subplot(grid[1, :])
        legend_ax.axis("off")
        handles, labels = axes[0].get_legend_handles_labels()
        legend_ax.legend(handles, [lb.replace(" LR", "") for lb in labels], loc="center", ncol=3, frameon=False,
                         markerscale=3, handlelength=2.2)
        table_ax = fig.add_subplot(grid[2, :])
        table_ax.axis("off")
        header = ["class-wise error", "std, class −1", "std, class +1", "robust, class −1", "robust, class +1"]
        table = table_ax.table(cellText=_error_rows(res), colLabels=header, loc="center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(6.5)
        table.scale(1.0, 1.15)
        fig.suptitle(
            f"Figure 2: θ = ({s['eta']:g}, {s['eta']:g}), σ²₋₁ = {s['sigma'] ** 2:g}, σ²₊₁ = {(s['K'] * s['sigma']) ** 2:g}, "
            f"l∞ ε = {s['eps']:g}\nLR errors exact; MLP errors Monte Carlo on "
            f"{res['models']['mlp_natural']['n_per_class']:,} fresh points per class (± one standard error)",
            fontsize=8, y=0.97,
        )
    return fig
