"""``frl figures``: draw the paper's figures (and the project's theory figures) from results files."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..parsing import whole

PROG = "frl figures"


def register(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="draw figures and tables from results (computing cheap or cached results as needed)",
        description="Draw a figure: writes OUT/ID.png, OUT/ID.pdf and its results OUT/ID.json.",
    )
    p.add_argument("id", nargs="?", help="figure id (see --list), or 'all' for every figure that has results")
    p.add_argument("--list", action="store_true", help="list every figure and table id and exit")
    p.add_argument("--out", default="results/figures", help="output folder (default results/figures)")
    p.add_argument("--recompute", action="store_true", help="ignore cached OUT/ID.json and recompute")
    p.add_argument("--seed", type=whole, default=0, help="seed of the simulation behind fig2 (default 0)")
    p.set_defaults(func=run)


def _atomic_write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
    os.replace(tmp, path)


def _cached(path: Path, seed: int):
    if not path.exists():
        return None
    try:
        res = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    cfg = res.get("config", {})
    return res if cfg.get("seed", seed) == seed else None


def draw_one(spec, out: Path, seed: int, recompute: bool, compute_missing: bool = True):
    """Results (cached or computed) -> OUT/ID.json, .png, .pdf. Returns the paths or None if skipped."""
    from figures import style

    json_path = out / f"{spec.id}.json"
    res = None if (spec.cheap or recompute) else _cached(json_path, seed)
    if res is None:
        if not compute_missing:
            return None
        t0 = time.perf_counter()
        res = spec.compute(seed=seed, progress=lambda msg: print(f"{spec.id}: {msg}", file=sys.stderr, flush=True))
        if not spec.cheap:
            print(f"{spec.id}: computed in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        _atomic_write_json(json_path, res)
    return [json_path, *style.save(spec.draw(res), out, spec.id)]


def run(args) -> int:
    from figures.registry import FIGURES

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
            paths = draw_one(spec, out, args.seed, args.recompute, compute_missing=spec.cheap)
            if paths is None:
                print(f"{spec.id}: skipped, no results in {out} (make them with `frl figures {spec.id} --out {out}`)")
            else:
                print(f"{spec.id}: {', '.join(str(p) for p in paths)}")
        return 0
    paths = draw_one(FIGURES[args.id], out, args.seed, args.recompute)
    print("\n".join(str(p) for p in paths))
    return 0
