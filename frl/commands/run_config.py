"""``frl run CONFIG``: train (resumably) and evaluate one run described by a TOML file.

A config has a ``[run]`` table (``name``, and ``table`` to group runs) and a ``[train]`` table
whose keys are ``frl train`` flags without the dashes (``lr_step_every = 40`` is
``--lr-step-every 40``). ``init`` names another run of the same group. The run goes to
RUNS/<table>/<name>/ and ends with ``eval.json`` (PGD-20, the paper's evaluation).

A pipeline instead has ``[[stage]]`` tables, each with ``name`` and ``[stage.train]``, run in
order into RUNS/<table>/<name>/<stage>/ (``init`` names an earlier stage); ``summary.json``
and ``summary.md`` there collect every stage's avg / worst errors, the change of each stage
against the first, and the class-wise errors. ``checkpoint = "best"`` in ``[run]`` or a
``[[stage]]`` evaluates the checkpoint with the lowest validation robust error instead of the last.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from ..errors import UserError
from ..jsonio import write_json

PROG = "frl run"
# flags of `frl train` that can be switched off (``compile = false`` is ``--no-compile``)
NEGATABLE = frozenset({"progress", "fast", "compile", "eval_random_start"})


def register(sub) -> None:
    p = sub.add_parser("run", help="train and evaluate the run a TOML config describes (resumable)",
                       description=__doc__.splitlines()[0])
    p.add_argument("config", help="TOML file, e.g. configs/paper/table2/pgd_at.toml")
    p.add_argument("--runs", default="runs", help="root of the run directories (default runs)")
    p.add_argument("--device", default=None, help="cpu or cuda (default cpu)")
    p.add_argument("--data-dir", default=None, help="dataset location")
    p.add_argument("--download", action="store_true", help="download the dataset into --data-dir")
    p.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one [train] key in every stage (repeatable; a TOML value or a bare word, e.g. "
                        "epochs=1 or model=small_cnn); for quick trials, the run directories record it")
    p.set_defaults(func=run)


def overrides(items) -> dict:
    """``--train-set KEY=VALUE`` items as a dict of TOML values (a bare word is taken as a string)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--train-set {item!r}: expected KEY=VALUE, e.g. epochs=1", prog=PROG)
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value.strip()
    return out


def stages(cfg: dict) -> list[dict]:
    """A config as a list of single runs: itself, or one per ``[[stage]]`` grouped under its name."""
    if "stage" not in cfg:
        return [cfg]
    group = f"{cfg['run'].get('table', '')}/{cfg['run']['name']}".strip("/")
    return [{"run": {"name": s["name"], "table": group, "row": s.get("row"), "checkpoint": s.get("checkpoint", "last")},
             "train": s["train"],
             **({"certify": s["certify"]} if "certify" in s else {})} for s in cfg["stage"]]


def load_config(path) -> dict:
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"no config file {path}", prog=PROG) from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}", prog=PROG) from None
    single = isinstance(cfg.get("train"), dict)
    staged = isinstance(cfg.get("stage"), list) and all("name" in s and isinstance(s.get("train"), dict)
                                                         for s in cfg["stage"])
    if "name" not in cfg.get("run", {}) or not (single or staged):
        raise UserError(f"{path} needs [run] name = ... and a [train] table (or [[stage]] tables with name and "
                        f"[stage.train])", prog=PROG)
    return cfg


def run_dir_of(cfg: dict, runs) -> Path:
    return Path(runs) / cfg["run"].get("table", "") / cfg["run"]["name"]


def train_argv(cfg: dict, runs, device=None, data_dir=None, download=False) -> list[str]:
    """The ``frl train`` arguments that the config stands for."""
    group = Path(runs) / cfg["run"].get("table", "")
    argv = []
    for key, value in cfg["train"].items():
        flag = "--" + key.replace("_", "-")
        if key == "init":
            value = str(group / value)
        if isinstance(value, bool):
            if value:
                argv.append(flag)
            elif key in NEGATABLE:
                argv.append("--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    argv += ["--out", str(run_dir_of(cfg, runs)), "--resume"]
    if device:
        argv += ["--device", device]
    if data_dir:
        argv += ["--data-dir", data_dir]
    if download:
        argv.append("--download")
    return argv


def run(args) -> int:
    import json

    extra = overrides(args.train_set)
    cfg = load_config(args.config)
    parts = stages(cfg)
    for part in parts:
        part["train"] = {**part["train"], **extra}
    for part in parts:
        code = run_one(part, args)
        if code != 0:
            return code
    if len(parts) > 1:
        from figures.pipeline import pipeline_markdown

        from .demo import summarise

        group = Path(args.runs) / parts[0]["run"]["table"]
        evals = {p["run"]["name"]: json.loads((group / p["run"]["name"] / "eval.json").read_text()) for p in parts}
        write_json(group / "summary.json", {name: summarise(res) for name, res in evals.items()}, PROG)
        (group / "summary.md").write_text(pipeline_markdown(evals, title=f"{args.config}"))
        print(f"{group}/summary.json, summary.md", file=sys.stderr)
    return 0


def run_one(cfg: dict, args) -> int:
    from .. import cli
    from .evaluate import evaluate_run

    init = cfg["train"].get("init")
    group = Path(args.runs) / cfg["run"].get("table", "")
    if init and not (group / init / "checkpoint.pt").exists():
        raise UserError(f"{args.config} starts from run {init!r}, which is missing in {group}: "
                        f"run its config first (frl run {Path(args.config).with_name(init + '.toml')})", prog=PROG)
    code = cli.main(["train", *train_argv(cfg, args.runs, args.device, args.data_dir, args.download)])
    if code != 0:
        return code
    out = run_dir_of(cfg, args.runs)
    try:
        res = evaluate_run(out, steps=20, device=args.device, data_dir=args.data_dir,
                           checkpoint=cfg["run"].get("checkpoint", "last"))
    except ValueError as exc:
        raise UserError(str(exc), prog=PROG) from None
    res["config_file"] = str(args.config)
    res["row"] = cfg["run"].get("row")
    write_json(out / "eval.json", res, PROG)
    print(f"{out}/eval.json", file=sys.stderr)
    if "certify" in cfg:
        from .certify import certify_run

        c = cfg["certify"]
        if not (out / "certify.json").exists():
            try:
                cert = certify_run(out, c["sigma"], c.get("radius", 0.5), c.get("n", 100_000), c.get("n0", 100),
                                   c.get("alpha", 0.001), limit=c.get("limit"), device=args.device,
                                   data_dir=args.data_dir)
            except (ValueError, KeyError) as exc:
                raise UserError(f"[certify] of {args.config}: {exc}", prog=PROG) from None
            write_json(out / "certify.json", cert, PROG)
        print(f"{out}/certify.json", file=sys.stderr)
    return 0
