"""TRADES (Zhang et al., 2019, arXiv:1901.08573).

loss = CE(f(x), y) + beta * KL(f(x) || f(x_adv)), x_adv maximising the KL within the ball
(the project's PGD with loss="kl"), beta = 1/lambda (the paper uses 1 and 6). The two terms
carry separate per-class weights - ``class_weights`` on the natural term and
``class_weights_bndy`` on the boundary (KL) term - which is the split FRL reweights
(paper Eq. 7-9); each term is a weighted mean, so uniform weights give plain TRADES.
"""

import torch
import torch.nn.functional as F

from .base import Method, register, weighted_mean


def kl_per_sample(adv_logits, clean_logits):
    """KL(p_clean || p_adv) summed over classes, one value per sample (TRADES' robust term)."""
    return F.kl_div(F.log_softmax(adv_logits.float(), 1), F.log_softmax(clean_logits.float(), 1),
                    reduction="none", log_target=True).sum(1)


@register
class TRADES(Method):
    name = "trades"
    order = 2
    attack_loss = "kl"
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
        nat = weighted_mean(F.cross_entropy(clean_logits, y, reduction="none"), self.sample_weights(y))
        bndy = weighted_mean(self.boundary_loss(adv_logits, clean_logits, y),
                             self.sample_weights(y, self.class_weights_bndy))
        return nat + self.beta * bndy

    def scale_boundary_weight(self, i, factor):
        self.class_weights_bndy[i] *= factor

    def state_dict(self):
        return {**super().state_dict(), "class_weights_bndy": self.class_weights_bndy.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.class_weights_bndy = state["class_weights_bndy"].clone()
