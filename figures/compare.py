"""Robust-fairness methods compared over seeds: accuracy mean ± std and the rho metric against a base.

Input: RUNS/<method>/<seed run>/eval.json (or RUNS/<method>/eval.json for one seed). Accuracies are
1 - error of the eval files (clean: standard error; robust: PGD, PGD-20 by default; and AutoAttack
where the eval file is one, ``frl eval --attack autoattack``, which holds its PGD-20 numbers too),
average over examples and worst class. rho (DAFA, Lee et al., ICLR 2024) per accuracy type:

    rho = (worst - worst_base) / worst_base - (avg_base - avg) / avg_base,

from the seed means, against the base method (TRADES in the published table): the relative gain of
the worst class minus the relative loss of the average. The published numbers (DAFA's table) sit
beside ours, from ``figures/data/paper_numbers.json`` ("later_methods").
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from deep.evaluate import decode_examples
from deep.run_dir import RunDir, RunDirError

from . import style
from .intervals import paired_change, result_intervals, significance
from .results import MissingResults, paper_numbers

__all__ = ["compare_runs", "save_compare", "rho", "compare_markdown", "draw_compare", "published_key", "reproductions",
           "reproductions_markdown"]

KEYS = ("clean_avg", "clean_worst", "rob_avg", "rob_worst")


def rho(avg, worst, avg_base, worst_base) -> float | None:
    """(worst - worst_base) / worst_base - (avg_base - avg) / avg_base; None when the base's accuracy is 0."""
    if worst_base <= 0 or avg_base <= 0:
        return None
    return (worst - worst_base) / worst_base - (avg_base - avg) / avg_base


def published_key(method: str) -> str:
    """The row of the published table a run folder stands for (frl_reweight_remargin -> frl)."""
    return "frl" if method.startswith("frl") else method.split("_")[0]


AA_KEYS = ("aa_avg", "aa_worst")


def _pgd_part(res: dict) -> dict:
    """The PGD errors of an eval file: the file itself, or its ``pgd`` entry when it is an AutoAttack file."""
    return res["pgd"] if res.get("attack", {}).get("name") == "autoattack" and "pgd" in res else res


def _accuracies(res: dict) -> dict:
    """Clean and PGD accuracies (average, worst class) and, for an AutoAttack file, AutoAttack's."""
    pgd = _pgd_part(res)
    out = {"clean_avg": 1 - res["avg"]["std_error"], "clean_worst": 1 - res["worst"]["std_error"],
           "rob_avg": 1 - pgd["avg"]["rob_error"], "rob_worst": 1 - pgd["worst"]["rob_error"]}
    if pgd is not res:
        out.update(aa_avg=1 - res["avg"]["rob_error"], aa_worst=1 - res["worst"]["rob_error"])
    return out


def _seed_evals(folder: Path, where: dict | None = None, seeds=None, missing: list | None = None) -> dict:
    """{seed run name: eval dict} of one method folder (the folder itself when it holds the eval);
    ``where``, if given, receives {seed run name: its run directory}. ``seeds`` (whole numbers): only the
    runs seed_N of those. ``missing``, if given, receives the names of the runs (folders that hold a run,
    or seed_N asked for) without an eval.json, which are left out."""
    own = RunDir(folder).read_eval()
    if seeds is not None:
        runs = [folder / f"seed_{n}" for n in seeds]
    elif own is not None:
        runs = [folder]
    else:
        runs = sorted(p for p in folder.iterdir() if p.is_dir())
        if not runs and RunDir(folder).holds_run():
            runs = [folder]
    found = {}
    for d in runs:
        res = RunDir(d).read_eval() if d.is_dir() else None
        if res is not None:
            found[d.name] = (d, res)
        elif missing is not None and (seeds is not None or RunDir(d).holds_run() or d.name.startswith("seed_")):
            missing.append(d.name)
    if where is not None:
        where.update({name: d for name, (d, _) in found.items()})
    return {name: r for name, (_, r) in found.items()}


