"""Models: PreAct-ResNet18 (He et al., 2016, arXiv:1603.05027; also as the FRL authors' code builds it,
without the final BatchNorm + ReLU), WRN-28-10 (Zagoruyko and
Komodakis, 2016, arXiv:1605.07146), a compact CIFAR net for adversarial training on a CPU
(:class:`CompactCNN`, airbench's network shape, with ReLU or SiLU) and a small CNN for digits and tests.

Every model takes inputs in [0, 1]; an optional per-channel normalisation is a buffer
inside the model (:class:`Normalize`), so attack radii are always in pixel units.
Global average pooling is adaptive, so the ResNets accept any input size (32x32 for
CIFAR-10 / SVHN, 8x8 for digits).
"""

from __future__ import annotations


import torch
import torch.nn as nn
import torch.nn.functional as F

from .choices import ModelName
from .data import DATASET_STATS

__all__ = ["ModelName", "Normalize", "PreActResNet18", "WideResNet", "CompactCNN", "SmallCNN", "build_model", "model_for"]


class Normalize(nn.Module):
    """(x - mean) / std per channel, with mean and std as buffers (saved with the model)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class _PreActBlock(nn.Module):
    """Pre-activation basic block (BN-ReLU-conv twice, 1x1 conv shortcut when the shape changes);
    ``dropout`` between the convolutions is the wide ResNet's option."""

    def __init__(self, in_planes, planes, stride=1, dropout=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = F.relu(self.bn2(self.conv1(out)))
        if self.dropout:
            out = F.dropout(out, self.dropout, self.training)
        return self.conv2(out) + shortcut


class PreActResNet18(nn.Module):
    """PreAct-ResNet18: 4 stages of 2 pre-activation basic blocks, widths 64-128-256-512, then BN + ReLU,
    global average pooling and a linear head.

    ``final_bn=False`` is the network of the FRL authors' code (hannxu123/fair_robust @ a80547d,
    ``pre_resnet.py``: the last block's sum goes straight to the pooling, no BN + ReLU), the model their
    ``hot_start.pt`` holds (``--model preact_resnet18_authors``; :mod:`deep.foreign_weights` maps its
    state_dict onto this module)."""

    def __init__(self, num_classes=10, in_channels=3, normalize=None, final_bn=True):
        super().__init__()
        self.normalize = normalize or nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        layers, in_planes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [_PreActBlock(in_planes, planes, stride), _PreActBlock(planes, planes, 1)]
            in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(512) if final_bn else None
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        out = self.layers(self.conv1(self.normalize(x)))
        if self.bn is not None:
            out = F.relu(self.bn(out))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


class WideResNet(nn.Module):
    """WRN-depth-width: 3 groups of (depth - 4) / 6 pre-activation blocks, widths 16k-32k-64k."""

    def __init__(self, depth=28, width=10, num_classes=10, in_channels=3, dropout=0.0, normalize=None):
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"depth == {depth}, must be 6n + 4 with n >= 1 (e.g. 28)")
        if width < 1:
            raise ValueError(f"width == {width}, must be >= 1")
        n = (depth - 4) // 6
        widths = [16, 16 * width, 32 * width, 64 * width]
        self.normalize = normalize or nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        blocks, in_planes = [], widths[0]
        for g, stride in zip(range(1, 4), (1, 2, 2)):
            for i in range(n):
                blocks.append(_PreActBlock(in_planes, widths[g], stride if i == 0 else 1, dropout))
                in_planes = widths[g]
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(in_planes)
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        out = self.blocks(self.conv1(self.normalize(x)))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.linear(out)


class _ConvPoolBlock(nn.Module):
    """conv3x3 - 2x2 max-pool - BN - act - conv3x3 - BN - act: airbench's block (pool right after the
    first convolution, so the second and every later layer run at a quarter of the pixels)."""

    def __init__(self, in_planes, planes, act=F.relu):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act = act

    def forward(self, x):
        x = self.act(self.bn1(F.max_pool2d(self.conv1(x), 2)))
        return self.act(self.bn2(self.conv2(x)))


