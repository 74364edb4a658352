"""Training methods: one small file each, all plugged into :mod:`deep.train`'s single loop."""

import enum

from .base import Method, weighted_mean
from .frl import FRL, BaselineReweight
from .gaussian_noise import GaussianNoise
from .natural import Natural
from .pgd_at import PGDAT
from .trades import TRADES


class MethodName(str, enum.Enum):
    NATURAL = "natural"
    PGD_AT = "pgd_at"
    TRADES = "trades"
    BASELINE_REWEIGHT = "baseline_reweight"
    FRL_REWEIGHT = "frl_reweight"
    FRL_REMARGIN = "frl_remargin"
    FRL_REWEIGHT_REMARGIN = "frl_reweight_remargin"
    GAUSSIAN_NOISE = "gaussian_noise"


FINETUNE_METHODS = {MethodName.BASELINE_REWEIGHT, MethodName.FRL_REWEIGHT, MethodName.FRL_REMARGIN,
                    MethodName.FRL_REWEIGHT_REMARGIN}


def build(name, num_classes, eps, attack, cfg=None):
    """Instantiate a method by name with the settings it needs from a TrainConfig-like ``cfg``."""
    name = MethodName(name)
    if name is MethodName.NATURAL:
        return Natural(num_classes, eps, attack)
    if name is MethodName.PGD_AT:
        return PGDAT(num_classes, eps, attack)
    if name is MethodName.GAUSSIAN_NOISE:
        return GaussianNoise(num_classes, eps, attack, sigma=cfg.sigma)
    if name is MethodName.TRADES:
        return TRADES(num_classes, eps, attack, beta=cfg.beta)
    if name is MethodName.BASELINE_REWEIGHT:
        return BaselineReweight(num_classes, eps, attack, alpha1=cfg.alpha1, phi_limit=cfg.phi_limit)
    return FRL(num_classes, eps, attack, reweight=name is not MethodName.FRL_REMARGIN,
               remargin=name is not MethodName.FRL_REWEIGHT, tau1=cfg.tau1, tau2=cfg.tau2, alpha1=cfg.alpha1,
               alpha2=cfg.alpha2, variant=cfg.frl_variant, beta=cfg.frl_beta, phi_limit=cfg.phi_limit,
               eps_cap=cfg.eps_cap, decay_every=cfg.lr_step_every or 40, bndy_metric=cfg.bndy_metric,
               loss=cfg.frl_loss, remargin_rule=cfg.remargin_rule)


ATTACK_METHODS = {MethodName.PGD_AT, MethodName.TRADES} | FINETUNE_METHODS
KL_ATTACK_METHODS = {MethodName.TRADES, MethodName.FRL_REWEIGHT, MethodName.FRL_REMARGIN,
                     MethodName.FRL_REWEIGHT_REMARGIN}

__all__ = ["Method", "MethodName", "FINETUNE_METHODS", "ATTACK_METHODS", "KL_ATTACK_METHODS", "build", "Natural",
           "PGDAT", "TRADES", "FRL", "BaselineReweight", "GaussianNoise", "weighted_mean"]