def _what_was_scored(run_dir: Path, res: dict) -> dict:
    """What must be the same for two evals to be averaged or compared: data set, split, class count, attack."""
    cfg = RunDir(run_dir).read_config() if RunDir(run_dir).config_path.exists() else {}
    pgd = _pgd_part(res)
    attack = pgd.get("attack") if isinstance(pgd.get("attack"), dict) else {}
    return {"dataset": (cfg or {}).get("dataset") or res.get("dataset"), "split": res.get("split", "test"),
            "classes": len(res.get("rob_error") or []),
            "attack": (attack.get("name", "pgd"), attack.get("norm"), attack.get("eps"), attack.get("steps"))}


def _check_rates(path: Path, res: dict) -> None:
    """Every error a fraction in [0, 1] (None: a class without examples)."""
    values = [res.get(g, {}).get(k) for g in ("avg", "worst") for k in ("std_error", "rob_error")]
    values += [v for k in ("std_error", "rob_error") for v in (res.get(k) or [])]
    pgd = _pgd_part(res)
    if pgd is not res:
        values += [pgd.get(g, {}).get("rob_error") for g in ("avg", "worst")]
    for part in {id(res): res, id(pgd): pgd}.values():
        if not isinstance(part.get("n_per_class"), list):
            raise RunDirError(f"{path}/eval.json has no n_per_class (the class counts its intervals need): score "
                              f"the run again with frl eval")
    bad = [v for v in values if v is not None and not (isinstance(v, (int, float)) and 0 <= v <= 1)]
    if bad:
        raise RunDirError(f"{path}/eval.json holds an error of {bad[0]!r}, not a fraction in [0, 1]: it is not "
                          f"averaged")


def _check_comparable(methods: dict, where: dict) -> None:
    """One line naming both files where two evals differ in data set, split, class count or attack."""
    first = None
    for name, evals in methods.items():
        for seed, res in evals.items():
            path = where[(name, seed)]
            _check_rates(path, res)
            scored = _what_was_scored(path, res)
            if first is None:
                first = (path, scored)
                continue
            for key, value in scored.items():
                ref = first[1][key]
                if key == "dataset" and (value is None or ref is None):
                    continue  # an eval copied without its run: nothing to compare it with
                if value != ref:
                    raise RunDirError(f"{first[0]}/eval.json and {path}/eval.json were not scored alike ({key}: "
                                      f"{ref!r} against {value!r}); compare evals of one data set, split and attack")


def _class_means(rows) -> list:
    """Per class, the mean over seeds of the errors that exist (None: a class without examples in every seed)."""
    out = []
    for values in zip(*rows):
        known = [v for v in values if v is not None]
        out.append(float(np.mean(known)) if known else None)
    return out