class CompactCNN(nn.Module):
    """A compact CIFAR net for adversarial training on a CPU: airbench's network shape (Jordan 2024,
    arXiv:2404.00498: a stem convolution, then three conv-pool-BN-ReLU-conv-BN-ReLU blocks that halve
    the resolution 32 -> 16 -> 8 -> 4, global max-pool, a linear head) at widths 32 | 32-64-128:
    0.30 M parameters and 27 M multiply-adds per 32x32 image (PreAct-ResNet18: 11.2 M and 556 M).
    Chosen by measurement on 2 CPU cores (``benchmarks/cpu_fast_path.py``'s width rows: widths
    32-64-128-256 train 2.3x slower, 48-96-192-384 5x); ``widths`` gives the stem and the three blocks.

    ``activation`` "relu" (``compact_cnn``) or "silu" (``compact_cnn_silu``): SiLU / Swish, x sigmoid(x)
    (Hendrycks & Gimpel 2016; Ramachandran et al. 2017), the smooth activation that smooth adversarial
    training (Xie et al. 2020, arXiv:2006.14536) and Gowal et al. (2020, arXiv:2010.03593, Sec. 4) find
    more robust than ReLU at the same size; the same parameters, about 6 % slower a step on 2 CPU cores."""

    ACTIVATIONS = {"relu": (F.relu, nn.ReLU), "silu": (F.silu, nn.SiLU)}

    def __init__(self, num_classes=10, in_channels=3, normalize=None, widths=(32, 32, 64, 128), activation="relu"):
        super().__init__()
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation == {activation!r}, must be one of {', '.join(self.ACTIVATIONS)}")
        act, act_module = self.ACTIVATIONS[activation]
        self.normalize = normalize or nn.Identity()
        stem, *blocks = widths
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), act_module())
        layers, in_planes = [], stem
        for planes in blocks:
            layers.append(_ConvPoolBlock(in_planes, planes, act))
            in_planes = planes
        self.blocks = nn.Sequential(*layers)
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        out = self.blocks(self.stem(self.normalize(x)))
        return self.linear(F.adaptive_max_pool2d(out, 1).flatten(1))


class SmallCNN(nn.Module):
    """Two 3x3 conv layers (32, 64 channels), a pooling step and two dense layers; for digits and tests."""

    def __init__(self, num_classes=10, in_channels=1, normalize=None):
        super().__init__()
        self.normalize = normalize or nn.Identity()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.head(self.features(self.normalize(x)))


def build_model(name, num_classes=10, in_channels=3, mean=None, std=None) -> nn.Module:
    """Build a model by name; ``mean``/``std`` (per channel) add input normalisation inside it."""
    name = ModelName(name)
    norm = Normalize(mean, std) if mean is not None else None
    if name is ModelName.SMALL_CNN:
        return SmallCNN(num_classes, in_channels, norm)
    if name in (ModelName.PREACT_RESNET18, ModelName.PREACT_RESNET18_AUTHORS):
        return PreActResNet18(num_classes, in_channels, norm, final_bn=name is ModelName.PREACT_RESNET18)
    if name in (ModelName.COMPACT_CNN, ModelName.COMPACT_CNN_SILU):
        return CompactCNN(num_classes, in_channels, norm,
                          activation="silu" if name is ModelName.COMPACT_CNN_SILU else "relu")
    return WideResNet(28, 10, num_classes, in_channels, normalize=norm)


def model_for(name, dataset: str, num_classes: int, in_channels: int, normalize: bool = False,
              norm: str = "linf") -> nn.Module:
    """The model of a run: ``normalize`` puts the dataset's mean / std inside it (where they are known);
    ``robustbench:NAME`` is that zoo entry's network for the data set and ``norm`` (:mod:`deep.zoo`)."""
    if isinstance(name, str) and name.startswith("robustbench:"):
        from .zoo import zoo_architecture

        return zoo_architecture(name[len("robustbench:"):], dataset, norm)
    mean, std = DATASET_STATS.get(dataset, (None, None)) if normalize else (None, None)
    return build_model(name, num_classes, in_channels, mean, std)
