"""Draw one registered figure: its results (cached, computed or read from run directories) -> ID.json,
ID.png, ID.pdf (and ID.md for a table) in a folder. ``frl figures`` and ``frl report`` call it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from deep.atomic_files import write_json, write_text

from . import style
from .results import BadResults

__all__ = ["draw_one"]


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
