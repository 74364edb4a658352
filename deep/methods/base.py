"""The method plug-in: what the one training loop asks of a method.

A method owns its loss and its controller state. The loop calls

* ``loss(model, x, y) -> scalar tensor`` once per batch (the model is in train mode);
* ``on_epoch_start(epoch, val)`` before each epoch, with the latest class-wise
  validation errors (``None`` before any evaluation) - FRL's multiplier updates live here;
* ``state_dict()`` / ``load_state_dict()`` for an exact resume;
* ``log()`` for the numbers to add to the epoch's metrics line.

Per-class loss weights (``class_weights``, shape (K,)) and per-class training radii
(``eps_class``, shape (K,); per-sample eps = eps_class[y]) are first-class state of every
method, because FRL's Reweight and Remargin change exactly these.
"""

from __future__ import annotations

import torch

from ..attacks import PGD

__all__ = ["Method", "weighted_mean"]


def weighted_mean(per_sample: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_i w_i l_i / sum_i w_i: equals the plain mean when all weights are equal."""
    w = weights.to(per_sample.dtype)
    return (per_sample * w).sum() / w.sum().clamp_min(1e-12)


class Method:
    """Base class: natural training with uniform weights; subclasses override :meth:`loss`."""

    name = "base"
    uses_attack = False
    needs_initial_validation = False

    def __init__(self, num_classes: int, eps: float = 0.0, attack: PGD | None = None):
        self.num_classes = int(num_classes)
        self.eps = float(eps)
        self.attack = attack
        self.class_weights = torch.ones(self.num_classes)
        self.eps_class = torch.full((self.num_classes,), self.eps)

    # -- helpers for subclasses ------------------------------------------------------------
    def sample_weights(self, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        w = self.class_weights if weights is None else weights
        return w.to(y.device)[y]

    def sample_eps(self, y: torch.Tensor) -> torch.Tensor:
        return self.eps_class.to(y.device)[y]

    # -- the plug-in interface ---------------------------------------------------------------
    def loss(self, model, x, y) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, val: dict | None) -> None:
        """Controller step; plain methods do nothing."""

    def state_dict(self) -> dict:
        return {"class_weights": self.class_weights.clone(), "eps_class": self.eps_class.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.class_weights = state["class_weights"].clone()
        self.eps_class = state["eps_class"].clone()

    def log(self) -> dict:
        return {}
