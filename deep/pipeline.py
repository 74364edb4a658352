"""Runs described by TOML files: train (resumably), evaluate, and optionally certify, stage by stage.

A config has a ``[run]`` table (``name``, and ``table`` to group runs) and a ``[train]`` table
whose keys are :class:`~deep.config.TrainConfig` settings (the ``frl train`` flags without the
dashes: ``lr_step_every = 40`` is ``--lr-step-every 40``; ``eps = "8/255"`` is parsed like the
flag). ``init`` names another run of the same group. The run goes to RUNS/<table>/<name>/ and ends
with ``eval.json`` (PGD-20, the paper's evaluation).

A pipeline instead has ``[[stage]]`` tables, each with ``name`` and ``[stage.train]``, run in
order into RUNS/<table>/<name>/<stage>/ (``init`` names an earlier stage); ``summary.json`` there
collects every stage's six numbers. Run over seeds (``frl run --seeds 0 1 2``), every stage of
seed N goes to RUNS/<table>/<name>/<stage>/seed_N/ with ``seed = N`` (its ``init``: the same
seed's run of the earlier stage), the seeds one after another; ``compare = "<stage>"`` in
``[run]`` then compares the stages over the seeds against that stage (``frl compare``'s files
beside the stages). ``checkpoint = "best"`` in ``[run]`` or a ``[[stage]]``
evaluates the checkpoint with the lowest validation robust error instead of the last;
``checkpoint = "averaged"`` the weight average of a method that keeps one (CFA).
``also_score = ["best"]`` (in ``[run]`` or a stage) scores those checkpoints too, into
``eval_best.json`` beside ``eval.json``; a checkpoint holding the very model already scored (best.pt
of the last epoch) gets that result, marked ``same_model_as``. A stage whose result file is already
there for the model it holds is not scored again, so a resumed pipeline redoes no finished work.
``summary = "<stage>"`` in ``[run]`` of a pipeline run over seeds writes ``summary.json`` /
``summary.md`` after every seed: the stages over the seeds so far with 95 % intervals and the
paired changes against that stage (:mod:`figures.seeds`).
"""

from __future__ import annotations

import difflib
import functools
import os
import tomllib
from pathlib import Path

from .attacks import default_eval_step
from .choices import DEFAULT_EVAL_STEPS
from .config import SEED_LIMIT, TrainConfig
from .errors import ConfigError, NoAveragedModel, RunDirError
from .parse import parse_number, parse_whole
from .run_dir import RunDir
from .runs import certify_and_save, evaluate_and_save, six_numbers, train_run
from .side_by_side import Task, check_jobs, run_tasks

__all__ = ["load_pipeline", "stages", "stage_config", "run_stage", "run_pipeline", "parse_overrides"]


def load_pipeline(path) -> dict:
    """The TOML file as a dict, checked for ``[run] name`` and a ``[train]`` table or ``[[stage]]`` tables."""
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"no config file {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a TOML config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text (a TOML file is)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    _check_shape(cfg, path)
    return cfg


def _name(value) -> bool:
    return (isinstance(value, str) and bool(value.strip()) and not any(c in value for c in "/\\\0")
            and value not in (".", ".."))


TOP_KEYS = ("run", "train", "stage", "certify")
RUN_KEYS = ("name", "table", "row", "checkpoint", "also_score", "summary", "compare")
STAGE_KEYS = ("name", "train", "certify", "checkpoint", "also_score", "row")


def _known_keys(table: dict, known, where: str, path) -> None:
    for key in table:
        if key not in known:
            hint = {"seed": " (seeds are chosen with frl run --seeds)", "seeds": " (seeds are chosen with frl run "
                    "--seeds)"}.get(key) or "".join(f" (did you mean {c}?)" for c in
                                                    difflib.get_close_matches(str(key), known, n=1))
            raise ConfigError(f"{path}: unknown key {key!r} in {where}{hint}; keys: {', '.join(known)}")


