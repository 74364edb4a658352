"""The library API of runs: train one, load its model, evaluate it, certify it, summarise it.

The command line (``frl train | eval | certify``), the orchestrating commands (``frl demo``,
``frl ablation``, ``frl run``), the benchmarks and the notebooks all call these functions with
keyword arguments; each returns plain data and raises a :class:`~deep.errors.UsageError` for a
mistake a user can fix.

>>> from deep.config import TrainConfig
>>> from deep.runs import train_run, evaluate_run                      # doctest: +SKIP
>>> rd = train_run(TrainConfig(method="pgd_at", epochs=2, out="runs/x"))  # doctest: +SKIP
>>> evaluate_run(rd.path, steps=20)["worst"]["rob_error"]              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib

import torch

from .attacks import default_eval_step, eval_attack
from .build import resolve_device
from .choices import DEFAULT_EVAL_STEPS, check_radius
from .config import SEED_LIMIT, TrainConfig, config_from_dict
from .data import BatchLoader, first_per_class, load_splits, to_input
from .errors import ConfigError, RunDirError
from .evaluate import evaluate_classwise, evaluate_predictions
from .fast_path import choose, eval_module, folded_batchnorms
from .models import model_for
from .run_dir import SIX, RunDir, check_result_out, six_numbers, write_json
from .train import train

__all__ = ["train_run", "load_trained", "evaluate_run", "certify_run", "evaluate_and_save", "certify_and_save",
           "six_numbers", "SIX", "ATTACKS"]

ATTACKS = ("pgd", "autoattack")


def train_run(cfg: TrainConfig, log=print) -> RunDir:
    """Train (or, with ``cfg.resume``, continue) the run ``cfg`` describes; returns its run directory."""
    train(cfg, log=log)
    return RunDir(cfg.out)


def load_trained(run_dir, split="test", data_dir=None, device=None, limit=None, checkpoint="last"):
    """A run directory's model (plain fp32 module, eval mode) and one split of its data.

    ``checkpoint``: "last" (the final epoch's checkpoint.pt), "best" (best.pt, the epoch with the
    lowest validation robust error) or "averaged" (the weight average a method keeps: CFA's FAWA).
    Returns (cfg, model, data, train_data, checkpoint dict).
    Raises RunDirError when the directory holds no such model, ConfigError for a bad argument,
    DatasetError when the data cannot be loaded.
    """
    _check_selection(split, limit, checkpoint)
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise RunDirError(f"{run_dir} is not a directory")
    if not rd.holds_model():
        raise RunDirError(f"{run_dir} has no model ({RunDir.CONFIG} and {RunDir.CHECKPOINT} are needed)")
    cfg = config_from_dict(rd.read_config(), where=str(rd.config_path))
    if data_dir is not None:
        cfg.data_dir = data_dir
    cfg.download = False
    if device is None:
        device = cfg.device if (cfg.device == "cpu" or torch.cuda.is_available()) else "cpu"
    resolve_device(str(device))  # a device that does not exist is named as such, before any file is read
    ckpt = rd.load_model(checkpoint, map_location=device)
    train_data, val, test = load_splits(cfg.dataset, cfg.data_dir, False, cfg.val_per_class, cfg.seed,
                                        cfg.val_split)
    data = test if split == "test" else val
    if len(data) == 0:
        raise ConfigError(f"the {split} split of {run_dir} is empty (trained with --val-per-class 0?): nothing to score")
    if limit is not None:
        data = data.subset(first_per_class(data.y, int(limit), data.num_classes))
    model = model_for(cfg.model, cfg.dataset, train_data.num_classes, train_data.x.shape[1], cfg.normalize,
                      cfg.norm).to(device)
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, TypeError, AttributeError):
        raise RunDirError(f"the {checkpoint} model of {run_dir} does not fit the {cfg.model} of "
                          f"{rd.config_path}") from None
    model.eval()
    return cfg, model, data, train_data, ckpt


def subset_record(limit) -> dict:
    """What a result says of the examples it scored: nothing for a whole split, the rule for --limit."""
    if limit is None:
        return {}
    return {"subset": {"limit": int(limit), "rule": "stratified: the first limit // K examples of each of the K "
                       "classes in file order, the first limit % K classes one more (deep.data.first_per_class)"}}


def _check_selection(split="test", limit=None, checkpoint="last"):
    if checkpoint not in RunDir.MODELS:
        raise ConfigError(f"checkpoint == {checkpoint!r}, must be one of {', '.join(RunDir.MODELS)}")
    if split not in ("test", "val"):
        raise ConfigError(f"split == {split!r}, must be test or val")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be >= 1 (an empty split has no error to report)")


def _check_eval_args(attack="pgd", steps=DEFAULT_EVAL_STEPS, seed=0, batch_size=500, step_size=None, version="standard", **_):
    if attack not in ATTACKS:
        raise ConfigError(f"--attack {attack!r}: unknown attack; choose from {', '.join(ATTACKS)}")
    from .autoattack import VERSIONS

    if version not in VERSIONS:
        raise ConfigError(f"--version {version!r}: unknown AutoAttack version; choose from {', '.join(VERSIONS)}")
    if steps < 1:
        raise ConfigError(f"steps == {steps}, must be >= 1")
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"--seed {seed}: must be in [0, 2**63) (torch's seeds)")
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: must be >= 1")
    if step_size is not None and not step_size > 0:
        raise ConfigError(f"--step-size {step_size:g}: must be > 0")


def evaluate_run(run_dir, steps=DEFAULT_EVAL_STEPS, eps=None, step_size=None, norm=None, split="test", batch_size=500,
                 device=None, data_dir=None, seed=0, attack="pgd", version="standard", limit=None,
                 checkpoint="last") -> dict:
    """Class-wise errors of a run directory's model under attack: the eval.json dict.

    ``attack="autoattack"`` runs AutoAttack (:mod:`deep.autoattack`) and, in the same call,
    PGD-``steps``; the result then also holds ``pgd`` (its class-wise errors) and
    ``gap_autoattack_minus_pgd`` per class: a large positive gap flags gradient masking.
    """
    _check_eval_args(attack, steps, seed, batch_size, step_size, version)
    cfg, model, data, train_data, ckpt = load_trained(run_dir, split, data_dir, device, limit, checkpoint)
    out = {"run": str(run_dir), "split": split, "epoch": int(ckpt["epoch"]), "checkpoint": checkpoint,
           "method": cfg.method, **subset_record(limit)}
    eps = cfg.eps if eps is None else eps
    return {**out, **score_model(model, data, train_data.num_classes, train_data.class_names, eps, norm or cfg.norm,
                                 steps, step_size, attack, version, seed, batch_size,
                                 choose(next(model.parameters()).device, cfg.model, cfg.fast))}


def score_model(plain, data, num_classes: int, class_names, eps: float, norm: str, steps=DEFAULT_EVAL_STEPS, step_size=None,
                attack="pgd", version="standard", seed=0, batch_size=500, fast_path=None) -> dict:
    """Class-wise errors of the module ``plain`` (eval mode, inputs in [0, 1]) on ``data`` under PGD-``steps``
    and, with ``attack="autoattack"``, AutoAttack too: the attack record and the errors of an eval.json."""
    device = next(plain.parameters()).device
    model = eval_module(plain, fast_path) if fast_path is not None else plain
    folded = folded_batchnorms(plain, model)
    if eps <= 0:
        raise ConfigError(f"eps == {eps:g}, must be > 0")
    check_radius(eps, norm, "--eps")
    step_size = step_size if step_size is not None else default_eval_step(eps, norm)
    pgd_info = {"name": "pgd", "norm": norm, "eps": eps, "steps": steps, "step_size": step_size,
                "random_start": True, "seed": seed, "precision": "fp32", "bn_folded": folded}

    def run_attack(atk):
        torch.manual_seed(seed)
        return evaluate_classwise(model, BatchLoader(data, batch_size, shuffle=False, device=device),
                                  num_classes, atk, class_names, examples=True)

    pgd = run_attack(eval_attack(eps, steps, norm, step_size))
    if attack == "pgd":
        return {"attack": pgd_info, **pgd}
    from .autoattack import AutoAttack

    # the official package over the whole split in one call, as it runs itself, on the module itself
    # (not the folded evaluation copy)
    aa_attack = AutoAttack(eps, norm, version, seed, batch_size, num_classes)
    y = data.y.to(device)
    clean_pred, adv_pred = aa_attack.predictions(plain, to_input(data.x).to(device), y)
    aa = evaluate_predictions(y, clean_pred, adv_pred, num_classes, class_names)
    gap = [None if a is None else a - p for a, p in zip(aa["rob_error"], pgd["rob_error"])]
    return {"attack": {"name": "autoattack", "version": version, "norm": norm, "eps": eps, "seed": seed,
                       "implementation": "pyautoattack (the official code) run_standard_evaluation",
                       **aa_attack.settings(plain), "batch_size": batch_size, "precision": "fp32",
                       "bn_folded": 0},
            **aa, "pgd": {"attack": pgd_info, **pgd}, "gap_autoattack_minus_pgd": gap}


def certify_run(run_dir, sigma, radius=0.5, n=100_000, n0=100, alpha=0.001, split="test", limit=None,
                batch_size=1000, device=None, data_dir=None, seed=0, with_predict=False, progress=None) -> dict:
    """Randomized-smoothing certification (:mod:`deep.certify`) of a run's model: the certify.json dict."""
    from .certify import certify_dataset, check_params

    check_params(sigma, radius, n, n0, alpha, batch_size)
    cfg, model, data, train_data, _ = load_trained(run_dir, split, data_dir, device, limit)
    device = next(model.parameters()).device
    res = certify_dataset(model, to_input(data.x).to(device), data.y, sigma, radius, n, n0, alpha,
                          train_data.num_classes, batch_size, seed, train_data.class_names, progress, with_predict)
    return {"run": str(run_dir), "split": split, "method": cfg.method, "train_sigma": cfg.sigma, **subset_record(limit),
            **res}


def _save_locked(run_dir, kind: str, compute, split: str, limit, out, command: str, extra=None):
    """Compute a result under the run directory's lock and write it: to ``out``, or to the run's own
    ``<kind>.json`` (a subset - another split, --limit - to its own file, never over the full result)."""
    rd = RunDir(run_dir)
    if out is not None:
        out = check_result_out(out, kind)
    if not rd.path.is_dir():
        raise RunDirError(f"{run_dir} is not a directory")
    # written elsewhere (``out``), the run directory is only read (it may be read-only): no lock on it, but
    # on the directory written into where that is a run directory
    target = RunDir(out.parent) if out is not None else rd
    guard = target.lock(command) if out is None or target.holds_run() else contextlib.nullcontext()
    with guard:
        res = {**compute(), **(extra or {}), "result_kind": kind}
        path = write_json(out, res) if out is not None else rd.write_json(RunDir.result_name(kind, split, limit), res)
    return path, res


def evaluate_and_save(run_dir, out=None, extra=None, **kwargs):
    """:func:`evaluate_run` (same keyword arguments), written as the run's eval file; returns (path, result).

    The arguments are checked before the run directory is looked at; it is locked while evaluating.
    """
    _check_eval_args(**kwargs)
    _check_selection(kwargs.get("split", "test"), kwargs.get("limit"), kwargs.get("checkpoint", "last"))
    return _save_locked(run_dir, "eval", lambda: evaluate_run(run_dir, **kwargs), kwargs.get("split", "test"),
                        kwargs.get("limit"), out, "frl eval", extra)


def certify_and_save(run_dir, sigma, radius=0.5, n=100_000, n0=100, alpha=0.001, out=None, **kwargs):
    """:func:`certify_run` (same arguments), written as the run's certify file; returns (path, result)."""
    from .certify import check_params

    check_params(sigma, radius, n, n0, alpha, kwargs.get("batch_size", 1000))
    _check_selection(kwargs.get("split", "test"), kwargs.get("limit"))
    return _save_locked(run_dir, "certify", lambda: certify_run(run_dir, sigma, radius, n, n0, alpha, **kwargs),
                        kwargs.get("split", "test"), kwargs.get("limit"), out, "frl certify")
