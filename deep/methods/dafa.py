"""DAFA: Distance-Aware Fair Adversarial training (Lee, Kim, Kim, Kwon and Choi, ICLR 2024, arXiv:2401.12532).

Reference code: github.com/rucy74/DAFA (``utils.calculate_class_weights``, ``losses.trades_loss``,
``train.py`` at commit 2dbfae0). The TRADES form:

* class weights W start at 1; during the warm-up epoch (``dafa_warmup``, 70 of 110 in the
  reference; 1-based) the softmax outputs on the adversarial training examples are averaged per
  class into the similarity matrix s (s_ij = mean probability of class j on examples of class i);
  after it, once,

      W_i = 1 + lambda sum_{j != i} sign_ij s_ij s_jj,   sign_ij = +1 if s_ii < s_jj else -1,

  so a class that is harder than the classes it is confused with (lower own confidence) gains weight
  and an easier one gives it up (lambda = 1 on CIFAR-10);
* W scales each example's radius and PGD step (eps_y = W_y eps) and its clean cross-entropy term
  (mean of W_y CE); the KL term is TRADES' mean.

The similarity sums and W are checkpointed, so a run resumed across the warm-up continues exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distributed import unwrap_ddp
from .base import register
from .trades import TRADES, kl_per_sample

__all__ = ["DAFA", "dafa_weights", "class_similarity"]


def class_similarity(prob_sum, count) -> torch.Tensor:
    """s_ij: the mean softmax probability of class j over the examples of class i (rows of absent classes: 0)."""
    prob_sum = torch.as_tensor(prob_sum, dtype=torch.float64)
    count = torch.as_tensor(count, dtype=torch.float64)
    return prob_sum / count.clamp_min(1).unsqueeze(1)


def dafa_weights(similarity, lam: float) -> torch.Tensor:
    """W_i = 1 + lam sum_{j != i} sign_ij s_ij s_jj with sign_ij = +1 when s_ii < s_jj, else -1 (DAFA, Eq. of Sec. 4)."""
    if not lam >= 0:
        raise ValueError(f"dafa_lambda == {lam}, must be >= 0")
    s = torch.as_tensor(similarity, dtype=torch.float64)
    diag = torch.diagonal(s)
    sign = torch.where(diag.unsqueeze(1) < diag.unsqueeze(0), 1.0, -1.0).to(s.dtype)  # sign[i, j]
    terms = sign * s * diag.unsqueeze(0)
    terms.fill_diagonal_(0.0)
    return 1.0 + lam * terms.sum(dim=1)


@register
class DAFA(TRADES):
    name = "dafa"
    order = 9
    attack_loss = "kl"
    settings = ("beta", "dafa_warmup", "dafa_lambda")

    def __init__(self, num_classes, eps=0.0, attack=None, beta=6.0, warmup=70, lam=1.0):
        super().__init__(num_classes, eps, attack, beta=beta)
        if int(warmup) != warmup or warmup < 1:
            raise ValueError(f"dafa_warmup == {warmup}, must be a whole number >= 1")
        if not lam >= 0:
            raise ValueError(f"dafa_lambda == {lam}, must be >= 0")
        self.warmup, self.lam = int(warmup), float(lam)
        k = self.num_classes
        self.weights = torch.ones(k, dtype=torch.float64)
        self.prob_sum = torch.zeros(k, k, dtype=torch.float64)
        self.count = torch.zeros(k, dtype=torch.float64)
        self.recording = False

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, beta=cfg.beta, warmup=cfg.dafa_warmup, lam=cfg.dafa_lambda)

    def on_epoch_start(self, epoch, val):
        """Record during the warm-up epoch (0-based ``warmup - 1``); set W once, after it."""
        if epoch == self.warmup and float(self.count.sum()) > 0:
            prob_sum, count = self.prob_sum.clone(), self.count.clone()
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                for t in (prob_sum, count):  # every process saw its shard of the warm-up epoch
                    torch.distributed.all_reduce(t)
            self.weights = dafa_weights(class_similarity(prob_sum, count), self.lam)
            self.eps_class = (self.weights * self.eps).float()
        self.recording = epoch == self.warmup - 1

    def loss(self, model, x, y):
        clean_logits = model(x)
        reuse = clean_logits.detach() if self.attack.mode == "train" else None
        x_adv = self.attack(unwrap_ddp(model), x, y, eps=self.sample_eps(y), clean_logits=reuse)
        adv_logits = model(x_adv)
        w = self.weights.to(x.device, torch.float32)[y]
        nat = (w * F.cross_entropy(clean_logits, y, reduction="none")).mean()
        if self.recording:
            probs = F.softmax(adv_logits.detach().float(), 1).double()
            self.prob_sum.index_add_(0, y.cpu(), probs.cpu())
            self.count += torch.bincount(y.cpu(), minlength=self.num_classes).double()
        return nat + self.beta * kl_per_sample(adv_logits, clean_logits).mean()

    def state_dict(self):
        return {**super().state_dict(), "weights": self.weights.clone(), "prob_sum": self.prob_sum.clone(),
                "count": self.count.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.weights, self.prob_sum, self.count = (state[k].clone() for k in ("weights", "prob_sum", "count"))

    def log(self):
        return {"dafa_weights": self.weights.tolist(), "eps_class": self.eps_class.tolist()}
