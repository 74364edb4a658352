"""One place for the look of every figure: sizes, fonts, colours per class and per method.

Drawing functions take their colours and sizes from here and never set rcParams
themselves; :func:`use` applies the project's rcParams inside a context. No backend is chosen
here: a notebook shows the figures inline, the ``frl`` command line draws to files (it sets
``MPLBACKEND=Agg`` for itself), and :func:`save` writes PNG at ``DPI`` and vector PDF with a tight
bounding box whatever the caller's rcParams.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

# Column widths of an ICML paper, in inches.
SINGLE = 3.25
DOUBLE = 6.75
DPI = 200

# The two classes of the Gaussian model: the paper draws class +1 blue and class -1 yellow.
CLASS_COLOURS = {-1: "#E69F00", +1: "#0072B2"}
CLASS_LABELS = {-1: "class −1", +1: "class +1 (harder)"}

# Methods: the paper's Figure 2 uses green for natural and red for adversarial training.
METHOD_COLOURS = {
    "natural": "#009E73",
    "adversarial": "#D55E00",
    "pgd_at": "#D55E00",
    "trades": "#CC79A7",
    "theory_nat": "#1B5E20",
    "theory_rob": "#8B0000",
}
THEORY_STYLE = {"linestyle": (0, (4, 2)), "linewidth": 1.2}
MODEL_STYLE = {"linestyle": "-", "linewidth": 1.8}

# Claim maps: holds / fails.
HOLDS_COLOUR = "#CDE7D8"
FAILS_COLOUR = "#F4C7C3"

RC = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,
}


@contextlib.contextmanager
def use():
    """Apply the project's rcParams for the duration of a drawing.

    The interactive flag is kept as the drawing left it: in a notebook the backend is chosen lazily,
    at the first figure, and switches interactive mode on; restoring the flag from before would keep
    every later figure from showing inline.
    """
    with plt.rc_context(RC):
        try:
            yield
        finally:
            interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def save(fig, out_dir, name, close: bool = True) -> list[Path]:
    """Write ``name``.png (``DPI``) and ``name``.pdf (vector) into out_dir, tightly cropped; return the paths.
    A failure (a full disk) raises RunDirError and leaves the previous two files as they were.

    ``close=False`` leaves the figure open for the caller (e.g. to show it in a notebook).
    """
    from deep.atomic_files import replace_together, writing

    out = Path(out_dir)
    with writing(f"to {out}"):
        out.mkdir(parents=True, exist_ok=True)
    try:  # both written aside and renamed together: a full disk keeps the previous pair whole
        paths = replace_together({out / f"{name}.{ext}": (lambda tmp, ext=ext: save_as(fig, tmp, ext))
                                  for ext in ("png", "pdf")})
    finally:
        if close:
            plt.close(fig)
    return paths


def save_with_results(fig, out_dir, name: str, results: dict, markdown: str, figure_name: str | None = None) -> None:
    """``name``.json (``results``), ``name``.md (``markdown``) and the figure as ``figure_name``.png / .pdf (default
    ``name``), written as one set: all replaced, or on a failure (a full disk) all kept as they were and a
    RunDirError naming the file. The figure is closed."""
    import json

    from deep.atomic_files import replace_together

    out, stem = Path(out_dir), figure_name or name
    try:
        replace_together({out / f"{name}.json": lambda tmp: tmp.write_text(json.dumps(results, indent=2)),
                          out / f"{name}.md": lambda tmp: tmp.write_text(markdown),
                          **{out / f"{stem}.{ext}": (lambda tmp, ext=ext: save_as(fig, tmp, ext))
                             for ext in ("png", "pdf")}})
    finally:
        plt.close(fig)


def save_as(fig, path, fmt: str) -> None:
    """One file of ``fig`` in format ``fmt`` at ``path`` (any name, e.g. a temporary one), as :func:`save`."""
    with use():
        fig.savefig(path, format=fmt, dpi=DPI, bbox_inches="tight", pad_inches=0.03)


def close(fig) -> None:
    plt.close(fig)


def pct(x) -> str:
    """An error rate as a percentage with two decimals."""
    return f"{100 * float(x):.2f}%"
