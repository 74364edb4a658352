"""``frl figures``: draw the paper's figures (and the project's theory figures) from results files."""

from __future__ import annotations

from pathlib import Path

from deep.errors import UsageError

from ..errors import UserError
from ..parsing import path, whole

PROG = "frl figures"


def register(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="draw figures and tables from results (computing cheap or cached results as needed)",
        description="Draw a figure: writes OUT/ID.png, OUT/ID.pdf and its results OUT/ID.json.",
    )
    p.add_argument("id", nargs="?", help="figure id (see --list), or 'all' for every figure that has results")
    p.add_argument("--list", action="store_true", help="list every figure and table id and exit")
    p.add_argument("--out", type=path, default="results/figures", help="output folder (default results/figures)")
    p.add_argument("--recompute", action="store_true", help="ignore cached OUT/ID.json and recompute")
    p.add_argument("--seed", type=whole, default=0, help="seed of the simulation behind fig2 (default 0)")
    p.add_argument("--runs", type=path, default="runs", help="run directories for figures and tables drawn from runs "
                                                  "(default runs; for fig3 the ablation's --out)")
    p.set_defaults(func=run)


def run(args) -> int:
    from figures.draw import draw_one
    from figures.registry import FIGURES
    from figures.results import MissingResults

    if args.list:
        for spec in FIGURES.values():
            print(f"{spec.id:<24} {spec.title}")
        return 0
    if not args.id:
        raise UserError("name a figure id, 'all', or --list", prog=PROG)
    if args.id != "all" and args.id not in FIGURES:
        raise UserError(f"unknown figure id {args.id!r}; known: {', '.join(FIGURES)} (or 'all')", prog=PROG)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {args.out}: {exc.strerror}", prog=PROG) from None
    if args.id == "all":
        for spec in FIGURES.values():
            try:
                paths = draw_one(spec, out, args.seed, args.recompute, args.runs, compute_missing=False)
            except (MissingResults, UsageError) as exc:  # one bad or missing input never stops the others
                print(f"{spec.id}: skipped, {' '.join(str(exc).split())}")
                continue
            if paths is None:
                print(f"{spec.id}: skipped, no results in {out} (make them with `frl figures {spec.id} --out {out}`)")
            else:
                print(f"{spec.id}: {', '.join(str(p) for p in paths)}")
        return 0
    try:
        paths = draw_one(FIGURES[args.id], out, args.seed, args.recompute, args.runs)
    except MissingResults as exc:
        raise UserError(str(exc), prog=PROG) from None
    print("\n".join(str(p) for p in paths))
    return 0