def _check_shape(cfg: dict, path) -> None:
    run = cfg.get("run")
    single = isinstance(cfg.get("train"), dict)
    staged = isinstance(cfg.get("stage"), list) and bool(cfg["stage"]) and all(
        isinstance(s, dict) and isinstance(s.get("train"), dict) for s in cfg["stage"])
    if not isinstance(run, dict) or "name" not in run or not (single or staged):
        raise ConfigError(f"{path} needs [run] name = ... and a [train] table (or [[stage]] tables with name and "
                          f"[stage.train])")
    _known_keys(cfg, TOP_KEYS, "the file", path)
    _known_keys(run, RUN_KEYS, "[run]", path)
    for s in cfg.get("stage", []):
        _known_keys(s, STAGE_KEYS, f"[[stage]] {s.get('name')!r}", path)
    names = [run["name"], *[s.get("name") for s in cfg.get("stage", [])]]
    bad = [n for n in names if not _name(n)]
    if bad:
        raise ConfigError(f"{path}: run and stage names must be folder names (text without '/', '\\' or NUL), "
                          f"got {bad[0]!r}")
    stage_names = names[1:]
    twice = sorted({n for n in stage_names if stage_names.count(n) > 1})
    if twice:
        raise ConfigError(f"{path}: two stages are named {twice[0]!r}; each stage needs its own name")
    for i, s in enumerate(cfg.get("stage", [])):
        init = s["train"].get("init")
        if isinstance(init, str) and init in stage_names and stage_names.index(init) >= i:
            raise ConfigError(f"{path}: stage {s['name']!r} starts from {init!r} (init), which is not an earlier "
                              f"stage")
    if not isinstance(run.get("table", ""), str) or ".." in run.get("table", "").split("/"):
        raise ConfigError(f"{path}: [run] table must be a relative folder name, got {run.get('table')!r}")
    for part in [cfg, *cfg.get("stage", [])]:
        where = part.get("run", {}) if part is cfg else part
        if where.get("checkpoint", "last") not in RunDir.MODELS:
            raise ConfigError(f"{path}: checkpoint == {where.get('checkpoint')!r}, must be one of "
                              f"{', '.join(RunDir.MODELS)}")
        also = where.get("also_score", [])
        if not isinstance(also, list) or any(a not in RunDir.MODELS for a in also):
            raise ConfigError(f"{path}: also_score == {also!r}, must be a list of {', '.join(RunDir.MODELS)}")
        if "certify" in part:
            _certify_settings(part["certify"], path)


CERTIFY_KEYS = {"sigma": parse_number, "radius": parse_number, "n": parse_whole, "n0": parse_whole,
                "alpha": parse_number, "limit": parse_whole}


def _certify_settings(table, path) -> dict:
    """A [certify] table with its values parsed: sigma (required), radius, n, n0, alpha, limit."""
    if not isinstance(table, dict) or "sigma" not in table:
        raise ConfigError(f"[certify] of {path}: a table with sigma = ... is required")
    out = {}
    for key, value in table.items():
        if key not in CERTIFY_KEYS:
            raise ConfigError(f"[certify] of {path}: unknown key {key!r}; keys: {', '.join(CERTIFY_KEYS)}")
        try:
            out[key] = CERTIFY_KEYS[key](value)
        except ConfigError as exc:
            raise ConfigError(f"[certify] of {path}: {key}: {exc}") from None
    return out


