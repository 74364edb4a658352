"""Natural training: (weighted) cross-entropy on clean inputs."""

import torch.nn.functional as F

from .base import Method, register, weighted_mean


@register
class Natural(Method):
    name = "natural"
    order = 0

    def loss(self, model, x, y):
        return weighted_mean(F.cross_entropy(model(x), y, reduction="none"), self.sample_weights(y))