def compare_runs(runs, base: str, seeds=None) -> dict:
    """Per method: accuracies per seed, mean and std (fractions), rho_nat / rho_rob against ``base``.

    ``seeds`` (whole numbers): compare only the runs seed_N of those. Runs without an eval.json (a seed
    still training, one asked for that is not there) are left out and listed in ``missing``
    ({method: [run names]}), never dropped without a word."""
    root = Path(runs)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    where, methods, missing = {}, {}, {}
    for f in folders:
        places, absent = {}, []
        if ev := _seed_evals(f, places, seeds, absent):
            methods[f.name] = ev
            where.update({(f.name, seed): d for seed, d in places.items()})
        if absent:
            missing[f.name] = absent
    methods = {name: methods[name] for name in sorted(methods, key=lambda n: (n != base, n))}  # the base first
    if base not in methods:
        raise MissingResults(f"no evaluated runs of the base method {base!r} in {root} (expected "
                             f"{root}/{base}/<seed>/eval.json); methods found: {', '.join(methods) or 'none'}")
    _check_comparable(methods, where)
    out = {}
    for name, evals in methods.items():
        per_seed = [_accuracies(r) for r in evals.values()]
        keys = KEYS + (AA_KEYS if all("aa_avg" in a for a in per_seed) else ())  # AutoAttack: on every seed
        acc = {k: [a[k] for a in per_seed] for k in keys}
        out[name] = {"seeds": list(evals), "n": len(evals), "per_seed": acc,
                     "mean": {k: float(np.mean(v)) for k, v in acc.items()},
                     "std": {k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in acc.items()},
                     "rob_error_per_class": _class_means([_pgd_part(r)["rob_error"] for r in evals.values()]),
                     "attack": next(iter(evals.values())).get("attack", {}).get("name", "pgd"),
                     # which model each seed's eval scored: last, best, or averaged (CFA's weight average)
                     "checkpoints": sorted({r.get("checkpoint", "last") for r in evals.values()})}
    _add_intervals(out, methods, base)
    b = out[base]["mean"]
    for m in out.values():
        mean = m["mean"]
        m["rho_nat"] = rho(mean["clean_avg"], mean["clean_worst"], b["clean_avg"], b["clean_worst"])
        m["rho_rob"] = rho(mean["rob_avg"], mean["rob_worst"], b["rob_avg"], b["rob_worst"])
        both = "aa_avg" in mean and "aa_avg" in b
        m["rho_aa"] = rho(mean["aa_avg"], mean["aa_worst"], b["aa_avg"], b["aa_worst"]) if both else None
    names = next(iter(methods[base].values())).get("class_names")
    return {"base": base, "runs": str(root), "methods": out, "class_names": names,
            "seeds_asked": None if seeds is None else list(seeds), "missing": missing,
            "published": _published(), "reproductions": reproductions()}


def _add_intervals(out: dict, methods: dict, base: str) -> None:
    """Per method and seed: 95 % intervals of the PGD robust accuracy (average: Clopper-Pearson; worst class:
    simultaneous Clopper-Pearson over the classes) and, where both files carry per-example outcomes, the paired change of each against
    the base's run of the same seed; ``significant``: "up" / "down" where that change's interval excludes 0
    on every seed, else "no" (:mod:`figures.intervals`). Accuracy fractions."""
    for name, evals in methods.items():
        m = out[name]
        m["intervals"], m["paired"] = {}, {}
        for seed, res in evals.items():
            pgd = _pgd_part(res)
            iv = result_intervals(pgd)["rob_error"]
            m["intervals"][seed] = {"rob_avg": [1 - iv["avg"][1], 1 - iv["avg"][0]],
                                    "rob_worst": [1 - iv["worst"][1], 1 - iv["worst"][0]]}
            ref = methods[base].get(seed)
            if name == base or ref is None or "examples" not in pgd or "examples" not in _pgd_part(ref):
                continue
            try:
                labels, _, wrong_b = decode_examples(pgd["examples"])
                labels_a, _, wrong_a = decode_examples(_pgd_part(ref)["examples"])
            except ValueError as exc:
                raise RunDirError(f"{name}/{seed} or {base}/{seed}: an unreadable examples record ({exc})") from None
            if not np.array_equal(labels, labels_a):
                raise RunDirError(f"{name}/{seed} and {base}/{seed} were not scored on the same test examples; "
                                  f"a paired change needs one test set")
            ch = paired_change(labels, wrong_a, wrong_b, len(pgd["n_per_class"]))
            # accuracy change = minus the error change; the interval flips with it
            m["paired"][seed] = {k: [-ch[w][0], -ch[w][2], -ch[w][1]] for k, w in (("rob_avg", "avg"),
                                                                                    ("rob_worst", "worst"))}
        if name != base and m["paired"] and len(m["paired"]) == len(evals):
            m["significant"] = {k: significance(p[k] for p in m["paired"].values()) for k in ("rob_avg", "rob_worst")}


