"""The closed sets of the project, once: norms, losses, checkpoints, datasets, models, schedules.

Every flag's ``choices``, every config check and every ``if loss == ...`` names its values through
these enums (``str`` enums: ``Norm.LINF == "linf"``, so JSON and TOML files keep their plain strings).
No torch here: the command line builds its parser from this module without loading torch.

    >>> Norm.values()
    ('linf', 'l2')
    >>> Loss("pgd_at") is Loss.PGD_AT
    True
"""

from __future__ import annotations

import enum
import math

from .errors import ConfigError

__all__ = ["Choice", "Norm", "Loss", "Checkpoint", "DatasetName", "ModelName", "LrSchedule", "RemarginRule",
           "MAX_RADIUS", "check_radius", "EPS_DIV", "DEFAULT_EVAL_STEPS",
           "FRL_DECAY_EVERY"]


class Choice(str, enum.Enum):
    """A closed set of strings; ``values()`` lists them in declaration order."""

    @classmethod
    def values(cls) -> tuple:
        return tuple(m.value for m in cls)

    def __str__(self) -> str:
        return self.value


class Norm(Choice):
    """The threat model: l_inf or l2 balls (attacks, theory, AutoAttack)."""
    LINF = "linf"
    L2 = "l2"


class Loss(Choice):
    """The adversarial loss a method builds on: TRADES (CE + beta KL, Zhang et al. 2019) or PGD-AT
    (Madry et al. 2018; here clean CE + beta adversarial CE where a method mixes the two)."""
    TRADES = "trades"
    PGD_AT = "pgd_at"


class Checkpoint(Choice):
    """The models a run can be evaluated with: the last epoch's, the best by validation robust error,
    and the weight average of a method that keeps one (CFA)."""
    LAST = "last"
    BEST = "best"
    AVERAGED = "averaged"


class DatasetName(Choice):
    DIGITS = "digits"
    CIFAR10 = "cifar10"
    SVHN = "svhn"
    IMAGEFOLDER = "imagefolder"


class ModelName(Choice):
    SMALL_CNN = "small_cnn"
    COMPACT_CNN = "compact_cnn"
    COMPACT_CNN_SILU = "compact_cnn_silu"
    PREACT_RESNET18 = "preact_resnet18"
    PREACT_RESNET18_AUTHORS = "preact_resnet18_authors"
    WRN28_10 = "wrn28_10"


class LrSchedule(Choice):
    """step: per-epoch decays (milestones / lr_step_every); onecycle: per-iteration piecewise-linear
    0 -> lr at lr_peak_at of the iterations -> 0 (Smith 2018; Wong et al. 2020's cyclic schedule)."""
    STEP = "step"
    ONECYCLE = "onecycle"


class RemarginRule(Choice):
    """FRL Remargin: relative = the constraint of Eq. 9 and Algorithm 1; absolute = Eq. 11 as printed."""
    ABSOLUTE = "absolute"
    RELATIVE = "relative"


class WeightRule(Choice):
    """FRL Reweight's class weights from the multipliers: switched = the gradient of Eq. 9 with respect to
    the class-wise errors, a class's multiplier counted only while it breaks its constraint; multiplier =
    1/K + phi_i - mean(phi) for every class (the form of the authors' released code)."""
    SWITCHED = "switched"
    MULTIPLIER = "multiplier"


# Inputs live in [0, 1]: an l_inf radius above 1 covers the whole cube; an l2 radius is bounded by
# the cube's diameter, sqrt(n) (55 for CIFAR-10); 1e4 allows images of up to 10^8 values.
MAX_RADIUS = {Norm.LINF: 1.0, Norm.L2: 1e4}

# the floor of every division by a sum of weights or probabilities (a weighted mean of nothing is 0)
EPS_DIV = 1e-12
# the PGD steps of every final evaluation (the paper's Table 2: PGD-20)
DEFAULT_EVAL_STEPS = 20
# Section 5.1: FRL's fine-tuning decays the lr (and alpha) x0.1 every 40 epochs (``lr_step_every``)
FRL_DECAY_EVERY = 40


def check_radius(eps: float, norm: str, name: str = "eps") -> float:
    """ConfigError unless 0 <= eps <= the largest meaningful radius of the norm for inputs in [0, 1]."""
    bound = MAX_RADIUS.get(norm, MAX_RADIUS[Norm.L2])
    if not (math.isfinite(eps) and 0 <= eps <= bound):
        raise ConfigError(f"{name} == {eps:g}, must be in [0, {bound:g}] for {norm} (inputs are in [0, 1])")
    return eps
