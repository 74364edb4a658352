"""Results files -> the dicts the figure functions draw: the paper's published numbers and run
directories' ``eval.json``. Reading only; nothing here trains or evaluates."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from deep.errors import RunDirError
from deep.run_dir import RunDir

PAPER_NUMBERS = Path(__file__).with_name("data") / "paper_numbers.json"
DEMO = RunDir.DEMO  # written by `frl demo` beside its runs
# metrics keys of the per-class weights a method logs, looked for in this order: FRL (and Baseline
# Reweight), WAT, DAFA
WEIGHT_KEYS = ("class_weights", "wat_weights", "dafa_weights")

__all__ = ["paper_numbers", "MissingResults", "BadResults", "demo_figure", "summary_table", "ablation_fig3", "summary_of_eval", "classwise_figure",
           "smoothing_figure", "classwise_table", "controller_trace", "WEIGHT_KEYS"]


class MissingResults(Exception):
    """No results to draw from: the message names what is missing and the command that makes it."""


class BadResults(MissingResults):
    """A results file is there but not what its figure needs: the message names the file and the fault."""


@lru_cache(maxsize=1)
def paper_numbers() -> dict:
    """The paper's tables (error %), as one data file."""
    return json.loads(PAPER_NUMBERS.read_text())


def _read_eval(run_dir: Path):
    """A run's eval.json, or None when it has none (yet) or it is unreadable."""
    return RunDir(run_dir).read_eval()


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
    if not (root / RunDir.ABLATION).exists() and (root / "fig3" / RunDir.ABLATION).exists():
        root = root / "fig3"  # a runs root holding the ablation in fig3/
    meta = RunDir(root).read_json(RunDir.ABLATION)
    if meta is None:
        raise MissingResults(f"no Figure 3 ablation in {root}: make it with "
                             f"`frl ablation fig3 --class CLASS --init PGD_AT_RUN --out {root}`")
    _check_ablation(meta, root / RunDir.ABLATION)
    out = {"class": meta["class"], "class_index": meta["class_index"], "dataset": meta["dataset"]}
    for group in ("weight", "margin"):
        pts = []
        shared = meta.get("same_run_as", {}) if group == "margin" else {}
        for f in meta[f"{group}s"]:
            # factor 1 of both groups is one run, trained once (frl ablation fig3 records it; JSON keys are text)
            res = _read_eval(root / (shared.get(str(f)) or shared.get(f"{f:g}") or f"{group}_{f:g}"))
            if res is not None:
                i = meta["class_index"]
                if i >= len(res["std_error"]) or res["std_error"][i] is None:
                    raise BadResults(f"{root / f'{group}_{f:g}' / RunDir.EVAL} has no errors of class {i}")
                pts.append({"factor": f, "std_error": res["std_error"][i], "bndy_error": res["bndy_error"][i],
                            "rob_error": res["rob_error"][i]})
        out[group] = pts
    if not out["weight"] and not out["margin"]:
        raise MissingResults(f"the ablation in {root} has no evaluated runs yet: rerun `frl ablation fig3 ... "
                             f"--out {root}` (it resumes)")
    return out


def _check_ablation(meta, path) -> None:
    def numbers(v):
        return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)

    ok = (isinstance(meta, dict) and isinstance(meta.get("class"), str) and isinstance(meta.get("class_index"), int)
          and meta["class_index"] >= 0 and numbers(meta.get("weights")) and numbers(meta.get("margins")))
    if not ok:
        raise BadResults(f"{path} is not an ablation design (it needs class, class_index, weights and margins)")


# --- class-wise figures and tables (Figures 1, 4-7; Tables 1, 4-6) -------------------------------

CLASSWISE_FIGURES = {
    # figure id: (runs group, title, paper table with natural / PGD-AT values or None)
    "fig1": ("fig1", "Class-wise standard / robust error, CIFAR-10, PreAct-ResNet18 (l_inf 8/255)", "table4"),
    "fig5": ("fig5", "Class-wise standard / robust error, CIFAR-10, WRN-28-10 (l_inf 8/255)", "table5"),
    "fig6": ("fig6", "Class-wise standard / robust error, CIFAR-10, PreAct-ResNet18 (l2 0.5)", None),
    "fig7": ("fig7", "Class-wise standard / robust error, SVHN, PreAct-ResNet18 (l_inf 8/255)", "table6"),
}
FIGURE_METHODS = ("natural", "pgd_at", "trades_1", "trades_6")
CLASSWISE_TABLES = {"table1": "fig1", "table4": "fig1", "table5": "fig5", "table6": "fig7"}


