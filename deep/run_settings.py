"""The settings every run has (:data:`COMMON`), their dataset and fine-tuning defaults, and old values.

A method's own settings live in its file (``Method.declares``); :func:`deep.config.settings_table`
puts both together. No torch here: the method registry is read on first use.
"""

from __future__ import annotations

import importlib
import math

from .choices import FRL_DECAY_EVERY, Checkpoint, DatasetName, LrSchedule, ModelName, Norm
from .settings import FRACTION, GE0, GE1, GT0, Setting

__all__ = ["COMMON", "DATASET_DEFAULTS", "FINETUNE_DEFAULTS", "TRAINING_EVAL_STEPS", "SEED_LIMIT",
           "LEGACY_DEFAULTS", "RUNTIME_KEYS", "MODELS", "method_registry", "method_names"]

DATASETS = DatasetName.values()
MODELS = ModelName.values()

# The paper's settings (Appendix A.1, Section 5.1): 200 epochs, SGD lr 0.1, momentum 0.9,
# weight decay 5e-4, lr x0.1 at epochs 100 and 150, batch 128, PGD-10 with step 2/255 at
# eps 8/255, 300 validation examples per class. Digits are the embedded quick default.
_IMAGES = dict(epochs=200, lr=0.1, batch_size=128, eps=8 / 255, val_per_class=300, lr_step_every=0)
DATASET_DEFAULTS = {"cifar10": _IMAGES, "svhn": _IMAGES, "imagefolder": _IMAGES,
                    "digits": dict(epochs=20, lr=0.1, batch_size=16, eps=0.2, val_per_class=30, lr_step_every=0)}
# Fine-tuning (FRL, Baseline Reweight) defaults: Section 5.1, 40 epochs per stage at lr 1e-3, x0.1 every 40.
FINETUNE_DEFAULTS = dict(epochs=40, lr=1e-3, lr_step_every=FRL_DECAY_EVERY)
TRAINING_EVAL_STEPS = 10  # PGD-10 for the per-epoch validation (what FRL's controller reads)
SEED_LIMIT = 2 ** 63  # torch.manual_seed takes 64-bit seeds; the probe split uses seed + 1

# Settings added after runs were first written: a saved config without them had these values,
# so an older run directory still resumes.
LEGACY_DEFAULTS = {"lr_schedule": "step", "lr_peak_at": 0.4, "frl_loss": "trades", "remargin_rule": "absolute",
                   "init_checkpoint": "last", "wat_eta": 0.1, "dafa_warmup": 70, "dafa_lambda": 1.0,
                   "base_loss": "trades", "cfa_lambda1": 0.5, "cfa_lambda2": 0.5, "cfa_begin": 10, "cfa_decay": 0.88,
                   "cfa_threshold": 0.24, "nesterov": False, "val_split": "random",
                   "frl_weight_rule": "switched"}


def method_registry():
    return importlib.import_module("deep.methods")  # imported on first use: it brings torch


def method_names() -> tuple:
    """The registered training methods (:mod:`deep.methods`), in their listing order."""
    return method_registry().names()


class _ModelChoices:
    """Our architectures, and ``robustbench:NAME`` (a RobustBench zoo entry's network, :mod:`deep.zoo`)."""

    def __contains__(self, name):
        return name in MODELS or (isinstance(name, str) and name.startswith("robustbench:") and len(name) > 12)

    def __iter__(self):
        return iter((*MODELS, "robustbench:NAME"))


class _MethodChoices:
    """The registered methods, read from the registry only when a value is checked or listed."""

    def __contains__(self, name):
        return name in method_names()

    def __iter__(self):
        return iter(method_names())


_FT = "fine-tuning from a pretrained model (--init)"
_DEVICE = (lambda v: v == "cpu" or v.startswith("cuda"), "must be cpu or cuda")

