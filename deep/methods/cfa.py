"""CFA: Class-wise calibrated Fair Adversarial training (Wei, Wang, Guo and Wang, CVPR 2023, arXiv:2303.14460).

Reference code: github.com/PKU-ML/CFA (``train.py``, ``attack.py``, ``utils.weight_average`` at commit
071f333). Three parts, on top of TRADES (``base_loss="trades"``, the reference's default mode) or
PGD-AT (``"pgd_at"``):

* **CCM, class-wise calibrated margin**: from epoch ``begin`` (10; 0-based) on, class k is attacked
  within eps_k = (lambda1 + r_k) eps, r_k its robust accuracy on the training examples during the
  previous epoch (the adversarial outputs the training step computed anyway); lambda1 = 0.5. A class
  the model finds hard trains with a smaller margin. The PGD step stays the absolute 2/255
  (``attack_step_size``) whatever eps_k, as in the reference;
* **CCR, class-wise calibrated regularisation** (TRADES form only): the loss is the convex combination
  (1 - beta_y) CE(f(x), y) + beta_y KL(f(x) || f(x_adv)) with beta_k = (lambda2 + r_k) beta /
  (1 + (lambda2 + r_k) beta), lambda2 = 0.5, and beta_k = beta / (1 + beta) before ``begin``
  (TRADES scaled by 1 / (1 + beta), the reference's form throughout);
* **FAWA, fairness-aware weight averaging**: after each epoch, if the worst class's validation robust
  accuracy (the loop's PGD evaluation) reaches ``threshold`` (0.24), the average takes the epoch's
  weights, avg <- decay avg + (1 - decay) w with decay 0.88 (the first such epoch copies them); other
  epochs leave it as it is. Every entry of the model's state is averaged, batch-norm statistics
  included; integer counters are copied. The average is the model CFA reports:
  ``frl eval RUN --checkpoint averaged``.

Unlike the reference, the training accuracies and the average are checkpointed, so a resumed run
continues exactly (the reference restarts them). Differences kept on purpose: r_k is the accuracy over
each class's own examples (the reference's m * correct_k / N is the same for balanced classes), and
the average before the gate first opens does not exist (the reference's is the random initialisation):
evaluating it then is an error that says so.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .base import ClassSums, Method, register
from ..errors import ConfigError
from ..settings import FRACTION, GE0, GE1, Setting
from .loss_choice import BASE_LOSS, attack_loss_of, check_loss, kl_per_sample

__all__ = ["CFA", "cfa_margins", "cfa_betas", "average_weights"]


def cfa_margins(train_rob_acc, lam1: float, eps: float) -> torch.Tensor:
    """CCM: eps_k = (lambda1 + r_k) eps (CFA, Sec. 4.1)."""
    if not lam1 >= 0:
        raise ValueError(f"cfa_lambda1 == {lam1}, must be >= 0")
    return (lam1 + torch.as_tensor(train_rob_acc, dtype=torch.float64)) * float(eps)


def cfa_betas(train_rob_acc, lam2: float, beta: float) -> torch.Tensor:
    """CCR: beta_k = (lambda2 + r_k) beta / (1 + (lambda2 + r_k) beta) (CFA, Sec. 4.2)."""
    if not lam2 >= 0:
        raise ValueError(f"cfa_lambda2 == {lam2}, must be >= 0")
    b = (lam2 + torch.as_tensor(train_rob_acc, dtype=torch.float64)) * float(beta)
    return b / (1 + b)


def average_weights(averaged: dict | None, new: dict, decay: float) -> dict:
    """FAWA's step: decay * averaged + (1 - decay) * new, entry by entry (a copy of ``new`` when
    ``averaged`` is None); integer entries (batch-norm counters) are copied from ``new``."""
    if not 0 <= decay < 1:
        raise ValueError(f"cfa_decay == {decay}, must be in [0, 1)")
    out = {}
    for key, value in new.items():
        value = value.detach().to("cpu", copy=True)
        if averaged is None or not value.is_floating_point():
            out[key] = value
        else:
            out[key] = averaged[key].to(value.dtype) * decay + value * (1 - decay)
    return out


@register
class CFA(Method):
    name = "cfa"
    order = 10
    attack_loss = "kl"
    reads_validation = True  # FAWA's gate reads the worst class's validation robust accuracy
    declares = (
        BASE_LOSS,
        Setting("cfa_lambda1", 0.5, "CFA: margin eps_k = (lambda1 + r_k) eps, r_k the class's training robust "
                "accuracy (default 0.5)", "number", check=GE0),
        Setting("cfa_lambda2", 0.5, "CFA: regularisation beta_k = (lambda2 + r_k) beta / (1 + (lambda2 + r_k) "
                "beta) (default 0.5)", "number", check=GE0),
        Setting("cfa_begin", 10, "CFA: the first epoch (0-based) trained with calibrated margins and "
                "regularisation (default 10)", "whole", check=GE1),
        Setting("cfa_decay", 0.88, "CFA: decay of the fairness-aware weight average, per epoch (default 0.88)",
                "number", check=FRACTION),
        Setting("cfa_threshold", 0.24, "CFA: the weight average takes an epoch's weights only when the worst "
                "class's validation robust accuracy reaches this (default 0.24)", "number", check=GE0))
    settings = ("beta", "base_loss", "cfa_lambda1", "cfa_lambda2", "cfa_begin", "cfa_decay", "cfa_threshold")

    @classmethod
    def check_config(cls, cfg):
        if cfg.cfa_begin >= cfg.epochs:  # the method would silently be its base loss
            raise ConfigError(f"cfa_begin == {cfg.cfa_begin} with epochs == {cfg.epochs}: CFA would never calibrate "
                              f"(it would be its base loss); use cfa_begin < epochs")

    @classmethod
    def attack_loss_for(cls, cfg):
        return attack_loss_of(cfg.base_loss)

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        # the reference's PGD step is absolute (2/255) whatever the class's margin
        attack = dataclasses.replace(attack, step_size=cfg.step_size)
        return cls(num_classes, cfg.eps, attack, base=cfg.base_loss, beta=cfg.beta, lam1=cfg.cfa_lambda1,
                   lam2=cfg.cfa_lambda2, begin=cfg.cfa_begin, decay=cfg.cfa_decay, threshold=cfg.cfa_threshold)

    def __init__(self, num_classes, eps=0.0, attack=None, base="trades", beta=6.0, lam1=0.5, lam2=0.5, begin=10,
                 decay=0.88, threshold=0.24):
        super().__init__(num_classes, eps, attack)
        check_loss(base)
        for name, value, ok in (("beta", beta, beta >= 0), ("cfa_lambda1", lam1, lam1 >= 0),
                                ("cfa_lambda2", lam2, lam2 >= 0), ("cfa_begin", begin, begin >= 1),
                                ("cfa_decay", decay, 0 <= decay < 1), ("cfa_threshold", threshold, threshold >= 0)):
            if not ok:
                raise ValueError(f"{name} == {value}: out of range")
        self.base, self.beta, self.lam1, self.lam2 = base, float(beta), float(lam1), float(lam2)
        self.begin, self.decay, self.threshold = int(begin), float(decay), float(threshold)
        k = self.num_classes
        self.beta_class = torch.full((k,), self.beta / (1 + self.beta), dtype=torch.float64)
        self.train_rob_acc = torch.full((k,), float("nan"), dtype=torch.float64)  # r_k of the last epoch
        self.averaged: dict | None = None
        self.averaged_updates = 0
        self._hits = ClassSums(k)  # this epoch's adversarial hits per class

    # -- the controller -------------------------------------------------------------------
    def on_epoch_start(self, epoch, val):
        """CCM and CCR from the previous epoch's training robust accuracies, from epoch ``begin`` on."""
        calibrate = epoch >= self.begin and not torch.isnan(self.train_rob_acc).any()
        r = self.train_rob_acc
        self.eps_class = (cfa_margins(r, self.lam1, self.eps) if calibrate
                          else torch.full((self.num_classes,), self.eps, dtype=torch.float64)).float()
        self.beta_class = (cfa_betas(r, self.lam2, self.beta) if calibrate
                           else torch.full((self.num_classes,), self.beta / (1 + self.beta), dtype=torch.float64))
        self._hits = ClassSums(self.num_classes)

    def observe(self, model, loader, reduce=None, val=None):
        """The epoch's training robust accuracy per class (summed over processes), then FAWA's step."""
        hits = self._hits.total(reduce)
        if hits is not None:
            correct, count = hits
            self.train_rob_acc = correct[:, 0] / count.clamp_min(1)
        worst = None if val is None else val["worst"]["rob_error"]
        if worst is not None and 1 - worst >= self.threshold:
            self.averaged = average_weights(self.averaged, model.state_dict(), self.decay)
            self.averaged_updates += 1

    def loss(self, model, x, y):
        trades = self.base == "trades"
        clean_logits, adv_logits = self.adversarial_forward(model, x, y, clean=trades)
        self._hits.add(y, (adv_logits.argmax(1) == y).unsqueeze(1))
        if not trades:
            return F.cross_entropy(adv_logits, y)
        b = self.beta_class.to(x.device, torch.float32)[y]
        nat = F.cross_entropy(clean_logits, y, reduction="none")
        return ((1 - b) * nat + b * kl_per_sample(adv_logits, clean_logits)).mean()

    # -- state ----------------------------------------------------------------------------
    def state_dict(self):
        return {**super().state_dict(), "beta_class": self.beta_class.clone(),
                "train_rob_acc": self.train_rob_acc.clone(),
                "averaged": None if self.averaged is None else {k: v.clone() for k, v in self.averaged.items()},
                "averaged_updates": torch.tensor(self.averaged_updates)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.beta_class, self.train_rob_acc = state["beta_class"].clone(), state["train_rob_acc"].clone()
        avg = state["averaged"]
        self.averaged = None if avg is None else {k: v.detach().to("cpu", copy=True) for k, v in avg.items()}
        self.averaged_updates = int(state["averaged_updates"])

    def log(self):
        r = self.train_rob_acc
        return {"eps_class": self.eps_class.tolist(),
                "cfa_beta": self.beta_class.tolist() if self.base == "trades" else None,
                "train_rob_acc": None if torch.isnan(r).any() else r.tolist()}

    def log_after_observe(self):
        return {"averaged_updates": self.averaged_updates}  # FAWA's count after this epoch's step
