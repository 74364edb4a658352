"""``frl figures``: draw the paper's figures (and the project's theory figures) from results files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from deep.errors import UsageError
from deep.atomic_files import write_json, write_text

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


def _cached(path: Path, seed: int):
    if not path.exists():
        return None
    try:
        res = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    cfg = res.get("config", {})
    return res if cfg.get("seed", seed) == seed else None


def draw_one(spec, out: Path, seed: int, recompute: bool, runs: str, compute_missing: bool = True):
    """Results (cached, computed or read from runs) -> OUT/ID.json, .png, .pdf (and .md for tables).

    Returns the written paths, or None if the figure was skipped (no cached simulation with
    ``compute_missing=False``). Raises MissingResults when runs are missing.
    """
    from figures import style

    from figures.results import BadResults

    json_path = out / f"{spec.id}.json"
    res = _cached(json_path, seed) if spec.source == "simulation" and not recompute else None
    source = json_path if res is not None else (runs if spec.source != "simulation" else None)
    try:
        if res is None:
            if spec.source == "simulation" and not compute_missing:
                return None
            t0 = time.perf_counter()
            res = spec.compute(seed=seed, runs=runs,
                               progress=lambda msg: print(f"{spec.id}: {msg}", file=sys.stderr, flush=True))
            if spec.source == "simulation":
                print(f"{spec.id}: computed in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        figure = spec.draw(res)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if source is None:  # computed here, not read: a bug, with its traceback
            raise
        raise BadResults(f"{spec.id}: the results in {source} are not what it draws from "
                         f"({type(exc).__name__}: {exc})") from exc
    write_json(json_path, res, indent=None)
    paths = [json_path, *style.save(figure, out, spec.id)]
    if spec.markdown is not None:
        md = out / f"{spec.id}.md"
        write_text(md, spec.markdown(res) + "\n")
        paths.append(md)
    if res.get("missing"):
        print(f"{spec.id}: runs missing in {res.get('runs')}: {', '.join(res['missing'])}", file=sys.stderr)
    return paths


def run(args) -> int:
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
