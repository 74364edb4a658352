"""Experiments: a robust start, then arms that fine-tune it for the same epochs, over seeds; resumable.

The flow of ``frl demo``, ``frl ablation frl-loss`` and ``frl ablation fig3``, callable from Python
and from a notebook. Every run is a normal run directory; a run whose folder holds a finished run
of the same settings (trained, and scored with PGD-20 on the test split) is not trained again, and
one made with other settings is a RunDirError naming them (a rerun with changed settings never
reuses it). Nothing here draws or writes tables: :mod:`figures.ablation` and :mod:`figures.demo` do.
The designs (arms, controls) load without torch, for the command line's --help; the runs need it.

    >>> per_seed, curves = start_then_arms(
    ...     lambda seed: (Path("runs/abl") / f"seed_{seed}", "start"), seeds=(0, 1),
    ...     start=dict(dataset="digits", method="pgd_at", epochs=15),
    ...     arms={"loss_only": ("frl_reweight_remargin", {"alpha1": 0.0, "alpha2": 0.0})},
    ...     finetune=dict(dataset="digits", epochs=10, lr=1e-3, lr_step_every=FRL_DECAY_EVERY))
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .choices import DEFAULT_EVAL_STEPS, FRL_DECAY_EVERY
from .config import TrainConfig, config_from_dict
from .errors import RunDirError
from .run_dir import RunDir

__all__ = ["CONTROLS", "FRL_LOSS_ARMS", "DEFAULT_ARMS", "DEMO_METHODS", "DEMO_START", "FRL_DECAY_EVERY", "demo_runs",
           "is_finished", "train_unless_finished",
           "score", "val_curve", "start_then_arms"]

# The two controls of every fine-tuning comparison: the start trained on with its own loss (the effect of
# training longer), and FRL's loss with the controller off (alpha1 = alpha2 = 0: uniform class weights, eps
# for every class; the effect of the loss).
CONTROLS = {"pgd_at_continued": ("pgd_at", {}),
            "loss_only": ("frl_reweight_remargin", {"alpha1": 0.0, "alpha2": 0.0})}

# The arms of ``frl ablation frl-loss``: name -> (label, method, settings). Every arm spells out the
# settings it tests, so that a later change of a default does not change what an arm means.
FRL_LOSS_ARMS = {
    "pgd_at_continued": ("PGD-AT continued (control)", *CONTROLS["pgd_at_continued"]),
    "trades_b1": ("TRADES β=1, no reweighting", "trades", {"beta": 1.0}),
    "trades_b1.5": ("TRADES β=1.5, no reweighting", "trades", {"beta": 1.5}),
    "trades_b6": ("TRADES β=6, no reweighting", "trades", {"beta": 6.0}),
    "frl_printed": ("FRL RW+RM, TRADES β=1, Remargin as printed (Eq. 11)", "frl_reweight_remargin",
                    {"frl_loss": "trades", "frl_beta": 1.0, "remargin_rule": "absolute"}),
    "frl_relative": ("FRL RW+RM, TRADES β=1, Remargin relative (Eq. 9)", "frl_reweight_remargin",
                     {"frl_loss": "trades", "frl_beta": 1.0, "remargin_rule": "relative"}),
    "frl_relative_b6": ("FRL RW+RM, TRADES β=6, Remargin relative", "frl_reweight_remargin",
                        {"frl_loss": "trades", "frl_beta": 6.0, "remargin_rule": "relative"}),
    "frl_pgdat": ("FRL RW+RM, PGD-AT loss, Remargin relative", "frl_reweight_remargin",
                  {"frl_loss": "pgd_at", "frl_beta": 1.0, "remargin_rule": "relative"}),
    "pgdat_loss_only": ("clean + adversarial CE, no controller (α1 = α2 = 0)", "frl_reweight_remargin",
                        {"frl_loss": "pgd_at", "frl_beta": 1.0, "alpha1": 0.0, "alpha2": 0.0}),
    "frl_pgdat_rw": ("FRL RW, PGD-AT loss", "frl_reweight", {"frl_loss": "pgd_at", "frl_beta": 1.0}),
    "frl_pgdat_rm": ("FRL RM, PGD-AT loss, Remargin relative", "frl_remargin",
                     {"frl_loss": "pgd_at", "frl_beta": 1.0, "remargin_rule": "relative"}),
    "frl_rw": ("FRL RW, TRADES β=1", "frl_reweight", {"frl_loss": "trades", "frl_beta": 1.0}),
    "frl_rm": ("FRL RM, TRADES β=1, Remargin relative", "frl_remargin",
               {"frl_loss": "trades", "frl_beta": 1.0, "remargin_rule": "relative"}),
    # the authors' update rules with the paper's tau / alpha2 and our PGD-10 controller, as this arm has
    # always run (its committed results); the authors' whole recipe is --frl-variant authors alone
    "frl_authors": ("FRL RW+RM, the authors' rules", "frl_reweight_remargin",
                    {"frl_variant": "authors", "frl_loss": "trades", "bndy_metric": "accdiff", "tau1": 0.05,
                     "tau2": 0.05, "alpha2": 0.05, "eval_steps": 10}),
}
DEFAULT_ARMS = ("pgd_at_continued", "trades_b1", "trades_b1.5", "trades_b6", "frl_printed", "frl_relative",
                "frl_relative_b6", "frl_pgdat", "pgdat_loss_only", "frl_pgdat_rw", "frl_pgdat_rm", "frl_authors")


def _config(settings: dict) -> TrainConfig:
    return TrainConfig.from_mapping({**settings, "resume": True})


def is_finished(settings: dict) -> bool:
    """The run ``settings`` describe (``out`` included) is trained and scored (PGD-20 on the test split);
    RunDirError when its folder holds a run made with other settings."""
    from .pipeline import is_pipeline_score

    cfg, rd = _config(settings), RunDir(settings["out"])
    if not rd.config_path.exists():
        return False
    diff = cfg.differences(rd.read_config())
    if diff:
        raise RunDirError(f"{rd.path} was made with other settings ({'; '.join(diff)}): choose another --out, or "
                          f"give the settings it was made with")
    res = rd.read_eval()
    return res is not None and is_pipeline_score(res, cfg)


def train_unless_finished(settings: dict, log=print, label: str | None = None) -> bool:
    """Train (or resume) the run ``settings`` describe unless it is finished (``label`` is logged first, only
    when it trains); whether it trained."""
    from .runs import train_run

    if is_finished(settings):
        return False
    if label is not None:
        log(label)
    train_run(_config(settings), log=log)
    return True


def score(run_dir, device=None, data_dir=None) -> dict:
    """The run's eval.json: PGD-20 on the test split, computed once (a stored score of the same attack is read)."""
    from .pipeline import is_pipeline_score
    from .runs import evaluate_and_save

    rd = RunDir(run_dir)
    res = rd.read_eval()
    if res is None or not is_pipeline_score(res, config_from_dict(rd.read_config(), where=str(rd.config_path))):
        _, res = evaluate_and_save(run_dir, steps=DEFAULT_EVAL_STEPS, device=device, data_dir=data_dir)
    return res


