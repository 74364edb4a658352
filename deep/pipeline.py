"""Runs described by TOML files: train (resumably), evaluate, and optionally certify, stage by stage.

A config has a ``[run]`` table (``name``, and ``table`` to group runs) and a ``[train]`` table
whose keys are :class:`~deep.config.TrainConfig` settings (the ``frl train`` flags without the
dashes: ``lr_step_every = 40`` is ``--lr-step-every 40``; ``eps = "8/255"`` is parsed like the
flag). ``init`` names another run of the same group. The run goes to RUNS/<table>/<name>/ and ends
with ``eval.json`` (PGD-20, the paper's evaluation).

A pipeline instead has ``[[stage]]`` tables, each with ``name`` and ``[stage.train]``, run in
order into RUNS/<table>/<name>/<stage>/ (``init`` names an earlier stage); ``summary.json`` there
collects every stage's six numbers. ``checkpoint = "best"`` in ``[run]`` or a ``[[stage]]``
evaluates the checkpoint with the lowest validation robust error instead of the last.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .config import TrainConfig
from .errors import ConfigError, RunDirError
from .run_dir import RunDir
from .runs import certify_run, evaluate_run, six_numbers, train_run

__all__ = ["load_pipeline", "stages", "stage_config", "run_stage", "run_pipeline", "parse_overrides"]


def load_pipeline(path) -> dict:
    """The TOML file as a dict, checked for ``[run] name`` and a ``[train]`` table or ``[[stage]]`` tables."""
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"no config file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    single = isinstance(cfg.get("train"), dict)
    staged = isinstance(cfg.get("stage"), list) and all(isinstance(s, dict) and "name" in s and
                                                         isinstance(s.get("train"), dict) for s in cfg["stage"])
    if not isinstance(cfg.get("run"), dict) or "name" not in cfg["run"] or not (single or staged):
        raise ConfigError(f"{path} needs [run] name = ... and a [train] table (or [[stage]] tables with name and "
                          f"[stage.train])")
    return cfg


def stages(cfg: dict) -> list[dict]:
    """A config as a list of single runs: itself, or one per ``[[stage]]`` grouped under its name."""
    if "stage" not in cfg:
        return [cfg]
    group = f"{cfg['run'].get('table', '')}/{cfg['run']['name']}".strip("/")
    return [{"run": {"name": s["name"], "table": group, "row": s.get("row"), "checkpoint": s.get("checkpoint", "last")},
             "train": s["train"],
             **({"certify": s["certify"]} if "certify" in s else {})} for s in cfg["stage"]]


def parse_overrides(items) -> dict:
    """``KEY=VALUE`` items as a dict of TOML values (a bare word is taken as a string)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--train-set {item!r}: expected KEY=VALUE, e.g. epochs=1")
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value.strip()
    return out


def run_dir_of(part: dict, runs) -> RunDir:
    return RunDir(Path(runs) / part["run"].get("table", "") / part["run"]["name"])


def stage_config(part: dict, runs, device=None, data_dir=None, download=False, where="") -> TrainConfig:
    """The TrainConfig of one run or stage: its [train] table, placed under RUNS, resumable."""
    group = Path(runs) / part["run"].get("table", "")
    settings = dict(part["train"])
    if settings.get("init"):
        settings["init"] = str(group / settings["init"])
    settings.update(out=str(run_dir_of(part, runs).path), resume=True)
    for key, value in (("device", device), ("data_dir", data_dir)):
        if value:
            settings[key] = value
    if download:
        settings["download"] = True
    return TrainConfig.from_mapping(settings, where=where or "[train]")


def run_stage(part: dict, runs, device=None, data_dir=None, download=False, source="", log=print) -> dict:
    """Train, evaluate (PGD-20, eval.json) and, with a [certify] table, certify one run; returns its eval."""
    init = part["train"].get("init")
    group = Path(runs) / part["run"].get("table", "")
    if init and not RunDir(group / init).checkpoint_path.exists():
        raise RunDirError(f"{source or 'the config'} starts from run {init!r}, which is missing in {group}: "
                          f"run its config first (frl run {Path(source).with_name(init + '.toml')})")
    cfg = stage_config(part, runs, device, data_dir, download, where=f"[train] of {source}" if source else "")
    rd = train_run(cfg, log=log)
    res = evaluate_run(rd.path, steps=20, device=device, data_dir=data_dir,
                       checkpoint=part["run"].get("checkpoint", "last"))
    res["config_file"] = str(source)
    res["row"] = part["run"].get("row")
    log(f"{rd.write_eval(res)}")
    if "certify" in part and rd.read_certify() is None:
        c = part["certify"]
        if "sigma" not in c:
            raise ConfigError(f"[certify] of {source}: sigma is required")
        cert = certify_run(rd.path, c["sigma"], c.get("radius", 0.5), c.get("n", 100_000), c.get("n0", 100),
                           c.get("alpha", 0.001), limit=c.get("limit"), device=device, data_dir=data_dir)
        log(f"{rd.write_certify(cert)}")
    return res


def run_pipeline(path, runs="runs", device=None, data_dir=None, download=False, overrides=None,
                 log=print, markdown=None) -> dict:
    """Every run or stage of a TOML file, in order; returns {stage name: eval dict}.

    ``overrides`` ({setting: value}) replaces settings in every stage (``frl run --train-set``).
    A staged pipeline also writes ``summary.json`` (six numbers per stage) beside its stages, and
    ``summary.md`` = ``markdown(evals)`` when a ``markdown`` function is given (the command line
    passes :func:`figures.pipeline.pipeline_markdown`).
    """
    parts = stages(load_pipeline(path))
    for part in parts:
        part["train"] = {**part["train"], **(overrides or {})}
    evals = {p["run"]["name"]: run_stage(p, runs, device, data_dir, download, source=str(path), log=log)
             for p in parts}
    if len(parts) > 1:
        group = RunDir(Path(runs) / parts[0]["run"]["table"])
        group.write_summary({name: six_numbers(res) for name, res in evals.items()},
                            markdown(evals) if markdown is not None else None)
        log(f"{group.path / RunDir.SUMMARY}" + (f", {RunDir.SUMMARY_MD}" if markdown is not None else ""))
    return evals