def _missing_runs(group_dir: Path, names, fig_id):
    return MissingResults(f"no {fig_id} runs in {group_dir}: make them with `frl run configs/paper/{group_dir.name}/"
                          f"<name>.toml --runs {group_dir.parent}` for <name> in {', '.join(names)}")


def classwise_figure(fig_id: str, runs) -> dict:
    """Class-wise standard and robust errors of natural training, PGD-AT and TRADES from RUNS/<fig>/<method>/."""
    group, title, paper_table = CLASSWISE_FIGURES[fig_id]
    group_dir = Path(runs) / group
    methods, missing, names = {}, [], None
    for m in FIGURE_METHODS:
        res = _read_eval(group_dir / m)
        if res is None:
            missing.append(m)
            continue
        names = res.get("class_names") or names
        methods[m] = {"std_error": res["std_error"], "rob_error": res["rob_error"], "attack": res.get("attack")}
    if not methods:
        raise _missing_runs(group_dir, FIGURE_METHODS, fig_id)
    paper = None
    if paper_table:
        t = paper_numbers()["tables"][paper_table]
        paper = {"std_error": t["std_error"], "rob_error": t["rob_error"], "classes": t["classes"]}
    return {"figure": fig_id, "title": title, "class_names": names, "methods": methods, "missing": missing,
            "runs": str(group_dir), "paper": paper}


def smoothing_figure(runs) -> dict:
    """Figure 4: class-wise certified standard / robust errors of randomized smoothing, one run per sigma."""
    group_dir = Path(runs) / "fig4"
    entries = []
    for d in sorted(group_dir.glob("*")) if group_dir.is_dir() else []:
        res = RunDir(d).read_certify()
        if res is not None:
            entries.append({"run": d.name, "sigma": res["sigma"], "radius": res["radius"],
                            "certified_std_error": res["certified_std_error"],
                            "certified_error": res["certified_error"], "class_names": res.get("class_names")})
    if not entries:
        raise MissingResults(f"no fig4 runs in {group_dir}: make them with `frl run configs/paper/fig4/"
                             f"gaussian_0.25.toml --runs {runs}` (and gaussian_0.5, gaussian_1.0)")
    entries.sort(key=lambda e: e["sigma"])
    return {"figure": "fig4", "title": "Randomized smoothing on CIFAR-10: class-wise certified errors",
            "class_names": entries[0]["class_names"], "entries": entries, "runs": str(group_dir)}


def classwise_table(table_id: str, runs) -> dict:
    """Tables 1, 4, 5, 6: class-wise errors of natural training and PGD-AT and their difference, paper and ours."""
    spec = paper_numbers()["tables"][table_id]
    group_dir = Path(runs) / CLASSWISE_TABLES[table_id]
    ours = {m: _read_eval(group_dir / m) for m in ("natural", "pgd_at")}
    if all(v is None for v in ours.values()):
        raise _missing_runs(group_dir, ("natural", "pgd_at"), table_id)
    # the paper's column names -> class indices of our runs (Table 1 shows four CIFAR-10 classes)
    cifar_short = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    if table_id == "table1":
        idx = [cifar_short.index(c) for c in spec["classes"]]
    else:
        idx = list(range(len(spec["classes"])))
    rows = []
    for key, label in (("std_error", "Std. Error"), ("rob_error", "Rob. Error")):
        for m, name in (("natural", "Natural Training"), ("pgd_at", "PGD Adv. Training")):
            res = ours[m]
            rows.append({"metric": label, "row": name, "paper": spec[key][m],
                         "ours": None if res is None else [100 * res[key][i] for i in idx]})
        nat, adv = rows[-2], rows[-1]
        rows.append({"metric": label, "row": "Diff. (Adv - Nat.)",
                     "paper": [round(a - b, 1) for a, b in zip(adv["paper"], nat["paper"])],
                     "ours": None if nat["ours"] is None or adv["ours"] is None
                     else [a - b for a, b in zip(adv["ours"], nat["ours"])]})
    return {"table": table_id, "title": spec["title"], "classes": spec["classes"], "rows": rows,
            "missing": [m for m, v in ours.items() if v is None], "runs": str(group_dir)}


