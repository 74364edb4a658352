"""WAT: Worst-class Adversarial Training (Li and Liu, AAAI 2023, arXiv:2302.04025).

Reference code: github.com/boqili/WAT (``worst_class_adversarial_train.py`` at commit 62d1184).

TRADES whose class weights come from Hedge (exponential weights) over K + 1 "experts": the K
classes and the expected loss. After every epoch, on the validation split, each class k gets the
cost c_k = (sum over its examples of CE + beta KL) / N x K (its mean TRADES loss when classes are
balanced) and the expected-loss expert c_K = (sum over all examples) / N; with C the costs summed
over the epochs so far,

    w = K exp(eta C) / sum_j exp(eta C_j)        (K + 1 entries summing to K),

and the training loss is  (1/B) sum_i w_{y_i} (CE_i + beta KL_i) + w_K TRADES(batch). A class whose
validation loss stays high gets a growing weight (the worst class is the one Hedge favours). The
validation attack is TRADES' (KL, eval mode); eta = 0.1 and beta = 6 are the reference defaults.
Unlike the reference, the Hedge state is checkpointed, so a resumed run continues exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..settings import GT0, Setting
from .base import register
from .loss_choice import kl_per_sample
from .trades import TRADES

__all__ = ["WAT", "hedge_weights", "class_costs"]


def hedge_weights(cum_cost, eta: float) -> torch.Tensor:
    """Hedge's weights K exp(eta C_j) / sum exp(eta C), j = 0..K (K classes and the expected loss)."""
    if not eta > 0:
        raise ValueError(f"eta == {eta}, must be > 0")
    c = torch.as_tensor(cum_cost, dtype=torch.float64)
    k = c.numel() - 1
    return k * torch.softmax(eta * c, dim=0)  # softmax: the exponentials without overflow


def class_costs(loss_sum, count) -> torch.Tensor:
    """The K + 1 costs of one epoch from per-class sums of CE + beta KL and per-class example counts."""
    loss_sum = torch.as_tensor(loss_sum, dtype=torch.float64)
    count = torch.as_tensor(count, dtype=torch.float64)
    n, k = float(count.sum()), loss_sum.numel()
    if n <= 0:
        raise ValueError("no validation example: WAT's costs need the validation split")
    return torch.cat([loss_sum / n * k, (loss_sum.sum() / n).reshape(1)])


@register
class WAT(TRADES):
    name = "wat"
    order = 8
    attack_loss = "kl"
    reads_validation = True
    declares = (Setting("wat_eta", 0.1, "WAT: step size eta of the Hedge weights over class-wise validation losses "
                        "(default 0.1, Li & Liu 2023)", "number", check=GT0),)
    settings = ("beta", "wat_eta")

    def __init__(self, num_classes, eps=0.0, attack=None, beta=6.0, eta=0.1):
        super().__init__(num_classes, eps, attack, beta=beta)
        if not eta > 0:
            raise ValueError(f"wat_eta == {eta}, must be > 0")
        self.eta = float(eta)
        self.cum_cost = torch.zeros(num_classes + 1, dtype=torch.float64)
        self.weights = torch.ones(num_classes + 1, dtype=torch.float64)  # the reference starts from ones

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, beta=cfg.beta, eta=cfg.wat_eta)

    def loss(self, model, x, y):
        clean_logits, adv_logits = self.adversarial_forward(model, x, y)
        nat = F.cross_entropy(clean_logits, y, reduction="none")
        kl = kl_per_sample(adv_logits, clean_logits)
        w = self.weights.to(x.device, torch.float32)
        per_class = (w[y] * (nat + self.beta * kl)).mean()
        return per_class + w[-1] * (nat.mean() + self.beta * kl.mean())

    @torch.no_grad()
    def _sums(self, model, loader):
        k = self.num_classes
        loss_sum = torch.zeros(k, dtype=torch.float64)
        count = torch.zeros(k, dtype=torch.float64)
        for x, y in loader:
            x = x.float()
            with torch.enable_grad():
                x_adv = self.attack(model, x, y, eps=self.sample_eps(y))
            clean_logits = model(x)
            per = F.cross_entropy(clean_logits, y, reduction="none") + self.beta * kl_per_sample(model(x_adv),
                                                                                                clean_logits)
            loss_sum += torch.bincount(y, weights=per.double(), minlength=k).cpu()
            count += torch.bincount(y, minlength=k).double().cpu()
        return loss_sum, count

    def observe(self, model, loader, reduce=None, val=None):
        """One Hedge step from the class-wise TRADES losses on the validation split."""
        was_training = model.training
        model.eval()
        try:
            loss_sum, count = self._sums(model, loader)
        finally:
            model.train(was_training)
        if reduce is not None:
            device = next(model.parameters()).device
            both = reduce(torch.stack([loss_sum, count]).to(device)).cpu()
            loss_sum, count = both[0], both[1]
        self.cum_cost = self.cum_cost + class_costs(loss_sum, count)
        self.weights = hedge_weights(self.cum_cost, self.eta)

    def state_dict(self):
        return {**super().state_dict(), "cum_cost": self.cum_cost.clone(), "weights": self.weights.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.cum_cost, self.weights = state["cum_cost"].clone(), state["weights"].clone()

    def log(self):
        return {"wat_weights": self.weights.tolist()}
