"""PGD adversarial training (Madry et al., 2018, arXiv:1706.06083).

min_f E[max_{||delta|| <= eps_y} CE(f(x + delta), y)], the inner max by the project's PGD
with each sample's radius eps_class[y]; the outer loss is the class-weighted mean.
"""

import torch.nn.functional as F

from .base import Method, register, weighted_mean


@register
class PGDAT(Method):
    name = "pgd_at"
    order = 1
    attack_loss = "ce"

    def loss(self, model, x, y):
        _, adv_logits = self.adversarial_forward(model, x, y, clean=False)
        return weighted_mean(F.cross_entropy(adv_logits, y, reduction="none"), self.sample_weights(y))