def demo_figure(runs) -> dict:
    """The demo's class-wise errors: RUNS/demo.json names the methods, RUNS/<method>/eval.json holds them."""
    root = Path(runs)
    meta = RunDir(root).read_json(DEMO)
    if meta is None:
        raise MissingResults(f"no demo in {root}: make it with `frl demo --out {root}`")
    if not isinstance(meta, dict) or not isinstance(meta.get("methods"), list):
        raise BadResults(f"{root / DEMO} is not the record of a demo (it needs a list of methods)")
    labels = meta.get("labels") or {}
    methods, names = {}, None
    for m in ["pgd_at", *meta["methods"]]:
        res = _read_eval(root / m)
        if res is None:
            continue
        names = res.get("class_names") or names or [str(i) for i in range(len(res["std_error"]))]
        methods[m] = {"label": labels.get(m, m), **{k: res[k] for k in ("std_error", "bndy_error", "rob_error")}}
    if not methods:
        raise MissingResults(f"the demo in {root} has no evaluated runs yet: rerun `frl demo --out {root}` (it resumes)")
    return {"title": f"frl demo: digits, seed {meta.get('seed', 0)}, {meta.get('frl_epochs', '?')} fine-tuning epochs "
                     f"from a {meta.get('pretrain_epochs', '?')}-epoch PGD-AT start (test split)",
            "class_names": names, "methods": methods, "runs": str(root)}


def _run_dirs(root: Path) -> list[Path]:
    """root itself if it holds a metrics.jsonl, else its runs one or two folders down (stage/seed_N)."""
    if (root / RunDir.METRICS).exists():
        return [root]
    found = sorted(root.glob(f"*/{RunDir.METRICS}")) + sorted(root.glob(f"*/*/{RunDir.METRICS}"))
    return [p.parent for p in found]


def _class_values(lines, key, k, where):
    """[[value per class] per line] of ``key`` (None kept for a class without images); BadResults if ragged."""
    rows = [[None if v is None else float(v) for v in line[key]] for line in lines]
    if any(len(r) < k for r in rows):
        raise BadResults(f"{where}: {key} has fewer than {k} classes on some validation line")
    return rows


def _controller_run(run: Path, label: str) -> dict | None:
    """One run's validation lines (the last line of an epoch kept) -> its trace; None with < 2 epochs."""
    from .controller import swing

    rd = RunDir(run)
    by_epoch = {r["epoch"]: r for r in rd.read_metrics() if r.get("split") == "val" and isinstance(r.get("epoch"), int)}
    lines = [by_epoch[t] for t in sorted(by_epoch)]
    if len(lines) < 2:
        return None
    try:
        method = rd.read_config().get("method")
    except RunDirError:
        method = None
    where = str(rd.metrics_path)
    try:
        k = len(lines[0]["std_error"])
        std = _class_values(lines, "std_error", k, where)
        rob = _class_values(lines, "rob_error", k, where)
        key = next((w for w in WEIGHT_KEYS if all(isinstance(line.get(w), list) for line in lines)), None)
        weights = _class_values(lines, key, k, where) if key else None
        sw = swing(std)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadResults(f"{where}: a validation line lacks class-wise errors ({type(exc).__name__}: {exc})") from None
    names = lines[-1].get("class_names") or [str(c) for c in range(k)]
    eps = [line["eps_class"] for line in lines] if all(isinstance(line.get("eps_class"), list) for line in lines) else None
    return {"run": label, "method": method, "epochs": [int(line["epoch"]) for line in lines], "class_names": names,
            "std_error": std, "rob_error": rob, "weights": weights, "weights_key": key, "eps_class": eps, "swing": sw}


def controller_trace(runs) -> dict:
    """Every run under ``runs`` (a run directory, or folders of them) with two or more validated epochs:
    class-wise validation errors, the method's class weights where every line logs them, and
    :func:`figures.controller.swing` of the standard errors."""
    root = Path(runs)
    found = [(p, str(p.relative_to(root)) if p != root else p.name) for p in _run_dirs(root)]
    traces = [t for t in (_controller_run(p, label) for p, label in found) if t]
    if not traces:
        raise MissingResults(f"no run with two or more validated epochs in {root} (a metrics.jsonl with "
                             "split 'val' lines; train one with `frl train --val-per-class N`)")
    return {"title": f"class-wise validation standard error and class weights per epoch: {root}",
            "runs": traces, "source": str(root)}
