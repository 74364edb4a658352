"""Tables 2, 3, 7, 8: average and worst-class errors, the paper's numbers beside ours."""

from __future__ import annotations

import matplotlib.pyplot as plt

from . import style

__all__ = ["draw_summary_table", "summary_table_markdown"]

HEADER = ["avg std", "worst std", "avg bndy", "worst bndy", "avg rob", "worst rob"]


def _cells(values):
    return ["—"] * 6 if values is None else [f"{v:.1f}" for v in values]


def summary_table_markdown(res: dict) -> str:
    lines = [f"**{res['table']}**: {res['title']} (error %, paper / ours)", "",
             "| method | " + " | ".join(HEADER) + " |", "|---" * 7 + "|"]
    for r in res["rows"]:
        pairs = [f"{p} / {o}" for p, o in zip(_cells(r["paper"]), _cells(r["ours"]))]
        lines.append(f"| {r['row']} | " + " | ".join(pairs) + " |")
    return "\n".join(lines)


def draw_summary_table(res: dict):
    """One row per method; each cell 'paper / ours' (ours '—' where the run is missing)."""
    with style.use():
        fig, ax = plt.subplots(figsize=(style.DOUBLE + 0.5, 0.3 * (len(res["rows"]) + 3)))
        ax.axis("off")
        body = [[r["row"].replace("lambda", "λ"), *[f"{p} / {o}" for p, o in zip(_cells(r["paper"]), _cells(r["ours"]))]]
                for r in res["rows"]]
        table = ax.table(cellText=body, colLabels=["paper / ours (%)", *HEADER], loc="center",
                         cellLoc="center", colWidths=[0.28] + [0.12] * 6)
        table.auto_set_font_size(False)
        table.set_fontsize(6.5)
        table.scale(1.0, 1.2)
        ax.set_title(f"Table {res['table'][5:]}: {res['title']}", fontsize=8)
    return fig