def stages(cfg: dict) -> list[dict]:
    """A config as a list of single runs: itself, or one per ``[[stage]]`` grouped under its name."""
    if "stage" not in cfg:
        return [cfg]
    group = f"{cfg['run'].get('table', '')}/{cfg['run']['name']}".strip("/")
    return [{"run": {"name": s["name"], "table": group, "row": s.get("row"), "checkpoint": s.get("checkpoint", "last"),
                     "also_score": s.get("also_score", cfg["run"].get("also_score", []))},
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


def _in_group(part: dict, runs, name: str) -> Path:
    """The run directory of run or stage ``name`` of the group ``part`` belongs to (its seed's, over seeds)."""
    path = Path(runs) / part["run"].get("table", "") / name
    seed = part["run"].get("seed")
    return path if seed is None else path / f"seed_{seed}"


def run_dir_of(part: dict, runs) -> RunDir:
    return RunDir(_in_group(part, runs, part["run"]["name"]))


def stage_config(part: dict, runs, device=None, data_dir=None, download=False, where="") -> TrainConfig:
    """The TrainConfig of one run or stage: its [train] table, placed under RUNS, resumable."""
    settings = dict(part["train"])
    if settings.get("init") and not str(settings["init"]).startswith("robustbench:"):  # a zoo start stays a name
        settings["init"] = str(_in_group(part, runs, settings["init"]))
    if part["run"].get("seed") is not None:
        settings["seed"] = part["run"]["seed"]
    settings.update(out=str(run_dir_of(part, runs).path), resume=True)
    for key, value in (("device", device), ("data_dir", data_dir)):
        if value:
            settings[key] = value
    if download:
        settings["download"] = True
    return TrainConfig.from_mapping(settings, where=where or f"[train] of {part['run']['name']}")


def run_stage(part: dict, runs, device=None, data_dir=None, download=False, source="", log=print) -> dict:
    """Train, evaluate (PGD-20, eval.json) and, with a [certify] table, certify one run; returns its eval."""
    init = part["train"].get("init")
    if isinstance(init, str) and init.startswith("robustbench:"):
        init = None  # a RobustBench zoo entry (deep.zoo), loaded when the stage starts
    if init is not None and not _name(init):
        raise ConfigError(f"[train] of {source}: init must name a run of the same table, got {init!r}")
    if init and not RunDir(_in_group(part, runs, init)).checkpoint_path.exists():
        raise RunDirError(f"{source or 'the config'} starts from run {init!r}, which is missing in "
                          f"{_in_group(part, runs, init).parent}: run its config first "
                          f"(frl run {Path(source).with_name(init + '.toml')})")
    cfg = stage_config(part, runs, device, data_dir, download, where=f"[train] of {source}" if source else "")
    rd = train_run(cfg, log=log)
    extra = {"config_file": str(source), "row": part["run"].get("row")}
    score = dict(extra=extra, steps=DEFAULT_EVAL_STEPS, device=device, data_dir=data_dir)
    res = _scored(rd, RunDir.EVAL, part["run"].get("checkpoint", "last"), cfg)
    if res is None:
        try:
            path, res = evaluate_and_save(rd.path, checkpoint=part["run"].get("checkpoint", "last"), **score)
        except NoAveragedModel:  # a weight average that never started: say so, score the last model
            log(f"warning: {rd.path} holds no averaged model (no epoch's worst class reached the averaging "
                f"threshold, --cfa-threshold); scored with its last checkpoint, as its eval.json says")
            path, res = evaluate_and_save(rd.path, checkpoint="last", **score)
        log(f"{path}")
    for which in part["run"].get("also_score", []):
        _score_also(rd, which, res, score, cfg, log)
    if "certify" in part and rd.read_certify() is None:
        c = _certify_settings(part["certify"], source)
        path, _ = certify_and_save(rd.path, c["sigma"], c.get("radius", 0.5), c.get("n", 100_000), c.get("n0", 100),
                                   c.get("alpha", 0.001), limit=c.get("limit"), device=device, data_dir=data_dir)
        log(f"{path}")
    return res


def _model_epoch(rd: RunDir, which: str) -> int | None:
    """The epoch of the model ``which`` of a run (None when the run holds no such model)."""
    try:
        return int(rd.load_model(which)["epoch"])
    except RunDirError:
        return None


def is_pipeline_score(res: dict, cfg: TrainConfig) -> bool:
    """``res`` is what the pipeline scores: PGD-20 at the run's radius and norm, the default step, seed 0."""
    attack = res.get("attack", {})
    want = {"name": "pgd", "norm": cfg.norm, "eps": cfg.eps, "steps": DEFAULT_EVAL_STEPS,
            "step_size": default_eval_step(cfg.eps, cfg.norm), "seed": 0}
    return all(attack.get(k) == v for k, v in want.items()) and res.get("split", "test") == "test"


def _read_score(rd: RunDir, name: str, cfg: TrainConfig) -> dict | None:
    try:
        res = rd.read_eval(name)
    except RunDirError:
        return None
    return res if res is not None and is_pipeline_score(res, cfg) else None


def _scored(rd: RunDir, name: str, which: str, cfg: TrainConfig) -> dict | None:
    """The result file ``name`` if it is the pipeline's score of the model ``which`` the run holds now (for
    ``averaged``: or of the last model where the run holds no average, as the pipeline scores it then)."""
    res = _read_score(rd, name, cfg)
    if res is None:
        return None
    fallback = which == "averaged" and res.get("checkpoint") == "last" and _model_epoch(rd, "averaged") is None
    if res.get("checkpoint") != which and not fallback:
        return None
    return res if res.get("epoch") == _model_epoch(rd, res["checkpoint"]) else None


def _score_also(rd: RunDir, which: str, primary: dict, score: dict, cfg: TrainConfig, log) -> None:
    """eval_<which>.json: the result of the model ``which`` (the primary's own, when it is that model)."""
    name = f"eval_{which}.json"
    if which == primary.get("checkpoint") or _scored(rd, name, which, cfg) is not None:
        return
    epoch = _model_epoch(rd, which)
    if epoch is None:
        log(f"warning: {rd.path} holds no {which} model; {name} not written")
        return
    if which in ("last", "best") and primary.get("checkpoint") in ("last", "best") and epoch == primary.get("epoch"):
        # best.pt of the last epoch is checkpoint.pt's model: the same weights give the same result
        path = rd.write_json(name, {**primary, "checkpoint": which, "same_model_as": primary.get("checkpoint")})
    else:
        path, _ = evaluate_and_save(rd.path, checkpoint=which, out=rd.path / name, **score)
    log(f"{path}")


def _stage_results(part: dict, runs, source) -> dict | None:
    """The stage's eval when it was trained to its last epoch (metrics.jsonl) and holds the pipeline's scores of
    its models (eval.json, and eval_<which>.json for each also_score), with or without checkpoints; else None."""
    rd = run_dir_of(part, runs)
    cfg = stage_config(part, runs, where=f"[train] of {source}")
    which = part["run"].get("checkpoint", "last")
    try:
        trained = any(r.get("epoch") == cfg.epochs - 1 for r in rd.read_metrics())
    except RunDirError:
        return None
    primary = _read_score(rd, RunDir.EVAL, cfg)
    accepted = (which, "last") if which == "averaged" else (which,)
    if not trained or primary is None or primary.get("checkpoint") not in accepted:
        return None
    for also in part["run"].get("also_score", []):
        res = _read_score(rd, f"eval_{also}.json", cfg) if also != primary.get("checkpoint") else primary
        if res is None or res.get("checkpoint") != also:
            return None
    return primary


def _finished_seed(parts: list, runs, source) -> dict | None:
    """{stage: eval} when every stage of a seed holds its results (:func:`_stage_results`), with or without
    checkpoints; else None. A seed whose results were committed is not trained again on a machine that has
    only the result files."""
    evals = {}
    for part in parts:
        res = _stage_results(part, runs, source)
        if res is None:
            return None
        evals[part["run"]["name"]] = res
    return evals


def _stages_to_train(parts: list, runs, source) -> tuple[dict, set]:
    """({stage: eval} of the stages of a seed whose results stand, {stages to train}) when some stage is not
    finished. A finished stage (its result files, with or without checkpoints) is kept, unless an unfinished
    stage starts from it and its checkpoint is gone (then it is trained anew) or the stage it started from is
    trained anew (then its results are of another start, and it is trained again too)."""
    names = [p["run"]["name"] for p in parts]
    done = {p["run"]["name"]: _stage_results(p, runs, source) for p in parts}
    start = {p["run"]["name"]: p["train"].get("init") if p["train"].get("init") in names else None for p in parts}
    kept_model = {p["run"]["name"]: run_dir_of(p, runs).checkpoint_path.exists() for p in parts}
    train = {n for n in names if done[n] is None}
    grown = True
    while grown:
        before = len(train)
        for n in names:
            s = start[n]
            if s is None:
                continue
            if n in train and s not in train and not kept_model[s]:
                train.add(s)
            if n not in train and s in train and not kept_model[s]:
                train.add(n)
        grown = len(train) > before
    return {n: done[n] for n in names if n not in train}, train


def _set_aside(rd: RunDir, log) -> None:
    """Rename a stage folder that must be trained anew but cannot be continued (results, no checkpoint)."""
    if rd.checkpoint_path.exists() or not rd.run_files():
        return
    k = 1
    while rd.path.with_name(f"{rd.path.name}.old{k}").exists():
        k += 1
    rd.path.rename(rd.path.with_name(f"{rd.path.name}.old{k}"))
    log(f"{rd.path}: its results are kept in {rd.path.name}.old{k}; it is trained anew (its checkpoint is gone and "
        f"a stage after it starts from it, or the stage it starts from is trained anew)")


def _seed_plan(parts: list, runs, seed, path, log) -> tuple[dict, list]:
    """({stage: eval} of the finished stages of one seed that stand (:func:`_stages_to_train`), [(stage,
    whether it is trained anew)] of the stages to run, in order)."""
    kept, anew = _stages_to_train(parts, runs, path) if seed is not None else ({}, set())
    evals, todo = {}, []
    for p in parts:
        name = p["run"]["name"]
        if name in kept and not run_dir_of(p, runs).checkpoint_path.exists():
            log(f"seed {seed}, stage {name}: trained and scored (its result files are there); not trained again")
            evals[name] = kept[name]
        else:
            todo.append((p, name in anew))
    return evals, todo


def _run_seed(parts: list, runs, seed, path, log, **where) -> dict:
    """Every stage of one seed (or of a run without seeds), one after another; returns {stage: eval}."""
    evals, todo = _seed_plan(parts, runs, seed, path, log)
    for p, anew in todo:
        if anew:
            _set_aside(run_dir_of(p, runs), log)
        evals[p["run"]["name"]] = run_stage(p, runs, where["device"], where["data_dir"], where["download"],
                                            source=str(path), log=log)
    return {p["run"]["name"]: evals[p["run"]["name"]] for p in parts}


def _run_side_by_side(plans: dict, runs, path, log, jobs: int, on_seed, **where) -> dict:
    """The stages of every seed of ``plans`` ({seed: (parts, kept evals, to do)}) in ``jobs`` worker
    processes (:mod:`deep.side_by_side`); ``on_seed(seed, evals)`` as each seed's last stage ends."""
    evals = {seed: dict(kept) for seed, (_, kept, _) in plans.items()}
    left = {seed: len(todo) for seed, (_, _, todo) in plans.items()}
    tasks = []
    for seed, (parts, _, todo) in plans.items():
        names = {p["run"]["name"] for p, _ in todo}
        for p, anew in todo:
            p = {**p, "train": {"progress": False, **p["train"]}}  # no progress bars of several workers on one line
            name, init = p["run"]["name"], p["train"].get("init")
            label = f"seed {seed}, stage {name}" if seed is not None else f"stage {name}"
            tasks.append(Task((seed, name), label, (p, runs, where["device"], where["data_dir"], where["download"],
                                                    str(path)), after=(seed, init) if init in names else None,
                              prepare=functools.partial(_set_aside, run_dir_of(p, runs), log) if anew else None))

    def done(task, res):
        seed, name = task.key
        evals[seed][name] = res
        log(f"{task.label}: finished")
        left[seed] -= 1
        if left[seed] == 0:
            on_seed(seed, {p["run"]["name"]: evals[seed][p["run"]["name"]] for p in plans[seed][0]})

    for seed, n in left.items():
        if n == 0:  # nothing to run: every stage kept
            on_seed(seed, evals[seed])
    run_tasks(tasks, run_stage, jobs, check_jobs(jobs), done, log=log)
    return {seed: {p["run"]["name"]: evals[seed][p["run"]["name"]] for p in parts}
            for seed, (parts, _, _) in plans.items()}


def _check_before_training(cfg: dict, runs, path, overrides, seeds) -> None:
    """Everything a pipeline could refuse later, refused before its first stage trains: every stage's
    settings (as the first seed's), a best checkpoint scored without a validation split, a ``--runs``
    whose stages hold runs over seeds when none are asked for (or the other way round), and a stored run
    of any seed asked for that was made with other settings."""
    for k, seed in enumerate(seeds if seeds is not None else [None]):
        for part in stages(cfg):
            part["train"] = {**part["train"], **(overrides or {})}
            part["run"]["seed"] = seed
            where = f"[train] of {path}" + (f", stage {part['run']['name']!r}" if "stage" in cfg else "")
            c = stage_config(part, runs, where=where)
            rd = run_dir_of(part, runs)
            if rd.config_path.exists():  # a stored run made otherwise is never reused
                diff = c.differences(rd.read_config())
                if diff:
                    raise RunDirError(f"{rd.path} was made with other settings ({'; '.join(diff)}): a rerun never "
                                      f"reuses it; choose another --runs, or give the settings it was made with")
            if k > 0:
                continue
            wanted = {part["run"].get("checkpoint", "last"), *part["run"].get("also_score", [])}
            if "best" in wanted and c.val_per_class == 0:
                raise ConfigError(f"{where}: the best checkpoint is scored (checkpoint / also_score) but "
                                  f"val_per_class = 0 holds out no validation split to choose it")
            folder = Path(runs) / part["run"].get("table", "") / part["run"]["name"]
            seeded = sorted(p.name for p in folder.glob("seed_*") if p.is_dir()) if folder.is_dir() else []
            if seeds is None and seeded:
                raise ConfigError(f"{folder} holds runs over seeds ({', '.join(seeded[:3])}"
                                  f"{', ...' if len(seeded) > 3 else ''}): pass --seeds to continue them, or choose "
                                  f"another --runs")
            if seeds is not None and RunDir(folder).holds_run():
                raise ConfigError(f"{folder} holds a run without seeds: run it without --seeds, or choose another "
                                  f"--runs")


def _check_run_table(cfg: dict, path, seeds, overrides) -> tuple:
    """([run] compare, [run] summary, the stage names), checked with --seeds and --train-set; ConfigError."""
    if seeds is not None:
        if not seeds or any(not isinstance(n, int) or not 0 <= n < SEED_LIMIT for n in seeds) or \
                len(set(seeds)) != len(seeds):
            raise ConfigError(f"--seeds {' '.join(map(str, seeds))}: distinct whole numbers in [0, 2**63) (torch's "
                              f"seeds) are required")
        if "seed" in (overrides or {}):
            raise ConfigError("--train-set seed=... and --seeds: give the seeds with --seeds only")
    names = [s["name"] for s in cfg.get("stage", [])]
    picked = []
    for key in ("compare", "summary"):
        stage = cfg["run"].get(key)
        if stage is not None and stage not in names:
            raise ConfigError(f"{path}: [run] {key} = {stage!r} must name one of its stages "
                              f"({', '.join(names) or 'none'})")
        picked.append(stage)
    return picked[0], picked[1], names


def _check_jobs(jobs: int, download: bool) -> None:
    """--jobs: a whole number in [1, torch's threads]; above 1, not with --download (workers would download
    into one folder at once) nor under torchrun (each worker would join the process group as its parent)."""
    if isinstance(jobs, int) and jobs > 1 and download:
        raise ConfigError(f"--jobs {jobs} with --download: download the data set once first (the same command "
                          f"without --jobs, or frl prepare-cifar10), then train side by side")
    if isinstance(jobs, int) and jobs > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(f"--jobs {jobs} under torchrun: one stage at a time across the processes (no --jobs)")
    check_jobs(jobs)


def _seed_parts(cfg: dict, seed, overrides) -> list[dict]:
    parts = stages(cfg)
    for part in parts:
        part["train"] = {**part["train"], **(overrides or {})}
        part["run"]["seed"] = seed
    return parts


def run_pipeline(path, runs="runs", device=None, data_dir=None, download=False, overrides=None,
                 log=print, markdown=None, seeds=None, compare=None, summarise=None, jobs=1) -> dict:
    """Every run or stage of a TOML file, in order; returns {stage name: eval dict} (of the last seed).

    ``overrides`` ({setting: value}) replaces settings in every stage (``frl run --train-set``).
    A staged pipeline also writes ``summary.json`` (six numbers per stage) beside its stages, and
    ``summary.md`` = ``markdown(evals)`` when a ``markdown`` function is given (the command line
    passes :func:`figures.pipeline.pipeline_markdown`). ``seeds`` (a list) runs the whole pipeline once
    per seed into seed_N folders (no summary: the stages are compared over the seeds instead).
    When ``[run] compare`` names a stage and a ``compare(folder, base, seeds)`` function is given (the
    command line passes one that writes ``frl compare``'s files of those seeds), it is called after the last seed.
    When ``[run] summary`` names a stage and a ``summarise(folder, start, stage names)`` function is given
    (the command line passes :func:`figures.seeds.write_seeds_summary`), it is called after every seed.
    ``jobs`` > 1 trains that many stages (of any seed) side by side, each once the stage it starts from
    has finished (:mod:`deep.side_by_side`).
    """
    cfg = load_pipeline(path)
    base, start, names = _check_run_table(cfg, path, seeds, overrides)
    _check_jobs(jobs, download)
    _check_before_training(cfg, runs, path, overrides, seeds)
    if start is not None and seeds is None:
        log(f"note: [run] summary = {start!r} summarises runs over seeds; without --seeds the summary is the "
            f"one of a single run (summary.json / .md beside the stages)")
    group = RunDir(Path(runs) / stages(cfg)[0]["run"].get("table", ""))

    def seed_done(seed, _evals):
        if seed is not None and start is not None and summarise is not None:
            log(f"{summarise(group.path, start, names)} (seeds so far)")

    evals, plans, where = {}, {}, dict(device=device, data_dir=data_dir, download=download)
    for seed in (seeds if seeds is not None else [None]):
        parts = _seed_parts(cfg, seed, overrides)
        if seed is not None:
            log(f"seed {seed}")
        done = _finished_seed(parts, runs, path) if seed is not None else None
        if done is not None:
            log(f"seed {seed}: every stage is trained and scored (its result files are there); nothing to do")
        elif jobs > 1:
            plans[seed] = (parts, *_seed_plan(parts, runs, seed, path, log))
            continue
        evals[seed] = done if done is not None else _run_seed(parts, runs, seed, path, log, **where)
        seed_done(seed, evals[seed])
    if plans:
        evals.update(_run_side_by_side(plans, runs, path, log, jobs, seed_done, **where))
    evals = evals[(seeds or [None])[-1]]
    if len(names) > 1:
        _summarise_group(group, evals, seeds, base, compare, markdown, log)
    return evals


def _summarise_group(group: RunDir, evals: dict, seeds, base, compare, markdown, log) -> None:
    """summary.json / .md of a staged pipeline without seeds; ``compare`` over the seeds where asked."""
    if seeds is None:
        group.write_summary({name: six_numbers(res) for name, res in evals.items()},
                            markdown(evals) if markdown is not None else None)
        log(f"{group.path / RunDir.SUMMARY}" + (f", {RunDir.SUMMARY_MD}" if markdown is not None else ""))
    if base is not None and compare is not None:
        compare(group.path, base, seeds)
