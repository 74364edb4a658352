"""TRADES (Zhang et al., 2019, arXiv:1901.08573).

loss = CE(f(x), y) + beta * KL(f(x) || f(x_adv)), x_adv maximising the KL within the ball
(the project's PGD with loss="kl"), beta = 1/lambda (the paper uses 1 and 6). The two terms
carry separate per-class weights - ``class_weights`` on the natural term and
``class_weights_bndy`` on the boundary (KL) term - which is the split FRL reweights
(paper Eq. 7-9); each term is a weighted mean, so uniform weights give plain TRADES.
"""

import torch
import torch.nn.functional as F

from ..settings import GE0, Setting
from .base import Method, register
from .loss_choice import kl_per_sample, two_terms

__all__ = ["TRADES", "BETA", "kl_per_sample"]

# TRADES' weight of the robust term; WAT, DAFA and CFA (on TRADES) read it too
BETA = Setting("beta", 6.0, "TRADES beta = 1/lambda (paper: 1 and 6; default 6)", "number", check=GE0)


@register
class TRADES(Method):
    name = "trades"
    order = 2
    attack_loss = "kl"
    declares = (BETA,)
    settings = ("beta",)

    def __init__(self, num_classes, eps=0.0, attack=None, beta=6.0):
        super().__init__(num_classes, eps, attack)
        if not beta >= 0:
            raise ValueError(f"beta == {beta}, must be >= 0")
        self.beta = float(beta)
        self.class_weights_bndy = torch.ones(self.num_classes)

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, beta=cfg.beta)

    def boundary_loss(self, adv_logits, clean_logits, y):
        """The robust term per sample: KL(p_clean || p_adv)."""
        return kl_per_sample(adv_logits, clean_logits)

    def loss(self, model, x, y):
        clean_logits, adv_logits = self.adversarial_forward(model, x, y)
        return two_terms(F.cross_entropy(clean_logits, y, reduction="none"),
                         self.boundary_loss(adv_logits, clean_logits, y), self.sample_weights(y),
                         self.sample_weights(y, self.class_weights_bndy), self.beta)

    def scale_boundary_weight(self, i, factor):
        self.class_weights_bndy[i] *= factor

    def state_dict(self):
        return {**super().state_dict(), "class_weights_bndy": self.class_weights_bndy.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.class_weights_bndy = state["class_weights_bndy"].clone()
