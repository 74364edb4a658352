"""A staged pipeline over seeds (``frl run CONFIG --seeds 0 1 2`` with ``[run] summary = "<start>"``):
every stage's six numbers per seed with 95 % intervals, mean ± std over the seeds, and each stage's
paired change against the start with its interval, marked significant only where the interval
excludes 0 on every seed. Reads the stages' ``eval.json`` / ``eval_best.json``; never trains.

The reference of every change is the start's last model (the model each fine-tune began from); a
stage's changes are computed for its last and for its best (validation) checkpoint. Changes are
paired: both models were scored on the same test images (:func:`figures.intervals.paired_change`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deep.evaluate import decode_examples
from deep.run_dir import RunDir, RunDirError

from .ablation import SIX, SIX_LABELS, mean_std, six_numbers
from .intervals import LEVEL, paired_change, result_intervals, significance

__all__ = ["collect_seeds", "seeds_summary", "seeds_markdown", "write_seeds_summary", "CHANGES", "CHECKPOINTS"]

CHECKPOINTS = {"last": RunDir.EVAL, "best": "eval_best.json"}
# the changes reported against the start: (name, eval key, which flag array, "avg" or "worst")
CHANGES = (("worst_rob", "rob_error", "worst"), ("avg_rob", "rob_error", "avg"), ("avg_std", "std_error", "avg"),
           ("avg_bndy", "bndy_error", "avg"))


def collect_seeds(folder, stages) -> dict:
    """{stage: {checkpoint: {seed: eval dict}}} of the seed_N folders under ``folder``/<stage>/ that hold
    a result (a seed counts for a stage once its eval.json exists)."""
    out = {}
    for stage in stages:
        out[stage] = {which: {} for which in CHECKPOINTS}
        base = Path(folder) / stage
        for seed_dir in sorted(base.glob("seed_*"), key=lambda p: p.name):
            try:
                seed = int(seed_dir.name[5:])
            except ValueError:
                continue
            for which, name in CHECKPOINTS.items():
                try:
                    res = RunDir(seed_dir).read_eval(name)
                except RunDirError:
                    res = None
                if res is not None:
                    out[stage][which][seed] = res
    return out


def _flags(res: dict, key: str):
    try:
        labels, std_wrong, rob_wrong = decode_examples(res["examples"])
    except ValueError as exc:
        raise RunDirError(f"{res.get('run', 'an eval file')}: its examples record is unreadable ({exc})") from None
    if key == "std_error":
        return labels, std_wrong
    if key == "rob_error":
        return labels, rob_wrong
    return labels, rob_wrong & ~std_wrong  # boundary: right clean, wrong attacked


def _change(start: dict, res: dict, key: str, which: str, seed: int) -> list | None:
    """[change, lower, upper] in points of ``res`` against ``start`` (None without per-example outcomes)."""
    if "examples" not in start or "examples" not in res:
        return None
    labels_a, a = _flags(start, key)
    labels_b, b = _flags(res, key)
    if not np.array_equal(labels_a, labels_b):
        raise RunDirError(f"{res.get('run')} and {start.get('run')} were not scored on the same test examples; "
                          f"a paired change needs one test set")
    ch = paired_change(labels_a, a, b, len(start["n_per_class"]), seed=seed)[which]
    return [100 * v for v in ch]


def seeds_summary(folder, start: str, stages) -> dict:
    """The summary.json dict of a pipeline over seeds (module docstring); numbers in %."""
    found = collect_seeds(folder, stages)
    ref = found[start]["last"]
    out = {"start": start, "level": LEVEL, "units": "percent", "stages": {}}
    for stage in stages:
        out["stages"][stage] = {}
        for which, per_seed in found[stage].items():
            if not per_seed:
                continue
            seeds = sorted(per_seed)
            rows = {}
            for seed in seeds:
                res = per_seed[seed]
                iv = result_intervals(res)
                row = {"six": six_numbers(res), "epoch": res.get("epoch"),
                       "interval": {"avg_rob": [100 * v for v in iv["rob_error"]["avg"]],
                                    "worst_rob": [100 * v for v in iv["rob_error"]["worst"]],
                                    "avg_std": [100 * v for v in iv["std_error"]["avg"]],
                                    "worst_std": [100 * v for v in iv["std_error"]["worst"]]}}
                if stage != start and seed in ref:
                    row["change"] = {name: _change(ref[seed], res, key, kind, seed) for name, key, kind in CHANGES}
                rows[str(seed)] = row
            stats = {k: mean_std([rows[str(s)]["six"][k] for s in seeds]) for k in SIX}
            entry = {"seeds": seeds, "per_seed": rows, "mean": {k: v[0] for k, v in stats.items()},
                     "std": {k: v[1] for k, v in stats.items()}}
            if stage != start:
                entry["change_mean"], entry["significant"] = {}, {}
                for name, _, _ in CHANGES:
                    ch = [rows[str(s)].get("change", {}).get(name) for s in seeds]
                    if all(c is not None for c in ch) and ch:
                        entry["change_mean"][name] = mean_std([c[0] for c in ch])
                        entry["significant"][name] = significance(ch)
            out["stages"][stage][which] = entry
    return out


def _fmt(mean, std, n, sign="") -> str:
    return f"{mean:{sign}.1f}" + (f" ± {std:.1f}" if n > 1 else "")


def _fmt_change(ms, sig, n) -> str:
    text = _fmt(ms[0], ms[1], n, "+")
    return f"**{text}**" if sig in ("up", "down") else text


def seeds_markdown(summary: dict, title: str = "", attack: str = "PGD-20") -> str:
    """summary.md of :func:`seeds_summary`: tables of the last and the best checkpoint."""
    start = summary["start"]
    lines = [f"## {title}" if title else "## pipeline over seeds", "",
             f"Test split, {attack}, error rates in %; mean ± std over the seeds (n = number of seeds). Δ: change "
             f"of the error against `{start}` (its eval.json model, where every fine-tune began), paired on the "
             f"same test images (negative: fewer errors); **bold**: the {int(100 * summary['level'])} % interval "
             f"of the change excludes 0 on every seed (significant)."]
    for which in CHECKPOINTS:
        stages = {k: v[which] for k, v in summary["stages"].items() if which in v}
        if not stages:
            continue
        lines += ["", f"### {which} checkpoint", "",
                  "| stage | n | " + " | ".join(SIX_LABELS) + " | Δ worst rob | Δ avg rob | Δ avg std | Δ avg bndy |",
                  "|" + "---|" * (len(SIX) + 6)]
        for name, e in stages.items():
            n = len(e["seeds"])
            cells = [_fmt(e["mean"][k], e["std"][k], n) for k in SIX]
            ch = [_fmt_change(e["change_mean"][c], e["significant"][c], n) if c in e.get("change_mean", {}) else ""
                  for c, _, _ in CHANGES]
            lines.append(f"| {name} | {len(e['seeds'])} | " + " | ".join(cells) + " | " + " | ".join(ch) + " |")
        lines += ["", f"Per seed ({which}), with 95 % intervals: avg rob [Clopper-Pearson], worst rob [simultaneous "
                  "Clopper-Pearson over the classes], Δ [paired bootstrap; worst class: approximate]:", "",
                  "| stage | seed | epoch | avg std | avg rob | worst rob | Δ worst rob | Δ avg rob | Δ avg std | "
                  "Δ avg bndy |", "|" + "---|" * 10]
        for name, e in stages.items():
            for seed in e["seeds"]:
                r = e["per_seed"][str(seed)]
                iv, six = r["interval"], r["six"]
                ch = r.get("change", {})
                chs = ["" if ch.get(c) is None else f"{ch[c][0]:+.1f} [{ch[c][1]:+.1f}, {ch[c][2]:+.1f}]"
                       for c, _, _ in CHANGES]
                ep = "" if r["epoch"] is None else r["epoch"] + 1
                lines.append(f"| {name} | {seed} | {ep} | {six['avg_std']:.1f} | {six['avg_rob']:.1f} "
                             f"[{iv['avg_rob'][0]:.1f}, {iv['avg_rob'][1]:.1f}] | {six['worst_rob']:.1f} "
                             f"[{iv['worst_rob'][0]:.1f}, {iv['worst_rob'][1]:.1f}] | " + " | ".join(chs) + " |")
    return "\n".join(lines) + "\n"


def write_seeds_summary(folder, start: str, stages, title: str = "") -> Path:
    """summary.json and summary.md of the seeds so far, beside the stages; returns summary.json's path."""
    summary = seeds_summary(folder, start, stages)
    return RunDir(folder).write_summary(summary, seeds_markdown(summary, title))
