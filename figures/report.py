"""The one-page report of ``frl report``: every registered figure and table that has results (paper vs
ours), what is missing with the command that makes it, and the settings of the runs, as HTML or Markdown."""

from __future__ import annotations

import base64
import html
from pathlib import Path

__all__ = ["SETTINGS", "build_report", "render_html", "render_markdown"]

# the settings shown per run (a method's own setting only for the methods that read it)
SETTINGS = ("dataset", "model", "method", "norm", "eps", "epochs", "lr", "batch_size", "beta", "tau1", "tau2",
            "frl_variant", "sigma", "init", "seed", "git_commit")


def _run_settings(runs_dir: Path) -> list[dict]:
    from deep.run_dir import RunDir

    rows = []
    for cfg_path in sorted(runs_dir.glob(f"**/{RunDir.CONFIG}")):
        cfg = RunDir(cfg_path.parent).read_json(RunDir.CONFIG)
        if cfg is None:
            continue
        rows.append({"run": str(cfg_path.parent.relative_to(runs_dir)),
                     **{k: cfg.get(k) if _applies(k, cfg.get("method")) else None for k in SETTINGS}})
    return rows


def _applies(setting: str, method) -> bool:
    """A method's own setting (beta, tau1, sigma, ...) is shown only for the methods that read it."""
    from deep import methods

    own = {s for name in methods.names() for s in methods.get(name).settings}
    return setting not in own or (method in methods.names() and setting in methods.get(method).settings)


def build_report(runs, out: Path) -> dict:
    """Draw every available figure into OUT's assets folder; returns {"sections", "missing", "settings"}."""
    from deep.errors import UsageError
    from .registry import FIGURES
    from .results import MissingResults

    from .draw import draw_one

    runs = Path(runs)
    assets = out.parent / (out.stem + "_assets")
    assets.mkdir(parents=True, exist_ok=True)
    sections, missing = [], []
    for spec in FIGURES.values():
        try:
            paths = draw_one(spec, assets, 0, False, str(runs), compute_missing=False)
        except (MissingResults, UsageError) as exc:  # one bad or missing input never stops the report
            missing.append((spec.id, " ".join(str(exc).split())))
            continue
        if paths is None:
            missing.append((spec.id, f"no cached results: make them with `frl figures {spec.id} --out {assets}`"))
            continue
        png = next(p for p in paths if p.suffix == ".png")
        md = next((p.read_text() for p in paths if p.suffix == ".md"), None)
        sections.append({"id": spec.id, "title": spec.title, "png": png, "markdown": md})
    return {"sections": sections, "missing": missing, "settings": _run_settings(runs)}


def _md_table_to_html(md: str) -> str:
    lines = [l for l in md.splitlines() if l.startswith("|") and not set(l) <= set("|-")]
    out = []
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip("|").split("|")]
        tag = "th" if i == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def render_html(rep: dict, runs) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>FRL report</title><style>",
             "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}</style></head><body>",
             f"<h1>Robust fairness report: {html.escape(str(runs))}</h1>",
             "<p>Each figure and table of the paper that has results; tables show <b>paper / ours</b> (error %).</p>"]
    for s in rep["sections"]:
        data = base64.b64encode(s["png"].read_bytes()).decode()
        parts.append(f"<h2 id='{s['id']}'>{html.escape(s['title'])}</h2><img src='data:image/png;base64,{data}'>")
        if s["markdown"]:
            parts.append(_md_table_to_html(s["markdown"]))
    parts.append("<h2>Not available yet</h2><ul>")
    parts += [f"<li><b>{fid}</b>: {html.escape(msg)}</li>" for fid, msg in rep["missing"]]
    parts.append("</ul><h2>Run settings</h2>")
    if rep["settings"]:
        keys = list(rep["settings"][0])
        parts.append("<table><tr>" + "".join(f"<th>{k}</th>" for k in keys) + "</tr>")
        for r in rep["settings"]:
            parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(r[k]))}</td>" for k in keys) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell(value) -> str:
    """A settings cell: a setting that does not apply to the run's method (None) is blank."""
    return "" if value is None else str(value)


def render_markdown(rep: dict, runs, out: Path) -> str:
    parts = [f"# Robust fairness report: {runs}", "", "Tables show **paper / ours** (error %).", ""]
    for s in rep["sections"]:
        parts += [f"## {s['title']}", "", f"![{s['id']}]({s['png'].relative_to(out.parent)})", ""]
        if s["markdown"]:
            parts += [s["markdown"], ""]
    parts += ["## Not available yet", ""] + [f"- **{fid}**: {msg}" for fid, msg in rep["missing"]]
    parts += ["", "## Run settings", ""]
    if rep["settings"]:
        keys = list(rep["settings"][0])
        parts += ["| " + " | ".join(keys) + " |", "|---" * len(keys) + "|"]
        parts += ["| " + " | ".join(_cell(r[k]) for k in keys) + " |" for r in rep["settings"]]
    return "\n".join(parts) + "\n"
