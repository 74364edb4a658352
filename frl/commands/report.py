"""``frl report RUNS --out report.html``: every figure and table that has results, paper vs ours, in one page.

Draws each registered figure whose results exist (theory figures always; ``fig2`` when a
cached ``fig2.json`` sits in the assets folder; the rest from the run directories under
RUNS), embeds the images, the paper-vs-ours tables and the settings of the runs used, and
names what is missing with the command that makes it. ``--out`` ending in ``.md`` writes
Markdown with image links instead of a self-contained HTML page.
"""

from __future__ import annotations

from pathlib import Path

from deep.atomic_files import write_text
from deep.errors import RunDirError

from ..errors import UserError

from ..parsing import path

PROG = "frl report"


def register(sub) -> None:
    p = sub.add_parser("report", help="one page with every available figure and table, paper vs ours",
                       description=__doc__.splitlines()[0])
    p.add_argument("runs", help="root of the run directories (as used with frl run --runs)")
    p.add_argument("--out", type=path, default="report.html", help="report.html (self-contained) or report.md")
    p.set_defaults(func=run)


def run(args) -> int:
    from figures.report import build_report, render_html, render_markdown

    runs = Path(args.runs)
    if not runs.is_dir():
        raise UserError(f"{args.runs} is not a directory of runs", prog=PROG)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        rep = build_report(runs, out)
        text = render_markdown(rep, runs, out) if out.suffix == ".md" else render_html(rep, runs)
        write_text(out, text)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}", prog=PROG) from None
    except RunDirError as exc:
        raise UserError(str(exc), prog=PROG) from None
    print(f"{out}: {len(rep['sections'])} figures and tables, {len(rep['missing'])} not available")
    return 0