def reproductions() -> list[dict]:
    """Independent reproductions of FRL (paper_numbers.json ``independent_reproductions``), each with its
    source, model, attack, checkpoint rule and seeds, and FRL's change of accuracy against TRADES there."""
    out = []
    for e in paper_numbers().get("independent_reproductions", {}).get("entries", []):
        rows, frl = e["rows"], e["rows"].get("frl")
        trades = rows.get("trades")
        delta = ({k: round(frl[k] - trades[k], 2) for k in ("rob_avg", "rob_worst")} if frl and trades else None)
        out.append({**e, "frl_minus_trades": delta})
    return out


def reproductions_markdown(entries: list[dict]) -> str:
    """The reproductions as a table: one line per row of each source (accuracy %)."""
    if not entries:
        return ""
    lines = ["", "Independent reproductions of FRL on CIFAR-10 (accuracy %, from figures/data/paper_numbers.json; "
             "not our runs):", "", "| source | model | attack | checkpoint | seeds | row | clean avg / worst | "
             "rob avg / worst | FRL − TRADES rob avg / worst |", "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        d = e["frl_minus_trades"]
        for name, r in e["rows"].items():
            change = f"{d['rob_avg']:+.2f} / {d['rob_worst']:+.2f}" if d and name == "frl" else ""
            lines.append(f"| {e['id']} | {e['model']} | {e['attack']} | {e['checkpoint']} | {e['seeds'] or '?'} | "
                         f"{name} | {r['clean_avg']:.2f} / {r['clean_worst']:.2f} | {r['rob_avg']:.2f} / "
                         f"{r['rob_worst']:.2f} | {change} |")
    return "\n".join(lines) + "\n"


def _published() -> dict:
    spec = paper_numbers().get("later_methods", {})
    acc = spec.get("accuracy", {})
    base = acc.get(spec.get("base", "trades"))
    rows = {}
    for key, a in acc.items():
        rows[key] = {**a, "rho_nat": rho(a["clean_avg"], a["clean_worst"], base["clean_avg"], base["clean_worst"]),
                     "rho_rob": rho(a["rob_avg"], a["rob_worst"], base["rob_avg"], base["rob_worst"])}
    return {"source": spec.get("source"), "rows": rows}


def _signed(value) -> str:
    return "— (base accuracy 0)" if value is None else f"{value:+.3f}"


def compare_markdown(res: dict) -> str:
    """One row per method: ours (mean ± std over seeds, %; robust: PGD, and AutoAttack where every seed has
    it) and the published numbers, rho against the base."""
    aa = any("aa_avg" in m["mean"] for m in res["methods"].values())
    head = "| method | seeds | model | clean avg | clean worst | rob avg | rob worst |"
    head += " AA avg | AA worst |" if aa else ""
    head += " ρ_nat | ρ_rob |" + (" ρ_AA |" if aa else "") + " published rob avg / worst, ρ_rob |"
    lines = [f"Accuracy (%), mean ± std over seeds; rob: the eval files' PGD{', AA: AutoAttack' if aa else ''}; "
             f"rho against {res['base']}. Published: {res['published']['source']}", "", head,
             "|" + "---|" * (head.count("|") - 1)]
    for name, m in res["methods"].items():
        keys = KEYS + (AA_KEYS if aa else ())
        cells = [f"{100 * m['mean'][k]:.2f} ± {100 * m['std'][k]:.2f}" if k in m["mean"] else "—" for k in keys]
        rhos = [_signed(m["rho_nat"]), _signed(m["rho_rob"])] + ([_signed(m.get("rho_aa")) if m.get("rho_aa")
                                                                  is not None else "—"] if aa else [])
        pub = res["published"]["rows"].get(published_key(name))
        ref = f"{pub['rob_avg']:.2f} / {pub['rob_worst']:.2f}, {pub['rho_rob']:.2f}" if pub else "—"
        lines.append(f"| {name} | {m['n']} | {' / '.join(m.get('checkpoints', ['last']))} | " + " | ".join(cells)
                     + " | " + " | ".join(rhos) + f" | {ref} |")
    if res.get("seeds_asked") is not None:
        lines.append(f"\nSeeds asked for: {', '.join(map(str, res['seeds_asked']))}.")
    for method, names in (res.get("missing") or {}).items():
        lines.append(f"\nLeft out, without eval.json: {method}: {', '.join(names)}.")
    return "\n".join(lines) + "\n" + _intervals_markdown(res) + reproductions_markdown(res.get("reproductions", []))


def _change_cell(change, sig) -> str:
    text = f"{100 * change[0]:+.2f} [{100 * change[1]:+.2f}, {100 * change[2]:+.2f}]"
    return f"**{text}**" if sig in ("up", "down") else text


def _intervals_markdown(res: dict) -> str:
    """Per method and seed: robust accuracy with its 95 % interval, and the paired change against the base."""
    if not any(m.get("intervals") for m in res["methods"].values()):
        return ""
    lines = ["", f"Per seed, PGD robust accuracy (%) with 95 % intervals (avg: Clopper-Pearson, worst class: "
             f"simultaneous Clopper-Pearson over the classes) and the change of the accuracy against "
             f"{res['base']} on the same test images (paired bootstrap; worst class: approximate); **bold**: the "
             f"interval excludes 0 on every seed.", "",
             "| method | seed | rob avg | rob worst | Δ rob avg | Δ rob worst |", "|---|---|---|---|---|---|"]
    for name, m in res["methods"].items():
        sig = m.get("significant", {})
        for seed, iv in m.get("intervals", {}).items():
            i = m["per_seed"]["rob_avg"][m["seeds"].index(seed)], m["per_seed"]["rob_worst"][m["seeds"].index(seed)]
            p = m.get("paired", {}).get(seed)
            ch = ["" if p is None else _change_cell(p[k], sig.get(k)) for k in ("rob_avg", "rob_worst")]
            lines.append(f"| {name} | {seed} | {100 * i[0]:.2f} [{100 * iv['rob_avg'][0]:.2f}, "
                         f"{100 * iv['rob_avg'][1]:.2f}] | {100 * i[1]:.2f} [{100 * iv['rob_worst'][0]:.2f}, "
                         f"{100 * iv['rob_worst'][1]:.2f}] | " + " | ".join(ch) + " |")
    return "\n".join(lines) + "\n"


def draw_compare(res: dict):
    """Class-wise robust accuracy (mean over seeds) per method, with each method's rho_rob in the legend."""
    methods = list(res["methods"])
    first = res["methods"][methods[0]]["rob_error_per_class"]
    names = res["class_names"] or [str(i) for i in range(len(first))]
    k, width = len(names), 0.8 / max(len(methods), 1)
    with style.use():
        fig, ax = plt.subplots(figsize=(style.DOUBLE, 2.6))
        for j, name in enumerate(methods):
            m = res["methods"][name]
            acc = 100 * (1 - np.array([np.nan if v is None else v for v in m["rob_error_per_class"]], dtype=float))
            ax.bar(np.arange(k) + (j - (len(methods) - 1) / 2) * width, acc, width,
                   label=f"{name} (ρ_rob {_signed(m['rho_rob'])}, {m['n']} seed{'s' * (m['n'] > 1)})")
        ax.set_xticks(np.arange(k))
        ax.set_xticklabels(names)
        ax.set_ylabel("robust accuracy (%)")
        ax.set_title(f"Class-wise robust accuracy, mean over seeds (base: {res['base']})")
        ax.legend(frameon=False, fontsize=6.5, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.12))
        fig.tight_layout()
    return fig


def save_compare(out, res: dict) -> str:
    """compare.json, compare.md and compare.png / .pdf in ``out`` as one set
    (:func:`figures.style.save_with_results`); returns the Markdown table."""
    from pathlib import Path

    from deep.run_dir import RunDir

    from . import style

    md = compare_markdown(res)
    style.save_with_results(draw_compare(res), out, Path(RunDir.COMPARE).stem, res, md)
    return md
