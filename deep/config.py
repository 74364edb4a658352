"""Training configuration: the one place where a setting, its default, its help, its flag and its constraint live.

``TrainConfig`` is what a run directory's ``config.json`` holds; ``--resume`` compares it field by
field. Every field carries its metadata (``_setting``): the kind of value (which also says how a
flag or a TOML string is parsed), the help text, the constraint, and whether its default depends
on the dataset and the method. From that one table come

* the ``frl train`` flags (:func:`add_train_arguments`), with the field's name as the flag
  (``lr_step_every`` is ``--lr-step-every``);
* the dataset and fine-tuning defaults, filled by :meth:`TrainConfig.__post_init__` for every
  caller alike (CLI, TOML, Python): ``TrainConfig(dataset="digits")`` trains with the same batch
  size and learning rate as ``frl train --dataset digits``;
* :meth:`TrainConfig.from_mapping`, which reads a TOML table or parsed flags (``eps = "8/255"``
  is parsed by :func:`parse_number`, the one parser of numbers as users write them);
* :meth:`TrainConfig.validate`, run at construction: a :class:`~deep.errors.ConfigError`
  naming the first bad setting.

The method names come from the method registry (:mod:`deep.methods`), read on first use, so
importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields

from .errors import ConfigError
from .run_dir import RunDir

__all__ = ["TrainConfig", "DATASET_DEFAULTS", "FINETUNE_DEFAULTS", "RUNTIME_KEYS", "add_train_arguments",
           "config_from_args", "config_from_dict", "settings_from_flags", "check_radius", "argparse_type", "parse_number", "parse_whole", "parse_path", "method_names"]

DATASETS = ("digits", "cifar10", "svhn", "imagefolder")
MODELS = ("small_cnn", "compact_cnn", "preact_resnet18", "preact_resnet18_authors", "wrn28_10")  # = deep.models.ModelName
NORMS = ("linf", "l2")
LR_SCHEDULES = ("step", "onecycle")
FRL_LOSSES = ("trades", "pgd_at")
BASE_LOSSES = ("trades", "pgd_at")
REMARGIN_RULES = ("absolute", "relative")

# The paper's settings (Appendix A.1, Section 5.1): 200 epochs, SGD lr 0.1, momentum 0.9,
# weight decay 5e-4, lr x0.1 at epochs 100 and 150, batch 128, PGD-10 with step 2/255 at
# eps 8/255, 300 validation examples per class. Digits are the embedded quick default.
DATASET_DEFAULTS = {
    "cifar10": dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300, lr_step_every=0),
    "svhn": dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300, lr_step_every=0),
    "imagefolder": dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300, lr_step_every=0),
    "digits": dict(epochs=20, lr=0.1, batch_size=16, eps=0.2, val_per_class=30, lr_step_every=0),
}
# Fine-tuning (FRL, Baseline Reweight) defaults: Section 5.1, 40 epochs per stage at lr 1e-3, x0.1 every 40.
FINETUNE_DEFAULTS = dict(epochs=40, lr=1e-3, lr_step_every=40)
# FRL's settings left unset: the paper's values (tau 0.05, alpha2 0.05), our default loss and boundary
# error, PGD-10 for the per-epoch validation (what the controller reads); --frl-variant authors takes
# deep.methods.frl.AUTHORS_PRESET's instead
FRL_DEFAULTS = dict(tau1=0.05, tau2=0.05, alpha2=0.05, bndy_metric="per_sample", frl_loss="pgd_at", eval_steps=10)

SEED_LIMIT = 2 ** 63  # torch.manual_seed takes 64-bit seeds; the probe split uses seed + 1

# Settings added after runs were first written: a saved config without them had these values,
# so an older run directory still resumes.
LEGACY_DEFAULTS = {"lr_schedule": "step", "lr_peak_at": 0.4, "frl_loss": "trades", "remargin_rule": "absolute",
                   "init_checkpoint": "last", "wat_eta": 0.1, "dafa_warmup": 70,
                   "dafa_lambda": 1.0, "base_loss": "trades", "cfa_lambda1": 0.5, "cfa_lambda2": 0.5, "cfa_begin": 10,
                   "cfa_decay": 0.88, "cfa_threshold": 0.24, "nesterov": False,
                   "val_split": "random"}

_SQRT = re.compile(r"^sqrt\((.+)\)$")


def parse_number(text) -> float:
    """'0.5', '8/255', '2e-3' or 'sqrt(2)' (or a number) as a finite float; ConfigError otherwise."""
    if isinstance(text, bool):
        raise ConfigError(f"not a number: {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().replace(" ", "")
        try:
            m = _SQRT.match(s)
            if m:
                inner = parse_number(m.group(1))
                if inner < 0:
                    raise ValueError
                value = math.sqrt(inner)
            elif "/" in s:
                num, den = s.split("/", 1)
                value = float(num) / float(den)
            else:
                value = float(s)
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"not a number: {text!r} (use e.g. 0.5, 8/255 or sqrt(2))") from None
    if not math.isfinite(value):
        raise ConfigError(f"not a finite number: {text!r}")
    return value


def parse_whole(text) -> int:
    """A whole number ('3' or 3; not '1.5' or True)."""
    if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
        raise ConfigError(f"not a whole number: {text!r}")
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ConfigError(f"not a whole number: {text!r}") from None


def _fractions(value) -> list:
    if isinstance(value, (list, tuple)):
        return [parse_number(v) for v in value]
    try:
        return [parse_number(v) for v in str(value).split(",") if v.strip()]
    except ConfigError:
        raise ConfigError(f"--lr-milestones {value!r}: expected comma-separated fractions") from None


def _factors(value, flag) -> dict:
    """{class: factor} from a dict or from 'CLASS=FACTOR' items."""
    if isinstance(value, dict):
        return {str(k): parse_number(v) for k, v in value.items()}
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{flag} {value!r}: expected CLASS=FACTOR items or a table of class factors")
    out = {}
    for item in value:
        name, sep, text = str(item).partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{flag} {item!r}: expected CLASS=FACTOR, e.g. deer=2.0")
        try:
            out[name.strip()] = float(text)
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: expected CLASS=FACTOR, e.g. deer=2.0") from None
    return out


def _method_registry():
    return importlib.import_module("deep.methods")  # imported on first use: it brings torch


def method_names() -> tuple:
    """The registered training methods (:mod:`deep.methods`), in their listing order."""
    return _method_registry().names()


# Inputs live in [0, 1]: an l_inf radius above 1 covers the whole cube; an l2 radius is bounded by
# the cube's diameter, sqrt(n) (55 for CIFAR-10); 1e4 allows images of up to 10^8 values.
MAX_RADIUS = {"linf": 1.0, "l2": 1e4}


def check_radius(eps: float, norm: str, name: str = "eps") -> float:
    """ConfigError unless 0 <= eps <= the largest meaningful radius of the norm for inputs in [0, 1]."""
    bound = MAX_RADIUS.get(norm, MAX_RADIUS["l2"])
    if not (math.isfinite(eps) and 0 <= eps <= bound):
        raise ConfigError(f"{name} == {eps:g}, must be in [0, {bound:g}] for {norm} (inputs are in [0, 1])")
    return eps


class _ModelChoices:
    """Our architectures, and ``robustbench:NAME`` (a RobustBench zoo entry's network, :mod:`deep.zoo`)."""

    def __contains__(self, name):
        return name in MODELS or (isinstance(name, str) and name.startswith("robustbench:") and len(name) > 12)

    def __iter__(self):
        return iter((*MODELS, "robustbench:NAME"))


class _MethodChoices:
    """argparse ``choices`` read from the registry only when a flag is parsed or help is shown (with a
    metavar, so that building the parser does not list them: ``frl theory`` never imports torch)."""

    def __contains__(self, name):
        return name in method_names()

    def __iter__(self):
        return iter(method_names())


# --- the table of settings --------------------------------------------------------------------

def _setting(default, help, kind, *, check=None, choices=None, dataset=False, runtime=False, frl_only=False,
             group=None, required_flag=False, metavar=None):
    """A field with its metadata; ``check`` = (predicate, rule) is applied to values that are not None."""
    meta = dict(help=help, kind=kind, check=check, choices=choices, dataset=dataset, runtime=runtime,
                frl_only=frl_only, group=group, required_flag=required_flag, metavar=metavar)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


_GE0 = (lambda v: v >= 0, "must be >= 0")
_GT0 = (lambda v: v > 0, "must be > 0")
_GE1 = (lambda v: v >= 1, "must be >= 1")
_FT = "FRL and Baseline Reweight (fine-tuning from --init)"


@dataclass
class TrainConfig:
    dataset: str = _setting("digits", "dataset (default digits, embedded)", "choice", choices=DATASETS)
    model: str | None = _setting(None, "architecture (default small_cnn for digits, preact_resnet18 otherwise)",
                                 "choice", choices=_ModelChoices(), dataset=True)
    method: str = _setting("natural", "training method: %(choices)s (default natural)", "choice",
                           choices=_MethodChoices(), metavar="METHOD")
    epochs: int | None = _setting(None, "epochs (paper: 200; digits: 20)", "whole", check=_GE1, dataset=True)
    eps: float | None = _setting(None, "training radius, fractions allowed: 8/255 (default 8/255; digits 0.2)",
                                 "number", check=_GE0, dataset=True)
    seed: int = _setting(0, "seed of everything random (default 0)", "whole",
                         check=(lambda v: 0 <= v < SEED_LIMIT, "must be in [0, 2**63) (torch's seeds)"))
    out: str = _setting("runs/run", "run directory", "text", runtime=True, required_flag=True)
    device: str = _setting("cpu", "cpu or cuda[:N] (default cpu)", "text", runtime=True,
                           check=(lambda v: v == "cpu" or v.startswith("cuda"), "must be cpu or cuda"))
    data_dir: str | None = _setting(None, "where the dataset lives (cifar10, svhn, imagefolder)", "text",
                                    runtime=True)
    download: bool = _setting(False, "download cifar10 / svhn into --data-dir (torchvision)", "switch", runtime=True)
    zoo_dir: str = _setting("models", "RobustBench's model folder for --init robustbench:NAME (its layout: "
                            "DIR/cifar10/Linf/NAME.pt; default models)", "text", runtime=True)
    resume: bool = _setting(False, "continue the run in --out from its checkpoint", "switch", runtime=True)
    batch_size: int | None = _setting(None, "batch size (paper: 128)", "whole", check=_GE1, dataset=True)
    lr: float | None = _setting(None, "initial SGD learning rate (paper: 0.1)", "number", check=_GT0, dataset=True)
    momentum: float = _setting(0.9, "SGD momentum (default 0.9)", "number", check=(lambda v: 0 <= v < 1,
                                                                                     "must be in [0, 1)"))
    weight_decay: float = _setting(5e-4, "weight decay (default 5e-4)", "number", check=_GE0)
    nesterov: bool = _setting(False, "Nesterov momentum (default off; DAFA's code trains with it)", "switch")
    lr_milestones: list = _setting([0.5, 0.75], "lr x lr-gamma at these fractions of the epochs (default "
                                   "0.5,0.75: epochs 100, 150 of 200)", "fractions",
                                   check=(lambda v: all(0 < m <= 1 for m in v),
                                          "must be fractions of the epochs in (0, 1]"))
    lr_gamma: float = _setting(0.1, "lr decay factor (default 0.1)", "number", check=_GT0)
    norm: str = _setting("linf", "attack norm (default linf)", "choice", choices=NORMS)
    attack_steps: int = _setting(10, "PGD steps in training (default 10)", "whole", check=_GE1)
    attack_step_size: float | None = _setting(None, "PGD step size (default eps/4 = 2/255)", "number", check=_GT0)
    attack_mode: str = _setting("eval", "model mode while the training attack runs (default eval)", "choice",
                                choices=("eval", "train"))
    beta: float = _setting(6.0, "TRADES beta = 1/lambda (paper: 1 and 6; default 6)", "number", check=_GE0)
    sigma: float = _setting(0.25, "gaussian_noise: noise sigma (default 0.25)", "number", check=_GT0)
    val_per_class: int | None = _setting(None, "validation examples held out per class (paper: 300; digits 30)",
                                         "whole", check=_GE0, dataset=True)
    val_split: str = _setting("random", "which examples are held out: random (drawn by the seed, default) or tail "
                              "(the last of each class in file order, as the authors' FRL code)", "choice",
                              choices=("random", "tail"))
    eval_steps: int | None = _setting(None, "PGD steps of the per-epoch evaluation, which FRL's controller reads "
                                      "(default 10; 20 with --frl-variant authors)", "whole", check=_GE1)
    test_every: int = _setting(1, "evaluate on the test set every N epochs (0: only at the end; default 1)",
                               "whole", check=_GE0)
    normalize: bool = _setting(False, "normalise inputs inside the model (dataset mean/std)", "switch")
    progress: bool | None = _setting(None, "progress bar (default: only on a terminal)", "toggle", runtime=True)
    lr_step_every: int | None = _setting(None, "lr x lr-gamma every N epochs instead of the milestones (FRL "
                                         "default 40)", "whole", check=_GE0, dataset=True)
    # "step": per-epoch decays (milestones / lr_step_every); "onecycle": per-iteration piecewise-linear
    # 0 -> lr at lr_peak_at of the iterations -> 0 (Smith 2018; Wong et al. 2020's cyclic schedule)
    lr_schedule: str = _setting("step", "step: per-epoch decays (milestones or --lr-step-every; default); onecycle: "
                                "per-iteration linear warm-up from 0 to --lr, then linear decay to 0 (Wong et al. "
                                "2020)", "choice", choices=LR_SCHEDULES)
    lr_peak_at: float = _setting(0.4, "onecycle: fraction of the iterations at which the lr peaks (default 0.4)",
                                 "number", check=(lambda v: 0 <= v < 1, "must be in [0, 1)"))
    # the fast path (deep.fast_path; default: what was measured to help on this device and model: all
    # on CUDA, per model on a CPU): bf16 autocast, channels_last, fused SGD, folded fp32 evaluation;
    # torch.compile (default: on CUDA). Evaluation always runs in fp32 without compile.
    fast: bool | None = _setting(None, "bf16 autocast (on a CPU only with native bf16), channels_last, fused SGD, "
                                 "folded fp32 evaluation (default: what was measured to help: on with CUDA, per "
                                 "model on a CPU)", "toggle",
                                 runtime=True)
    compile: bool | None = _setting(None, "torch.compile the training forward (default: on with the fast path on CUDA)",
                                    "toggle", runtime=True)
    eval_random_start: bool = _setting(True, "random start of the evaluation PGD (default on)", "toggle")
    # fine-tuning methods (FRL, Baseline Reweight) start from a pretrained run
    init: str | None = _setting(None, "pretrained run directory or checkpoint file to start from", "text", group=_FT)
    init_checkpoint: str = _setting("last", "which model of the --init run: last (default), best (validation robust "
                                    "error) or averaged (cfa's weight average)", "choice", choices=RunDir.MODELS,
                                    group=_FT)
    tau1: float | None = _setting(None, "standard-error constraint tau1 > 0 (default 0.05; the authors' variant: 0.1 "
                                  "RW, 0.07 RW+RM)", "number", check=_GT0, group=_FT)
    tau2: float | None = _setting(None, "boundary-error constraint tau2 > 0 (default 0.05; the authors' variant: 0.1 "
                                  "RW, 0.07 RW+RM)", "number", check=_GT0, group=_FT)
    alpha1: float = _setting(0.05, "multiplier step alpha1 >= 0 (default 0.05)", "number", check=_GE0, group=_FT)
    alpha2: float | None = _setting(None, "multiplier / margin step alpha2 >= 0 (default 0.05; the authors' RW+RM: "
                                    "0.2)", "number", check=_GE0, group=_FT)
    frl_variant: str = _setting("paper", "update rules of the paper's text (default) or of the authors' released "
                                "code; authors also sets, where not given, their recipe: tau1 = tau2 = 0.1 (RW) / "
                                "0.07 (RW+RM), alpha2 0.2 (RW+RM), frl_loss trades, bndy_metric accdiff, eval_steps "
                                "20 (the controller's PGD-20)", "choice", choices=("paper", "authors"), group=_FT)
    frl_beta: float | None = _setting(None, "weight of the boundary (KL) term (default 1 paper / 1.5 authors)",
                                      "number", check=_GE0, group=_FT)
    phi_limit: float = _setting(0.5, "cap on sum(phi) (authors' variant, baseline)", "number", check=_GT0, group=_FT)
    eps_cap: float | None = _setting(None, "largest per-class radius (default 2 eps paper, 3 eps authors)", "number",
                                     check=_GT0, group=_FT)
    bndy_metric: str | None = _setting(None, "boundary error driving the multipliers: per_sample (default) or "
                                       "accdiff, clean minus attacked accuracy (the authors' variant)", "choice",
                                       choices=("per_sample", "accdiff"), group=_FT)
    # FRL's loss: "pgd_at" (clean CE + beta adversarial CE: the loss of the PGD-AT start; default, chosen
    # by `frl ablation frl-loss`, see the README) or "trades" (CE + beta KL, Section 4.1)
    frl_loss: str | None = _setting(None, "FRL loss: pgd_at = clean CE + beta adversarial CE, the loss of the PGD-AT "
                                    "start (default), trades = CE + beta KL (Section 4.1; the authors' variant)",
                                    "choice", choices=FRL_LOSSES, group=_FT, frl_only=True)
    # Remargin: "relative" (the constraint of Eq. 6/9 and Algorithm 1: R_bndy(f,i) - R_bndy(f) - tau2,
    # eps_i never below eps; default) or "absolute" (Eq. 11 as printed, R_bndy(f,i) - tau2)
    remargin_rule: str = _setting("relative", "Remargin: relative = the constraint of Eq. 9 and Algorithm 1 "
                                  "(R_bndy(f,i) - R_bndy(f) - tau2), eps_i >= eps (default); absolute = Eq. 11 as "
                                  "printed (R_bndy(f,i) - tau2)", "choice", choices=REMARGIN_RULES, group=_FT,
                                  frl_only=True)
    wat_eta: float = _setting(0.1, "WAT: step size eta of the Hedge weights over class-wise validation losses "
                              "(default 0.1, Li & Liu 2023)", "number", check=_GT0)
    dafa_warmup: int = _setting(70, "DAFA: the epoch (1-based) whose adversarial outputs set the class weights "
                                "(default 70, of the reference's 110)", "whole", check=_GE1)
    dafa_lambda: float = _setting(1.0, "DAFA: scale lambda of the class weights (default 1.0 for CIFAR-10)", "number",
                                  check=_GE0)
    base_loss: str = _setting("trades", "CFA, DAFA: the adversarial training they modify: trades (default) or "
                              "pgd_at", "choice", choices=BASE_LOSSES)
    cfa_lambda1: float = _setting(0.5, "CFA: margin eps_k = (lambda1 + r_k) eps, r_k the class's training robust "
                                  "accuracy (default 0.5)", "number", check=_GE0)
    cfa_lambda2: float = _setting(0.5, "CFA: regularisation beta_k = (lambda2 + r_k) beta / (1 + (lambda2 + r_k) "
                                  "beta) (default 0.5)", "number", check=_GE0)
    cfa_begin: int = _setting(10, "CFA: the first epoch (0-based) trained with calibrated margins and "
                              "regularisation (default 10)", "whole", check=_GE1)
    cfa_decay: float = _setting(0.88, "CFA: decay of the fairness-aware weight average, per epoch (default 0.88)",
                                "number", check=(lambda v: 0 <= v < 1, "must be in [0, 1)"))
    cfa_threshold: float = _setting(0.24, "CFA: the weight average takes an epoch's weights only when the worst "
                                    "class's validation robust accuracy reaches this (default 0.24)", "number",
                                    check=_GE0)
    # fixed per-class factors (Figure 3's ablation): {class name or index: factor}
    class_bndy_weight: dict = _setting({}, "fixed boundary-loss weight factor for one class (repeatable; Figure 3)",
                                       "factors", check=(lambda d: all(math.isfinite(v) and v >= 0
                                                                       for v in d.values()),
                                                         "must be finite factors >= 0"),
                                       group=_FT, metavar="CLASS=F")
    class_eps: dict = _setting({}, "fixed training-radius factor for one class (repeatable; Figure 3)", "factors",
                               check=(lambda d: all(math.isfinite(v) and v > 0 for v in d.values()),
                                      "must be finite factors > 0"), group=_FT, metavar="CLASS=F")

    def __post_init__(self):
        for f in fields(self):  # numbers as users write them, from Python too: TrainConfig(eps="8/255")
            if isinstance(getattr(self, f.name), str) and f.metadata["kind"] in ("number", "whole", "fractions"):
                setattr(self, f.name, _coerce(f, getattr(self, f.name)))
        self.resolve_defaults()
        self.validate()

    # -- defaults that depend on the dataset and the method -----------------------------------
    def resolve_defaults(self) -> "TrainConfig":
        """Fill the settings left None whose default depends on the dataset (and on fine-tuning)."""
        if self.dataset not in DATASET_DEFAULTS:
            return self  # validate() names the dataset
        d = dict(DATASET_DEFAULTS[self.dataset], model="small_cnn" if self.dataset == "digits" else "preact_resnet18")
        if isinstance(self.init, str) and self.init.startswith("robustbench:"):
            d["model"] = self.init  # a zoo start brings its own network
        if self.method in method_names() and _method_registry().get(self.method).finetunes:
            d.update(FINETUNE_DEFAULTS)
        for f in fields(self):
            if f.metadata.get("dataset") and getattr(self, f.name) is None:
                setattr(self, f.name, d[f.name])
        # FRL's settings: the paper's defaults, or the authors' released recipe (--frl-variant authors)
        from .methods.frl import authors_preset

        frl = {**FRL_DEFAULTS, **(authors_preset(self.method) if self.frl_variant == "authors" else {})}
        for name, value in frl.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        return self

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first bad setting."""
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None:
                continue
            if meta["kind"] == "choice" and value not in meta["choices"]:
                raise ConfigError(f"unknown {f.name} {value!r}; choose from {', '.join(meta['choices'])}")
            if meta["kind"] == "number" and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ConfigError(f"{f.name} == {value!r}, must be a finite number")
            if meta["kind"] == "whole" and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{f.name} == {value!r}, must be a whole number")
            if meta["check"] is not None and not meta["check"][0](value):
                raise ConfigError(f"{f.name} == {_show(value)}, {meta['check'][1]}")
        check_radius(self.eps, self.norm, "eps")
        for name in ("out", "data_dir", "init"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_path(value)
                except ConfigError as exc:
                    raise ConfigError(f"{name} {exc}") from None
        method = _method_registry().get(self.method)
        if method.attack_loss_for(self) is not None and not self.eps > 0:
            raise ConfigError(f"eps == {self.eps:g}: {self.method} needs eps > 0")
        if method.reads_validation and self.val_per_class == 0:
            raise ConfigError(f"val_per_class == 0: {self.method} reads class-wise validation errors; "
                              f"use --val-per-class >= 1")
        # a method setting that would make the method its base loss, silently
        if self.method == "dafa" and self.dafa_warmup >= self.epochs:
            raise ConfigError(f"dafa_warmup == {self.dafa_warmup} with epochs == {self.epochs}: DAFA's weights are set "
                              f"after the warm-up epoch, so no epoch would train with them (it would be its base "
                              f"loss); use dafa_warmup < epochs")
        if self.method == "cfa" and self.cfa_begin >= self.epochs:
            raise ConfigError(f"cfa_begin == {self.cfa_begin} with epochs == {self.epochs}: CFA would never calibrate "
                              f"(it would be its base loss); use cfa_begin < epochs")
        if isinstance(self.init, str) and self.init.startswith("robustbench:") and self.model != self.init:
            raise ConfigError(f"model {self.model} with init {self.init}: a zoo start brings its own network "
                              f"(model {self.init}); leave --model out")
        if isinstance(self.model, str) and self.model.startswith("robustbench:"):
            if self.normalize:
                raise ConfigError(f"normalize with model {self.model}: RobustBench's models normalise inside already")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("nesterov needs momentum > 0 (Nesterov's step is a momentum step)")
        if method.finetunes and self.init is None:
            raise ConfigError(f"{self.method} starts from a pretrained robust model: pass --init RUN_DIR "
                              f"(make one with `frl train --method pgd_at ...`)")
        return self

    @property
    def step_size(self) -> float:
        return self.attack_step_size if self.attack_step_size is not None else self.eps / 4

    def to_dict(self) -> dict:
        return asdict(self)

    def differences(self, other: dict) -> list[str]:
        """Settings (other than runtime ones) whose values differ from a saved config."""
        mine = self.to_dict()
        other = {**LEGACY_DEFAULTS, **other}
        # FRL's loss and Remargin rule mean nothing to other methods: not a difference there
        ignore = RUNTIME_KEYS | (set() if self.method.startswith("frl") else FRL_ONLY_KEYS)
        if _same_place(other.get("init"), other.get("out"), mine["init"], mine["out"]):
            ignore = ignore | {"init"}
        return [f"{k}: saved {other.get(k)!r}, now {mine[k]!r}" for k in mine
                if k not in ignore and other.get(k) != mine[k]]

    # -- reading settings as users write them -------------------------------------------------
    @classmethod
    def from_mapping(cls, values: dict, where: str = "") -> "TrainConfig":
        """A config from {setting: value}: a TOML table or parsed flags; strings are parsed by kind.

        ``where`` (e.g. "[train] of configs/x.toml") starts the message of any ConfigError.
        """
        known = {f.name: f for f in fields(cls)}
        try:
            if not isinstance(values, dict):
                raise ConfigError("expected a table of settings")
            kwargs = {}
            for key, value in values.items():
                if key not in known:
                    close = difflib.get_close_matches(str(key).replace("-", "_"), known, n=1)
                    raise ConfigError(f"unknown setting {key!r}" + (f" (did you mean {close[0]}?)" if close else ""))
                kwargs[key] = _coerce(known[key], value)
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None


def _same_place(init_a, out_a, init_b, out_b) -> bool:
    """Two ``init`` settings name the same start: the same path, or the same place relative to their own run
    directory (``out``). So a pipeline's ``--runs`` given as a relative or an absolute path, moved or copied
    whole, resumes, while a stage that starts from another run is still a difference."""
    if init_a == init_b:
        return True
    if None in (init_a, init_b, out_a, out_b):
        return False
    return os.path.relpath(os.path.abspath(init_a), os.path.abspath(out_a)) == \
        os.path.relpath(os.path.abspath(init_b), os.path.abspath(out_b))


RUNTIME_KEYS = frozenset(f.name for f in fields(TrainConfig) if f.metadata["runtime"])
FRL_ONLY_KEYS = frozenset(f.name for f in fields(TrainConfig) if f.metadata["frl_only"])


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _coerce(f, value):
    """A value of field ``f`` as written in TOML or parsed by argparse, in the field's type."""
    kind = f.metadata["kind"]
    if value is None:
        return None
    flag = "--" + f.name.replace("_", "-")
    try:
        if kind == "number":
            return parse_number(value)
        if kind == "whole":
            return parse_whole(value)
    except ConfigError as exc:
        raise ConfigError(f"{f.name}: {exc}") from None
    if kind == "fractions":
        return _fractions(value)
    if kind == "factors":
        return _factors(value, flag)
    if kind in ("switch", "toggle") and not isinstance(value, bool):
        raise ConfigError(f"{f.name} == {value!r}, must be true or false")
    if kind in ("text", "choice") and not isinstance(value, str):
        raise ConfigError(f"{f.name} == {value!r}, must be a string")
    return value


# --- the flags of ``frl train`` ------------------------------------------------------------------

def parse_path(text) -> str:
    """A file or folder name as given: not empty (an empty name would mean the current directory) and
    without a NUL character."""
    text = str(text)
    if not text.strip():
        raise ConfigError("is empty: name a file or folder")
    if "\0" in text:
        raise ConfigError(f"{text!r} holds a NUL character")
    return text


def argparse_type(parse):
    """``parse`` as an argparse type: its ConfigError becomes argparse's one-line "invalid value" error."""
    def convert(text):
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def add_train_arguments(p: argparse.ArgumentParser, out_required: bool = True) -> None:
    """The flags of ``frl train``, one per :class:`TrainConfig` field.

    Every flag defaults to "not given" (``argparse.SUPPRESS``): the defaults are the config's own,
    filled by :class:`TrainConfig` for whatever was not given.
    """
    groups = {}
    for f in fields(TrainConfig):
        meta = f.metadata
        target = p if meta["group"] is None else groups.setdefault(meta["group"], p.add_argument_group(meta["group"]))
        flag = "--" + f.name.replace("_", "-")
        kw = dict(help=meta["help"], dest=f.name, default=argparse.SUPPRESS)
        kind = meta["kind"]
        if kind == "switch":
            kw["action"] = "store_true"
        elif kind == "toggle":
            kw["action"] = argparse.BooleanOptionalAction
        elif kind == "factors":
            kw.update(action="append", metavar=meta["metavar"])
        elif kind == "choice":
            kw.update(choices=meta["choices"], metavar=meta["metavar"])
        elif kind in ("number", "whole"):
            kw["type"] = argparse_type(parse_number if kind == "number" else parse_whole)
        if meta["required_flag"] and out_required:
            kw.update(required=True)
            del kw["default"]
        target.add_argument(flag, **kw)


class StrictParser(argparse.ArgumentParser):
    """argparse without its one loophole: ``--seed=--`` would hand the command an empty list."""

    def _get_values(self, action, arg_strings):
        if action.nargs is None and list(arg_strings) == ["--"]:
            raise argparse.ArgumentError(action, "expected one value, got '--'")
        return super()._get_values(action, arg_strings)


class _FlagParser(StrictParser):
    def error(self, message):  # noqa: D401 - argparse hook: a ConfigError instead of exit(2)
        raise ConfigError(message)


def settings_from_flags(argv) -> dict:
    """{setting: value} of ``frl train`` flags (e.g. ``["--eval-steps=5", "--no-compile"]``), only those given."""
    p = _FlagParser(prog="frl train", add_help=False)
    add_train_arguments(p, out_required=False)
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in vars(p.parse_args(list(argv))).items() if k in names}


def config_from_args(args) -> TrainConfig:
    """The config of parsed ``frl train`` flags: the flags given, the config's defaults for the rest."""
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig.from_mapping({k: v for k, v in vars(args).items() if k in names})


def config_from_dict(d: dict, where: str = "config.json") -> TrainConfig:
    """The config saved in a run directory's ``config.json`` (older files: missing settings get their old value).

    A file edited into something that is not a valid config is a ConfigError naming ``where``.
    """
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a JSON object of settings")
    known = {f.name: f for f in fields(TrainConfig)}
    try:
        return TrainConfig(**{k: _coerce(known[k], v) for k, v in {**LEGACY_DEFAULTS, **d}.items() if k in known})
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
