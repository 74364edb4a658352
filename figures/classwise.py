"""Class-wise figures and tables: Figures 1, 5, 6, 7 (natural vs PGD-AT vs TRADES), Figure 4
(randomized smoothing), Tables 1, 4, 5, 6 (natural vs PGD-AT and their difference)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import style

__all__ = ["draw_audit_figure", "draw_classwise_figure", "draw_smoothing_figure", "draw_classwise_table", "classwise_table_markdown"]

METHOD_LABELS = {"natural": "natural", "pgd_at": "PGD-AT", "trades_1": "TRADES 1/λ=1", "trades_6": "TRADES 1/λ=6"}
METHOD_STYLE = {"natural": style.METHOD_COLOURS["natural"], "pgd_at": style.METHOD_COLOURS["pgd_at"],
                "trades_1": "#F0A3C9", "trades_6": style.METHOD_COLOURS["trades"]}


def _bars(ax, class_names, series, colours):
    k = len(class_names)
    width = 0.8 / max(len(series), 1)
    for j, (label, values) in enumerate(series):
        ax.bar(np.arange(k) + (j - (len(series) - 1) / 2) * width, 100 * np.asarray(values), width,
               label=label, color=colours[j])
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels(class_names, rotation=45, ha="right")


def draw_classwise_figure(res: dict):
    """Two panels (standard, robust error), bars per class and method; the paper's natural / PGD-AT values as ticks."""
    names = res["class_names"]
    methods = [m for m in METHOD_LABELS if m in res["methods"]]
    with style.use():
        fig, axes = plt.subplots(1, 2, figsize=(style.DOUBLE, 2.8), sharey=False)
        for ax, key, title in ((axes[0], "std_error", "standard error"), (axes[1], "rob_error", "robust error")):
            _bars(ax, names, [(METHOD_LABELS[m], res["methods"][m][key]) for m in methods],
                  [METHOD_STYLE[m] for m in methods])
            paper = res.get("paper")
            if paper:
                width = 0.8 / max(len(methods), 1)
                for m in ("natural", "pgd_at"):
                    if m in methods:
                        j = methods.index(m)
                        x = np.arange(len(names)) + (j - (len(methods) - 1) / 2) * width
                        ax.scatter(x, paper[key][m], marker="_", s=60, color="k", zorder=3,
                                   label="paper" if m == "natural" else None)
            ax.set_title(title)
            ax.set_ylabel("error (%)")
        axes[0].legend(frameon=False, ncol=2)
        fig.suptitle(f"Figure {res['figure'][3:]}: {res['title']}", fontsize=8)
        fig.tight_layout()
    return fig


def draw_audit_figure(res: dict):
    """One eval.json of ``frl audit``: standard and robust error per class (PGD, and AutoAttack where scored),
    and, for AutoAttack, its gap to PGD per class (a large positive gap flags gradient masking)."""
    names = res.get("class_names") or [str(i) for i in range(len(res["rob_error"]))]
    frac = (lambda v: [np.nan if x is None else x for x in v])
    aa = res.get("attack", {}).get("name") == "autoattack"
    pgd = res["pgd"] if aa else res
    series = [("standard", frac(res["std_error"])), (f"PGD-{pgd['attack']['steps']}", frac(pgd["rob_error"]))]
    if aa:
        series.append(("AutoAttack", frac(res["rob_error"])))
    with style.use():
        fig, axes = plt.subplots(1, 2 if aa else 1, figsize=(style.DOUBLE if aa else style.SINGLE, 2.6), squeeze=False)
        _bars(axes[0, 0], names, series, ["0.75", style.METHOD_COLOURS["pgd_at"], style.METHOD_COLOURS["trades"]])
        axes[0, 0].set_ylabel("error (%)")
        axes[0, 0].legend(frameon=False, ncol=len(series), fontsize=6)
        axes[0, 0].set_title("class-wise error")
        if aa:
            gap = [np.nan if g is None else 100 * g for g in res["gap_autoattack_minus_pgd"]]
            axes[0, 1].bar(np.arange(len(names)), gap, color="0.4")
            axes[0, 1].axhline(0, color="k", lw=0.5)
            axes[0, 1].set_xticks(np.arange(len(names)), names, rotation=45, ha="right")
            axes[0, 1].set_ylabel("AutoAttack - PGD (points)")
            axes[0, 1].set_title("robust error gap")
        fig.suptitle(f"{res.get('run', 'model')}: {sum(res['n_per_class'])} test images", fontsize=8)
        fig.tight_layout()
    return fig


def draw_smoothing_figure(res: dict):
    """Figure 4: certified standard error and certified robust error at the radius, per class, one bar per sigma."""
    names = res["class_names"]
    entries = res["entries"]
    colours = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, len(entries)))
    with style.use():
        fig, axes = plt.subplots(1, 2, figsize=(style.DOUBLE, 2.8))
        for ax, key, title in ((axes[0], "certified_std_error", "certified standard error"),
                               (axes[1], "certified_error", f"certified robust error (l2 radius {entries[0]['radius']:g})")):
            _bars(ax, names, [(f"σ = {e['sigma']:g}", e[key]) for e in entries], list(colours))
            ax.set_title(title)
            ax.set_ylabel("error (%)")
        axes[0].legend(frameon=False)
        fig.suptitle("Figure 4: randomized smoothing (Cohen et al., 2019), class-wise", fontsize=8)
        fig.tight_layout()
    return fig


def classwise_table_markdown(res: dict) -> str:
    lines = [f"**{res['table']}**: {res['title']} (error %, paper / ours)", "",
             "| | | " + " | ".join(res["classes"]) + " |", "|---|---|" + "---|" * len(res["classes"])]
    for r in res["rows"]:
        ours = r["ours"] if r["ours"] is not None else [None] * len(r["paper"])
        cells = [f"{p:.1f} / {'—' if o is None else f'{o:.1f}'}" for p, o in zip(r["paper"], ours)]
        lines.append(f"| {r['metric']} | {r['row']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SHORT_ROWS = {"Natural Training": "natural", "PGD Adv. Training": "PGD-AT", "Diff. (Adv - Nat.)": "diff."}


def draw_classwise_table(res: dict):
    """Rows: standard / robust error of natural training, PGD-AT and their difference; cells 'paper / ours'."""
    body = []
    for r in res["rows"]:
        ours = r["ours"] if r["ours"] is not None else [None] * len(r["paper"])
        label = f"{'std' if r['metric'].startswith('Std') else 'rob'} {SHORT_ROWS[r['row']]}"
        body.append([label, *[f"{p:.1f} / {'—' if o is None else f'{o:.1f}'}" for p, o in zip(r["paper"], ours)]])
    k = len(res["classes"])
    with style.use():
        fig, ax = plt.subplots(figsize=(max(style.DOUBLE, 1.0 + 0.85 * k), 0.3 * (len(body) + 3)))
        ax.axis("off")
        table = ax.table(cellText=body, colLabels=["paper / ours (%)", *res["classes"]], loc="center",
                         cellLoc="center", colWidths=[0.13] + [0.87 / k] * k)
        table.auto_set_font_size(False)
        table.set_fontsize(6)
        table.scale(1.0, 1.25)
        ax.set_title(f"Table {res['table'][5:]}: {res['title']}", fontsize=7)
    return fig
