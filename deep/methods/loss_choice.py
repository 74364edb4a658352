"""The TRADES / PGD-AT choice that FRL (``frl_loss``), DAFA and CFA (``base_loss``) make, in one place.

* ``trades``: the robust term is KL(p_clean || p_adv) per sample, against a KL attack (Zhang et al. 2019);
* ``pgd_at``: the robust term is the cross-entropy at the attack's point, against a CE attack
  (Madry et al. 2018).

A method that mixes a natural and a robust term with per-class weights (TRADES, FRL) computes
``nat + beta * rob`` with :func:`two_terms`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..choices import Loss
from ..settings import Setting
from .base import weighted_mean

__all__ = ["BASE_LOSS", "attack_loss_of", "check_loss", "kl_per_sample", "robust_per_sample", "two_terms"]

# the setting of the methods that modify an adversarial training (DAFA, CFA)
BASE_LOSS = Setting("base_loss", "trades", "CFA, DAFA: the adversarial training they modify: trades (default) or "
                    "pgd_at", "choice", choices=Loss.values())


def check_loss(loss: str, name: str = "base_loss") -> str:
    """``loss`` if it is one of :class:`~deep.choices.Loss`; ValueError naming ``name`` otherwise."""
    if loss not in Loss.values():
        raise ValueError(f"{name} == {loss!r}, must be one of {', '.join(Loss.values())}")
    return loss


def attack_loss_of(loss: str) -> str:
    """The training attack's loss: "ce" for PGD-AT, "kl" for TRADES."""
    return "ce" if loss == Loss.PGD_AT else "kl"


def kl_per_sample(adv_logits, clean_logits):
    """KL(p_clean || p_adv) summed over classes, one value per sample (TRADES' robust term)."""
    return F.kl_div(F.log_softmax(adv_logits.float(), 1), F.log_softmax(clean_logits.float(), 1),
                    reduction="none", log_target=True).sum(1)


def robust_per_sample(loss: str, adv_logits, clean_logits, y) -> torch.Tensor:
    """The robust term per sample: KL (trades) or the cross-entropy at the attack's point (pgd_at)."""
    if loss == Loss.TRADES:
        return kl_per_sample(adv_logits, clean_logits)
    return F.cross_entropy(adv_logits, y, reduction="none")


def two_terms(nat: torch.Tensor, rob: torch.Tensor, w_nat: torch.Tensor, w_rob: torch.Tensor,
              beta: float) -> torch.Tensor:
    """weighted_mean(nat, w_nat) + beta * weighted_mean(rob, w_rob): TRADES' split of the loss that FRL
    reweights (paper Eq. 7-9); uniform weights give the plain means."""
    return weighted_mean(nat, w_nat) + beta * weighted_mean(rob, w_rob)
