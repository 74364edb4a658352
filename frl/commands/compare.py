"""``frl compare RUNS --base trades --out DIR``: methods over seeds, mean ± std accuracy and rho against a base."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError

from ..parsing import path, whole

PROG = "frl compare"


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare methods over seeds: accuracy mean ± std and rho against a base",
                       description="Reads RUNS/<method>/<seed run>/eval.json; writes DIR/compare.json, compare.md and "
                                   "compare.png (class-wise robust accuracy), with the published DAFA-table numbers.")
    p.add_argument("runs", help="folder of method folders, each holding one run directory per seed")
    p.add_argument("--base", default="trades", help="the base method folder for rho (default trades)")
    p.add_argument("--out", type=path, default=None, help="output folder (default RUNS)")
    p.add_argument("--seeds", type=whole, nargs="+", default=None, metavar="N",
                   help="compare only the runs seed_N of these seeds (default: every run with an eval.json)")
    p.set_defaults(func=run)


def write_compare(runs, base: str, out=None, show=print, seeds=None) -> dict:
    """Compare the method folders of ``runs`` against ``base``; write compare.json, .md and .png to ``out``
    (default ``runs``); ``show`` gets the table and the paths. UserError for a missing base or an unwritable out."""
    from deep.run_dir import RunDirError
    from figures.compare import compare_runs, save_compare
    from figures.results import MissingResults

    try:
        res = compare_runs(runs, base, seeds)
    except MissingResults as exc:
        raise UserError(str(exc), prog=PROG) from None
    out = Path(out or runs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {out}: {exc.strerror}", prog=PROG) from None
    try:
        md = save_compare(out, res)
    except RunDirError as exc:
        raise UserError(str(exc), prog=PROG) from None
    show(md)
    for method, names in res["missing"].items():
        show(f"note: {method}: {', '.join(names)} without eval.json, left out")
    show(f"{out}/compare.json, compare.md, compare.png")
    return res


def run(args) -> int:
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: give each seed once", prog=PROG)
    write_compare(args.runs, args.base, args.out, seeds=args.seeds)
    return 0