# The settings every run has (a method's own settings live in its file: Method.declares).
COMMON = (
    Setting("dataset", "digits", "dataset (default digits, embedded)", "choice", choices=DATASETS),
    Setting("model", None, "architecture (default small_cnn for digits, preact_resnet18 otherwise)", "choice",
            choices=_ModelChoices(), dataset=True),
    Setting("method", "natural", "training method: %(choices)s (default natural)", "choice",
            choices=_MethodChoices(), metavar="METHOD"),
    Setting("epochs", None, "epochs (paper: 200; digits: 20)", "whole", check=GE1, dataset=True),
    Setting("eps", None, "training radius, fractions allowed: 8/255 (default 8/255; digits 0.2)", "number",
            check=GE0, dataset=True),
    Setting("seed", 0, "seed of everything random (default 0)", "whole",
            check=(lambda v: 0 <= v < SEED_LIMIT, "must be in [0, 2**63) (torch's seeds)")),
    Setting("out", "runs/run", "run directory", "text", runtime=True, required_flag=True),
    Setting("device", "cpu", "cpu or cuda[:N] (default cpu)", "text", runtime=True, check=_DEVICE),
    Setting("data_dir", None, "where the dataset lives (cifar10, svhn, imagefolder)", "text", runtime=True),
    Setting("download", False, "download cifar10 / svhn into --data-dir (torchvision)", "switch", runtime=True),
    Setting("zoo_dir", "models", "RobustBench's model folder for --init robustbench:NAME (its layout: "
            "DIR/cifar10/Linf/NAME.pt; default models)", "text", runtime=True),
    Setting("resume", False, "continue the run in --out from its checkpoint", "switch", runtime=True),
    Setting("batch_size", None, "batch size (paper: 128)", "whole", check=GE1, dataset=True),
    Setting("lr", None, "initial SGD learning rate (paper: 0.1)", "number", check=GT0, dataset=True),
    Setting("momentum", 0.9, "SGD momentum (default 0.9)", "number", check=FRACTION),
    Setting("weight_decay", 5e-4, "weight decay (default 5e-4)", "number", check=GE0),
    Setting("nesterov", False, "Nesterov momentum (default off; DAFA's code trains with it)", "switch"),
    Setting("lr_milestones", [0.5, 0.75], "lr x lr-gamma at these fractions of the epochs (default 0.5,0.75: "
            "epochs 100, 150 of 200)", "fractions",
            check=(lambda v: all(0 < m <= 1 for m in v), "must be fractions of the epochs in (0, 1]")),
    Setting("lr_gamma", 0.1, "lr decay factor (default 0.1)", "number", check=GT0),
    Setting("norm", "linf", "attack norm (default linf)", "choice", choices=Norm.values()),
    Setting("attack_steps", 10, "PGD steps in training (default 10)", "whole", check=GE1),
    Setting("attack_step_size", None, "PGD step size (default eps/4 = 2/255)", "number", check=GT0),
    Setting("attack_mode", "eval", "model mode while the training attack runs (default eval)", "choice",
            choices=("eval", "train")),
    Setting("val_per_class", None, "validation examples held out per class (paper: 300; digits 30)", "whole",
            check=GE0, dataset=True),
    Setting("val_split", "random", "which examples are held out: random (drawn by the seed, default) or tail (the "
            "last of each class in file order, as the authors' FRL code)", "choice", choices=("random", "tail")),
    Setting("eval_steps", None, f"PGD steps of the per-epoch evaluation, which FRL's controller reads (default "
            f"{TRAINING_EVAL_STEPS}; 20 with --frl-variant authors)", "whole", check=GE1),
    Setting("test_every", 1, "evaluate on the test set every N epochs (0: only at the end; default 1)", "whole",
            check=GE0),
    Setting("normalize", False, "normalise inputs inside the model (dataset mean/std)", "switch"),
    Setting("progress", None, "progress bar (default: only on a terminal)", "toggle", runtime=True),
    Setting("lr_step_every", None, "lr x lr-gamma every N epochs instead of the milestones (FRL default 40)",
            "whole", check=GE0, dataset=True),
    Setting("lr_schedule", "step", "step: per-epoch decays (milestones or --lr-step-every; default); onecycle: "
            "per-iteration linear warm-up from 0 to --lr, then linear decay to 0 (Wong et al. 2020)", "choice",
            choices=LrSchedule.values()),
    Setting("lr_peak_at", 0.4, "onecycle: fraction of the iterations at which the lr peaks (default 0.4)",
            "number", check=FRACTION),
    # the fast path (deep.fast_path): what was measured to help on this device and model by default
    Setting("fast", None, "bf16 autocast (on a CPU only with native bf16), channels_last, fused SGD, folded fp32 "
            "evaluation (default: what was measured to help: on with CUDA, per model on a CPU)", "toggle",
            runtime=True),
    Setting("compile", None, "torch.compile the training forward (default: on with the fast path on CUDA)",
            "toggle", runtime=True),
    Setting("eval_random_start", True, "random start of the evaluation PGD (default on)", "toggle"),
    Setting("init", None, "pretrained run directory or checkpoint file to start from", "text", group=_FT),
    Setting("init_checkpoint", "last", "which model of the --init run: last (default), best (validation robust "
            "error) or averaged (cfa's weight average)", "choice", choices=Checkpoint.values(), group=_FT),
    # fixed per-class factors (Figure 3's ablation): {class name or index: factor}
    Setting("class_bndy_weight", {}, "fixed boundary-loss weight factor for one class (repeatable; Figure 3)",
            "factors", check=(lambda d: all(math.isfinite(v) and v >= 0 for v in d.values()), "must be finite factors >= 0"),
            group=_FT, metavar="CLASS=F"),
    Setting("class_eps", {}, "fixed training-radius factor for one class (repeatable; Figure 3)", "factors",
            check=(lambda d: all(math.isfinite(v) and v > 0 for v in d.values()), "must be finite factors > 0"), group=_FT,
            metavar="CLASS=F"),
)
RUNTIME_KEYS = frozenset(s.name for s in COMMON if s.runtime)
