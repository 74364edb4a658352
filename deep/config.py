"""Training configuration: every setting of a run, the paper's defaults per dataset, and the CLI flags.

Pure Python (no torch import), so ``frl --help`` stays fast. ``TrainConfig`` is what a
run directory's ``config.json`` holds; ``--resume`` compares it field by field.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field, fields

__all__ = ["TrainConfig", "DATASET_DEFAULTS", "RUNTIME_KEYS", "add_train_arguments", "config_from_args"]

DATASETS = ("digits", "cifar10", "svhn", "imagefolder")
MODELS = ("small_cnn", "preact_resnet18", "wrn28_10")
METHODS = ("natural", "pgd_at", "trades", "baseline_reweight", "frl_reweight", "frl_remargin", "frl_reweight_remargin",
           "gaussian_noise")
FINETUNE = ("baseline_reweight", "frl_reweight", "frl_remargin", "frl_reweight_remargin")
NORMS = ("linf", "l2")
LR_SCHEDULES = ("step", "onecycle")
FRL_LOSSES = ("trades", "pgd_at")
REMARGIN_RULES = ("absolute", "relative")
CHECKPOINTS = ("last", "best")

# The paper's settings (Appendix A.1, Section 5.1): 200 epochs, SGD lr 0.1, momentum 0.9,
# weight decay 5e-4, lr x0.1 at epochs 100 and 150, batch 128, PGD-10 with step 2/255 at
# eps 8/255, 300 validation examples per class. Digits are the embedded quick default.
DATASET_DEFAULTS = {
    "cifar10": dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300),
    "svhn": dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300),
    "imagefolder": dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300),
    "digits": dict(epochs=20, lr=0.1, batch_size=16, eps=0.2, val_per_class=30),
}

# Settings that may differ between a run and its resumption.
RUNTIME_KEYS = frozenset({"out", "resume", "device", "data_dir", "download", "progress", "fast", "compile"})

FRL_ONLY_KEYS = frozenset({"frl_loss", "remargin_rule"})

# Settings added after runs were first written: a saved config without them had these values,
# so an older run directory still resumes.
LEGACY_DEFAULTS = {"lr_schedule": "step", "lr_peak_at": 0.4, "frl_loss": "trades", "remargin_rule": "absolute",
                   "init_checkpoint": "last"}


@dataclass
class TrainConfig:
    dataset: str = "digits"
    model: str = "small_cnn"
    method: str = "natural"
    epochs: int = 20
    eps: float = 0.2
    seed: int = 0
    out: str = "runs/run"
    device: str = "cpu"
    data_dir: str | None = None
    download: bool = False
    resume: bool = False
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_milestones: list = field(default_factory=lambda: [0.5, 0.75])
    lr_gamma: float = 0.1
    norm: str = "linf"
    attack_steps: int = 10
    attack_step_size: float | None = None  # default eps / 4 (2/255 at 8/255)
    attack_mode: str = "eval"
    beta: float = 6.0
    sigma: float = 0.25  # gaussian_noise: noise level of randomized smoothing
    val_per_class: int = 30
    eval_steps: int = 10
    test_every: int = 1
    normalize: bool = False
    progress: bool | None = None
    lr_step_every: int = 0  # > 0: lr x lr_gamma every N epochs (FRL: 40) instead of the milestones
    # "step": per-epoch decays (milestones / lr_step_every); "onecycle": per-iteration piecewise-linear
    # 0 -> lr at lr_peak_at of the iterations -> 0 (Smith 2018; Wong et al. 2020's cyclic schedule)
    lr_schedule: str = "step"
    lr_peak_at: float = 0.4
    # the fast path (default: on for CUDA, off for CPU): bf16 autocast, channels_last, fused SGD;
    # torch.compile (default: with fast on CUDA). Evaluation always runs in fp32 without compile.
    fast: bool | None = None
    compile: bool | None = None
    eval_random_start: bool = True
    # fine-tuning methods (FRL, Baseline Reweight) start from a pretrained run
    init: str | None = None
    init_checkpoint: str = "last"  # which checkpoint of --init: last, or best by validation robust error
    tau1: float = 0.05
    tau2: float = 0.05
    alpha1: float = 0.05
    alpha2: float = 0.05
    frl_variant: str = "paper"
    frl_beta: float | None = None  # default 1 (paper) / 1.5 (authors)
    phi_limit: float = 0.5
    eps_cap: float | None = None  # default 2 eps (paper) / 3 eps (authors)
    bndy_metric: str = "per_sample"
    # FRL's loss: "pgd_at" (clean CE + beta adversarial CE: the loss of the PGD-AT start; default, chosen
    # by `frl ablation frl-loss`, see the README) or "trades" (CE + beta KL, Section 4.1)
    frl_loss: str = "pgd_at"
    # Remargin: "relative" (the constraint of Eq. 6/9 and Algorithm 1: R_bndy(f,i) - R_bndy(f) - tau2,
    # eps_i never below eps; default) or "absolute" (Eq. 11 as printed, R_bndy(f,i) - tau2)
    remargin_rule: str = "relative"
    # fixed per-class factors (Figure 3's ablation): {class name or index: factor}
    class_bndy_weight: dict = field(default_factory=dict)
    class_eps: dict = field(default_factory=dict)

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad setting."""
        checks = [
            (self.dataset in DATASETS, f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}"),
            (self.model in MODELS, f"unknown model {self.model!r}; choose from {', '.join(MODELS)}"),
            (self.method in METHODS, f"unknown method {self.method!r}; choose from {', '.join(METHODS)}"),
            (self.norm in NORMS, f"unknown norm {self.norm!r}; choose from {', '.join(NORMS)}"),
            (self.epochs >= 1, f"epochs == {self.epochs}, must be >= 1"),
            (self.eps >= 0 and math.isfinite(self.eps), f"eps == {self.eps:g}, must be >= 0"),
            (self.method in ("natural", "gaussian_noise") or self.eps > 0,
             f"eps == {self.eps:g}: {self.method} needs eps > 0"),
            (self.sigma > 0, f"sigma == {self.sigma:g}, must be > 0"),
            (self.batch_size >= 1, f"batch_size == {self.batch_size}, must be >= 1"),
            (self.lr > 0, f"lr == {self.lr:g}, must be > 0"),
            (0 <= self.momentum < 1, f"momentum == {self.momentum:g}, must be in [0, 1)"),
            (self.weight_decay >= 0, f"weight_decay == {self.weight_decay:g}, must be >= 0"),
            (all(0 < m <= 1 for m in self.lr_milestones), "lr milestones must be fractions of the epochs in (0, 1]"),
            (self.attack_steps >= 1, f"attack_steps == {self.attack_steps}, must be >= 1"),
            (self.attack_step_size is None or self.attack_step_size > 0,
             f"attack_step_size == {self.attack_step_size}, must be > 0"),
            (self.attack_mode in ("eval", "train"), f"attack_mode == {self.attack_mode!r}, must be eval or train"),
            (self.beta >= 0, f"beta == {self.beta:g}, must be >= 0"),
            (self.val_per_class >= 0, f"val_per_class == {self.val_per_class}, must be >= 0"),
            (self.eval_steps >= 1, f"eval_steps == {self.eval_steps}, must be >= 1"),
            (self.test_every >= 0, f"test_every == {self.test_every}, must be >= 0"),
            (self.device == "cpu" or self.device.startswith("cuda"), f"device == {self.device!r}, must be cpu or cuda"),
            (self.lr_step_every >= 0, f"lr_step_every == {self.lr_step_every}, must be >= 0"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule == {self.lr_schedule!r}, must be one of "
                                               f"{', '.join(LR_SCHEDULES)}"),
            (0 <= self.lr_peak_at < 1, f"lr_peak_at == {self.lr_peak_at:g}, must be in [0, 1)"),
            (self.frl_loss in FRL_LOSSES, f"frl_loss == {self.frl_loss!r}, must be one of {', '.join(FRL_LOSSES)}"),
            (self.remargin_rule in REMARGIN_RULES, f"remargin_rule == {self.remargin_rule!r}, must be one of "
                                                   f"{', '.join(REMARGIN_RULES)}"),
            (self.init_checkpoint in CHECKPOINTS, f"init_checkpoint == {self.init_checkpoint!r}, must be one of "
                                                  f"{', '.join(CHECKPOINTS)}"),
            (self.tau1 > 0, f"tau1 == {self.tau1:g}, must be > 0"),
            (self.tau2 > 0, f"tau2 == {self.tau2:g}, must be > 0"),
            (self.alpha1 >= 0, f"alpha1 == {self.alpha1:g}, must be >= 0"),
            (self.alpha2 >= 0, f"alpha2 == {self.alpha2:g}, must be >= 0"),
            (self.frl_variant in ("paper", "authors"), f"frl_variant == {self.frl_variant!r}, must be paper or authors"),
            (self.phi_limit > 0, f"phi_limit == {self.phi_limit:g}, must be > 0"),
            (self.eps_cap is None or self.eps_cap > 0, f"eps_cap == {self.eps_cap}, must be > 0"),
            (self.bndy_metric in ("per_sample", "accdiff"), f"bndy_metric == {self.bndy_metric!r}, "
                                                               "must be per_sample or accdiff"),
            (all(math.isfinite(v) and v >= 0 for v in self.class_bndy_weight.values()),
             "class boundary weights must be finite and >= 0"),
            (all(math.isfinite(v) and v > 0 for v in self.class_eps.values()), "class eps factors must be finite and > 0"),
            (self.lr_gamma > 0 and math.isfinite(self.lr_gamma), f"lr_gamma == {self.lr_gamma:g}, must be > 0"),
            (self.frl_beta is None or self.frl_beta >= 0, f"frl_beta == {self.frl_beta}, must be >= 0"),
            (self.seed >= 0, f"seed == {self.seed}, must be >= 0"),
            (self.method not in FINETUNE or self.init is not None,
             f"{self.method} starts from a pretrained robust model: pass --init RUN_DIR "
             f"(make one with `frl train --method pgd_at ...`)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
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
        return [f"{k}: saved {other.get(k)!r}, now {mine[k]!r}" for k in mine
                if k not in ignore and other.get(k) != mine[k]]


def add_train_arguments(p: argparse.ArgumentParser, number, whole) -> None:
    """The flags of ``frl train`` / ``python -m deep.train``."""
    p.add_argument("--dataset", choices=DATASETS, default="digits", help="dataset (default digits, embedded)")
    p.add_argument("--model", choices=MODELS, default=None, help="architecture (default small_cnn for digits, "
                                                                 "preact_resnet18 otherwise)")
    p.add_argument("--method", choices=METHODS, default="natural", help="training method (default natural)")
    p.add_argument("--epochs", type=whole, default=None, help="epochs (paper: 200; digits: 20)")
    p.add_argument("--eps", type=number, default=None, help="training radius, fractions allowed: 8/255 "
                                                            "(default 8/255; digits 0.2)")
    p.add_argument("--seed", type=whole, default=0, help="seed of everything random (default 0)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--data-dir", default=None, help="where the dataset lives (cifar10, svhn, imagefolder)")
    p.add_argument("--download", action="store_true", help="download cifar10 / svhn into --data-dir (torchvision)")
    p.add_argument("--batch-size", type=whole, default=None, help="batch size (paper: 128)")
    p.add_argument("--lr", type=number, default=None, help="initial SGD learning rate (paper: 0.1)")
    p.add_argument("--momentum", type=number, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=number, default=5e-4, help="weight decay (default 5e-4)")
    p.add_argument("--lr-milestones", default="0.5,0.75",
                   help="lr x lr-gamma at these fractions of the epochs (default 0.5,0.75: epochs 100, 150 of 200)")
    p.add_argument("--lr-gamma", type=number, default=0.1, help="lr decay factor (default 0.1)")
    p.add_argument("--norm", choices=NORMS, default="linf", help="attack norm (default linf)")
    p.add_argument("--attack-steps", type=whole, default=10, help="PGD steps in training (default 10)")
    p.add_argument("--attack-step-size", type=number, default=None, help="PGD step size (default eps/4 = 2/255)")
    p.add_argument("--attack-mode", choices=("eval", "train"), default="eval",
                   help="model mode while the training attack runs (default eval)")
    p.add_argument("--beta", type=number, default=6.0, help="TRADES beta = 1/lambda (paper: 1 and 6; default 6)")
    p.add_argument("--sigma", type=number, default=0.25, help="gaussian_noise: noise sigma (default 0.25)")
    p.add_argument("--val-per-class", type=whole, default=None, help="validation examples held out per class "
                                                                     "(paper: 300; digits 30)")
    p.add_argument("--eval-steps", type=whole, default=10, help="PGD steps of the per-epoch evaluation (default 10)")
    p.add_argument("--test-every", type=whole, default=1,
                   help="evaluate on the test set every N epochs (0: only at the end; default 1)")
    p.add_argument("--normalize", action="store_true", help="normalise inputs inside the model (dataset mean/std)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: only on a terminal)")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast, channels_last, fused SGD (default: on with CUDA)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the training forward (default: on with --fast on CUDA)")
    p.add_argument("--eval-random-start", action=argparse.BooleanOptionalAction, default=True,
                   help="random start of the evaluation PGD (default on)")
    p.add_argument("--lr-step-every", type=whole, default=None,
                   help="lr x lr-gamma every N epochs instead of the milestones (FRL default 40)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="step",
                   help="step: per-epoch decays (milestones or --lr-step-every; default); onecycle: per-iteration "
                        "linear warm-up from 0 to --lr, then linear decay to 0 (Wong et al. 2020)")
    p.add_argument("--lr-peak-at", type=number, default=0.4,
                   help="onecycle: fraction of the iterations at which the lr peaks (default 0.4)")
    g = p.add_argument_group("FRL and Baseline Reweight (fine-tuning from --init)")
    g.add_argument("--init", default=None, help="pretrained run directory or checkpoint file to start from")
    g.add_argument("--init-checkpoint", choices=CHECKPOINTS, default="last",
                   help="which checkpoint of the --init run: last (default) or best (validation robust error)")
    g.add_argument("--tau1", type=number, default=0.05, help="standard-error constraint tau1 > 0 (default 0.05)")
    g.add_argument("--tau2", type=number, default=0.05, help="boundary-error constraint tau2 > 0 (default 0.05)")
    g.add_argument("--alpha1", type=number, default=0.05, help="multiplier step alpha1 >= 0 (default 0.05)")
    g.add_argument("--alpha2", type=number, default=0.05, help="multiplier / margin step alpha2 >= 0 (default 0.05)")
    g.add_argument("--frl-variant", choices=("paper", "authors"), default="paper",
                   help="update rules of the paper's text (default) or of the authors' released code")
    g.add_argument("--frl-beta", type=number, default=None, help="weight of the boundary (KL) term "
                                                                 "(default 1 paper / 1.5 authors)")
    g.add_argument("--phi-limit", type=number, default=0.5, help="cap on sum(phi) (authors' variant, baseline)")
    g.add_argument("--eps-cap", type=number, default=None, help="largest per-class radius (default 2 eps paper, "
                                                                "3 eps authors)")
    g.add_argument("--bndy-metric", choices=("per_sample", "accdiff"), default="per_sample",
                   help="boundary error driving the multipliers: per-sample (ours) or clean minus attacked "
                        "accuracy (the authors')")
    g.add_argument("--frl-loss", choices=FRL_LOSSES, default="pgd_at",
                   help="FRL loss: pgd_at = clean CE + beta adversarial CE, the loss of the PGD-AT start (default), "
                        "trades = CE + beta KL (Section 4.1)")
    g.add_argument("--remargin-rule", choices=REMARGIN_RULES, default="relative",
                   help="Remargin: relative = the constraint of Eq. 9 and Algorithm 1 (R_bndy(f,i) - R_bndy(f) - "
                        "tau2), eps_i >= eps (default); absolute = Eq. 11 as printed (R_bndy(f,i) - tau2)")
    g.add_argument("--class-bndy-weight", action="append", default=[], metavar="CLASS=F",
                   help="fixed boundary-loss weight factor for one class (repeatable; Figure 3)")
    g.add_argument("--class-eps", action="append", default=[], metavar="CLASS=F",
                   help="fixed training-radius factor for one class (repeatable; Figure 3)")


def _factors(items, flag) -> dict:
    out = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{flag} {item!r}: expected CLASS=FACTOR, e.g. deer=2.0") from None
        if not sep or not name.strip():
            raise ValueError(f"{flag} {item!r}: expected CLASS=FACTOR, e.g. deer=2.0")
    return out


# Fine-tuning (FRL, Baseline Reweight) defaults: Section 5.1, 40 epochs per stage at lr 1e-3, x0.1 every 40.
FINETUNE_DEFAULTS = dict(epochs=40, lr=1e-3, lr_step_every=40)


def config_from_args(args) -> TrainConfig:
    """Fill dataset (and fine-tuning) defaults for the flags left unset, then validate."""
    d = dict(DATASET_DEFAULTS[args.dataset])
    if args.method in FINETUNE:
        d.update(FINETUNE_DEFAULTS)
    try:
        milestones = [float(v) for v in str(args.lr_milestones).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--lr-milestones {args.lr_milestones!r}: expected comma-separated fractions") from None
    cfg = TrainConfig(
        dataset=args.dataset,
        model=args.model or ("small_cnn" if args.dataset == "digits" else "preact_resnet18"),
        method=args.method,
        epochs=d["epochs"] if args.epochs is None else args.epochs,
        eps=d["eps"] if args.eps is None else args.eps,
        seed=args.seed,
        out=args.out,
        device=args.device,
        data_dir=args.data_dir,
        download=args.download,
        resume=args.resume,
        batch_size=d["batch_size"] if args.batch_size is None else args.batch_size,
        lr=d["lr"] if args.lr is None else args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        lr_milestones=milestones,
        lr_gamma=args.lr_gamma,
        norm=args.norm,
        attack_steps=args.attack_steps,
        attack_step_size=args.attack_step_size,
        attack_mode=args.attack_mode,
        beta=args.beta,
        sigma=args.sigma,
        val_per_class=d["val_per_class"] if args.val_per_class is None else args.val_per_class,
        eval_steps=args.eval_steps,
        test_every=args.test_every,
        normalize=args.normalize,
        progress=args.progress,
        lr_step_every=d.get("lr_step_every", 0) if args.lr_step_every is None else args.lr_step_every,
        lr_schedule=args.lr_schedule,
        lr_peak_at=args.lr_peak_at,
        fast=args.fast,
        compile=args.compile,
        eval_random_start=args.eval_random_start,
        init=args.init,
        init_checkpoint=args.init_checkpoint,
        tau1=args.tau1,
        tau2=args.tau2,
        alpha1=args.alpha1,
        alpha2=args.alpha2,
        frl_variant=args.frl_variant,
        frl_beta=args.frl_beta,
        phi_limit=args.phi_limit,
        eps_cap=args.eps_cap,
        bndy_metric=args.bndy_metric,
        frl_loss=args.frl_loss,
        remargin_rule=args.remargin_rule,
        class_bndy_weight=_factors(args.class_bndy_weight, "--class-bndy-weight"),
        class_eps=_factors(args.class_eps, "--class-eps"),
    )
    return cfg.validate()


def config_from_dict(d: dict) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in {**LEGACY_DEFAULTS, **d}.items() if k in known})