def val_curve(run_dir, start_val: dict) -> dict:
    """Validation avg / worst robust error per epoch, epoch 0 being the start's last validation."""
    val = [r for r in RunDir(run_dir).read_metrics() if r.get("split") == "val"]
    return {"epoch": list(range(len(val) + 1)),
            "avg_rob": [start_val["avg"]["rob_error"]] + [r["avg"]["rob_error"] for r in val],
            "worst_rob": [start_val["worst"]["rob_error"]] + [r["worst"]["rob_error"] for r in val]}


def start_then_arms(folders: Callable[[int], tuple[Path, str]], seeds, start: dict, arms: dict, finetune: dict,
                    init=None, log=print, device=None, data_dir=None, curves: bool = True):
    """Per seed: train the start (``start`` settings; or use ``init``), then every arm from it.

    ``folders(seed)`` -> (the seed's folder, the start's name in it); an arm ``name -> (method, settings)``
    trains into FOLDER/name with its method and settings, then ``finetune`` (dataset, epochs, lr, ...; given
    last, so that it overrides an arm's setting) and ``init`` = the start.
    Returns ({seed: {"start": eval, arm: eval}}, {arm: [validation curve per seed]}).
    """
    per_seed, val = {}, {a: [] for a in arms}
    for seed in seeds:
        base, start_name = folders(seed)
        start_dir = Path(init) if init else Path(base) / start_name
        if not init:
            train_unless_finished({**start, "seed": seed, "out": str(start_dir)}, log, f"seed {seed}: the start")
        per_seed[seed] = {"start": score(start_dir, device, data_dir)}
        start_vals = [r for r in RunDir(start_dir).read_metrics() if r.get("split") == "val"]
        if curves and not start_vals:
            raise RunDirError(f"{start_dir} has no validation metrics: the curves start from them (train it with "
                              f"--val-per-class >= 1)")
        for arm, (method, settings) in arms.items():
            run_dir = Path(base) / arm
            train_unless_finished({"method": method, **settings, **finetune, "init": str(start_dir), "seed": seed,
                                   "out": str(run_dir)}, log, f"seed {seed}: {arm}")
            per_seed[seed][arm] = score(run_dir, device, data_dir)
            if curves:
                val[arm].append(val_curve(run_dir, start_vals[-1]))
    return per_seed, val


# ``frl demo``: PGD-AT on digits with the one-cycle lr (with per-epoch step decays and no warm-up, two of
# three digits seeds collapsed to chance; docs/results.md), then every method and control fine-tuned from it
DEMO_METHODS = ("frl_reweight_remargin", "pgd_at_continued", "loss_only", "frl_reweight", "frl_remargin",
                "baseline_reweight")
DEMO_START = {"lr_schedule": "onecycle"}


def demo_runs(out, seed: int = 0, pretrain_epochs: int = 15, frl_epochs: int = 10, methods=DEMO_METHODS,
              log=print) -> dict:
    """The demo's runs under ``out`` (OUT/pgd_at, OUT/<method>; resumable): {run name: eval.json dict}.
    The paper's fine-tuning settings (tau = alpha = 0.05, lr 1e-3); nothing is tuned on the test split."""
    common = dict(dataset="digits", model="small_cnn", eps=0.2, seed=seed, test_every=0)
    per_seed, _ = start_then_arms(
        lambda s: (Path(out), "pgd_at"), (seed,), start={**common, "method": "pgd_at", **DEMO_START,
                                                         "epochs": pretrain_epochs},
        arms={m: CONTROLS.get(m, (m, {})) for m in methods},
        finetune={**common, "epochs": frl_epochs, "lr": 1e-3, "lr_step_every": FRL_DECAY_EVERY}, log=log,
        curves=False)
    evals = per_seed[seed]
    return {"pgd_at": evals["start"], **{m: evals[m] for m in methods}}
