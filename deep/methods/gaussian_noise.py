"""Gaussian noise augmentation (Cohen, Rosenfeld and Kolter, 2019, arXiv:1902.02918): the training
of a randomized-smoothing base classifier. Each input gets N(0, sigma^2 I) noise (no clipping, as
in the reference), loss = class-weighted cross-entropy; certification is :mod:`deep.certify`."""

import torch
import torch.nn.functional as F

from ..settings import GT0, Setting
from .base import Method, register, weighted_mean


@register
class GaussianNoise(Method):
    name = "gaussian_noise"
    order = 7
    declares = (Setting("sigma", 0.25, "gaussian_noise: noise sigma (default 0.25)", "number", check=GT0),)
    settings = ("sigma",)

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, sigma=cfg.sigma)

    def __init__(self, num_classes, eps=0.0, attack=None, sigma=0.25):
        super().__init__(num_classes, eps, attack)
        if not sigma > 0:
            raise ValueError(f"sigma == {sigma}, must be > 0")
        self.sigma = float(sigma)

    def loss(self, model, x, y):
        noisy = x + self.sigma * torch.randn_like(x)
        return weighted_mean(F.cross_entropy(model(noisy), y, reduction="none"), self.sample_weights(y))
