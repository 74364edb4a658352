"""Results files -> the dicts the figure functions draw: the paper's published numbers and run
directories' ``eval.json``. Reading only; nothing here trains or evaluates."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

PAPER_NUMBERS = Path(__file__).with_name("data") / "paper_numbers.json"

__all__ = ["paper_numbers", "MissingResults", "summary_table", "ablation_fig3", "summary_of_eval"]


class MissingResults(Exception):
    """No results to draw from: the message names what is missing and the command that makes it."""


@lru_cache(maxsize=1)
def paper_numbers() -> dict:
    """The paper's tables (error %), as one data file."""
    return json.loads(PAPER_NUMBERS.read_text())


def _read_eval(run_dir: Path):
    path = run_dir / "eval.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def summary_of_eval(res: dict) -> list[float]:
    """[avg std, worst std, avg bndy, worst bndy, avg rob, worst rob] in % from an eval.json."""
    return [100 * res[g][k] for k in ("std_error", "bndy_error", "rob_error") for g in ("avg", "worst")]


def summary_table(table_id: str, runs) -> dict:
    """Rows of Table 2 / 3 / 7 / 8: the paper's numbers and ours from RUNS/<table>/<run>/eval.json."""
    spec = paper_numbers()["tables"][table_id]
    group = Path(runs) / table_id
    rows, missing = [], []
    for r in spec["rows"]:
        res = _read_eval(group / r["run"])
        if res is None:
            missing.append(r["run"])
        rows.append({"row": r["row"], "run": r["run"], "paper": r["values"],
                     "ours": summary_of_eval(res) if res else None})
    if len(missing) == len(rows):
        raise MissingResults(f"no {table_id} runs in {group}: make them with `frl run configs/paper/{table_id}/"
                             f"<row>.toml --runs {runs}`, first pgd_at.toml (rows: {', '.join(missing)})")
    return {"table": table_id, "title": spec["title"], "columns": paper_numbers()["columns"], "rows": rows,
            "missing": missing, "runs": str(group)}


def ablation_fig3(runs) -> dict:
    """Figure 3: the ablation runs RUNS/weight_<f>/ and RUNS/margin_<f>/ made by `frl ablation fig3`."""
    root = Path(runs)
    meta_path = root / "ablation.json"
    if not meta_path.exists():
        raise MissingResults(f"no Figure 3 ablation in {root}: make it with "
                             f"`frl ablation fig3 --class CLASS --init PGD_AT_RUN --out {root}`")
    meta = json.loads(meta_path.read_text())
    out = {"class": meta["class"], "class_index": meta["class_index"], "dataset": meta["dataset"]}
    for group in ("weight", "margin"):
        pts = []
        for f in meta[f"{group}s"]:
            res = _read_eval(root / f"{group}_{f:g}")
            if res is not None:
                i = meta["class_index"]
                pts.append({"factor": f, "std_error": res["std_error"][i], "bndy_error": res["bndy_error"][i],
                            "rob_error": res["rob_error"][i]})
        out[group] = pts
    if not out["weight"] and not out["margin"]:
        raise MissingResults(f"the ablation in {root} has no evaluated runs yet: rerun `frl ablation fig3 ... "
                             f"--out {root}` (it resumes)")
    return out
