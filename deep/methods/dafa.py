"""DAFA: Distance-Aware Fair Adversarial training (Lee, Kim, Kim, Kwon and Choi, ICLR 2024, arXiv:2401.12532).

Reference code: github.com/rucy74/DAFA (``utils.calculate_class_weights``, ``losses.trades_loss``,
``train.py`` at commit c60ba83, which includes the rule's correction 74657cd of Sep. 2024). The TRADES form:

* class weights W start at 1; during the warm-up epoch (``dafa_warmup``, 70 of 110 in the
  reference; 1-based) the softmax outputs on the adversarial training examples are averaged per
  class into the similarity matrix s (s_ij = mean probability of class j on examples of class i);
  after it, once,

      W_i = 1 + lambda sum_{j: s_ii < s_jj} s_ij s_jj - lambda sum_{j != i: s_ii >= s_jj} s_ji s_ii,

  so a class that is harder than a class it is confused with (lower own confidence) gains
  lambda s_ij s_jj and that easier class gives up exactly as much (lambda = 1 on CIFAR-10): with
  distinct confidences the weights sum to K. (Before 74657cd the reference subtracted s_ij s_jj
  from the easier class, which does not conserve the total.)
* W scales each example's radius and PGD step (eps_y = W_y eps) and its clean cross-entropy term
  (mean of W_y CE); the KL term is TRADES' mean.

The PGD-AT form (``base_loss="pgd_at"``, the reference's ``madry_loss``): the loss is the mean of
W_y CE at the cross-entropy PGD point, radius and step scaled by W_y as above (the reference's
``madry_loss`` also takes a second, unscaled step and clips to the unscaled radius after each
scaled one; we follow the paper, where W scales the radius), from the project's uniform random start.

The similarity sums and W are checkpointed, so a run resumed across the warm-up continues exactly.
Under torchrun the sums of every process are added before W is set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import ClassSums, register
from ..errors import ConfigError
from ..settings import GE0, GE1, Setting
from .loss_choice import BASE_LOSS, attack_loss_of, check_loss, kl_per_sample
from .trades import TRADES

__all__ = ["DAFA", "dafa_weights", "class_similarity"]


def class_similarity(prob_sum, count) -> torch.Tensor:
    """s_ij: the mean softmax probability of class j over the examples of class i (rows of absent classes: 0)."""
    prob_sum = torch.as_tensor(prob_sum, dtype=torch.float64)
    count = torch.as_tensor(count, dtype=torch.float64)
    return prob_sum / count.clamp_min(1).unsqueeze(1)


def dafa_weights(similarity, lam: float) -> torch.Tensor:
    """W_i = 1 + lam sum_{j: s_ii < s_jj} s_ij s_jj - lam sum_{j != i: s_ii >= s_jj} s_ji s_ii (DAFA, Sec. 4;
    the reference's ``calculate_class_weights`` as corrected in 74657cd)."""
    if not lam >= 0:
        raise ValueError(f"dafa_lambda == {lam}, must be >= 0")
    s = torch.as_tensor(similarity, dtype=torch.float64)
    diag = torch.diagonal(s)
    harder = diag.unsqueeze(1) < diag.unsqueeze(0)  # harder[i, j]: class i is less confident than class j
    others = ~torch.eye(len(diag), dtype=torch.bool)
    gain = torch.where(harder, s * diag.unsqueeze(0), 0.0)  # s_ij s_jj
    loss = torch.where(~harder & others, s.T * diag.unsqueeze(1), 0.0)  # s_ji s_ii
    return 1.0 + lam * (gain.sum(dim=1) - loss.sum(dim=1))


@register
class DAFA(TRADES):
    name = "dafa"
    order = 9
    attack_loss = "kl"
    declares = (BASE_LOSS,
                Setting("dafa_warmup", 70, "DAFA: the epoch (1-based) whose adversarial outputs set the class weights "
                        "(default 70, of the reference's 110)", "whole", check=GE1),
                Setting("dafa_lambda", 1.0, "DAFA: scale lambda of the class weights (default 1.0 for CIFAR-10)",
                        "number", check=GE0))
    settings = ("beta", "base_loss", "dafa_warmup", "dafa_lambda")

    @classmethod
    def check_config(cls, cfg):
        if cfg.dafa_warmup >= cfg.epochs:  # the method would silently be its base loss
            raise ConfigError(f"dafa_warmup == {cfg.dafa_warmup} with epochs == {cfg.epochs}: DAFA's weights are set "
                              f"after the warm-up epoch, so no epoch would train with them (it would be its base "
                              f"loss); use dafa_warmup < epochs")

    def __init__(self, num_classes, eps=0.0, attack=None, beta=6.0, warmup=70, lam=1.0, base="trades"):
        super().__init__(num_classes, eps, attack, beta=beta)
        if int(warmup) != warmup or warmup < 1:
            raise ValueError(f"dafa_warmup == {warmup}, must be a whole number >= 1")
        if not lam >= 0:
            raise ValueError(f"dafa_lambda == {lam}, must be >= 0")
        self.warmup, self.lam, self.base = int(warmup), float(lam), check_loss(base)
        k = self.num_classes
        self.weights = torch.ones(k, dtype=torch.float64)
        self.prob_sum = torch.zeros(k, k, dtype=torch.float64)
        self.count = torch.zeros(k, dtype=torch.float64)
        self.recording = False
        self._probs = ClassSums(k)  # the warm-up epoch's adversarial softmax outputs per class

    @classmethod
    def attack_loss_for(cls, cfg):
        return attack_loss_of(cfg.base_loss)

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, beta=cfg.beta, warmup=cfg.dafa_warmup, lam=cfg.dafa_lambda,
                   base=cfg.base_loss)

    def on_epoch_start(self, epoch, val):
        """Record the adversarial outputs during the warm-up epoch (0-based ``warmup - 1``)."""
        self.recording = epoch == self.warmup - 1

    def observe(self, model, loader, reduce=None, val=None):
        """After the warm-up epoch: sum the similarity over processes and set W, once."""
        sums = self._probs.total(reduce)  # every process saw its shard of the warm-up epoch
        if not self.recording or sums is None:
            return
        self.prob_sum, self.count = sums
        self.weights = dafa_weights(class_similarity(self.prob_sum, self.count), self.lam)
        self.eps_class = (self.weights * self.eps).float()
        self.recording = False

    def loss(self, model, x, y):
        trades = self.base == "trades"
        clean_logits, adv_logits = self.adversarial_forward(model, x, y, clean=trades)
        w = self.weights.to(x.device, torch.float32)[y]
        if self.recording:
            self._probs.add(y, F.softmax(adv_logits.detach().float(), 1))
        if not trades:
            return (w * F.cross_entropy(adv_logits, y, reduction="none")).mean()
        nat = (w * F.cross_entropy(clean_logits, y, reduction="none")).mean()
        return nat + self.beta * kl_per_sample(adv_logits, clean_logits).mean()

    def state_dict(self):
        return {**super().state_dict(), "weights": self.weights.clone(), "prob_sum": self.prob_sum.clone(),
                "count": self.count.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.weights, self.prob_sum, self.count = (state[k].clone() for k in ("weights", "prob_sum", "count"))

    def log(self):
        return {"dafa_weights": self.weights.tolist(), "eps_class": self.eps_class.tolist()}
