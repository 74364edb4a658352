"""Class-wise standard, boundary and robust errors (paper Eq. 7), counted per sample.

For class i:

* R_nat(f, i): fraction of class i misclassified on the clean input;
* R_bndy(f, i): fraction of class i classified correctly on the clean input *and*
  misclassified under the attack (each sample's own flags, not a difference of two
  accuracies);
* R_rob(f, i) = R_nat(f, i) + R_bndy(f, i): fraction misclassified clean or attacked.

The authors' released code instead reports clean accuracy minus attacked accuracy per class
(``bndy_error_accdiff`` = P(wrong attacked) - P(wrong clean)); it differs from R_bndy only
when the attack turns a wrong clean prediction into a right one. Both are reported.

Counts (not rates) are what the evaluation accumulates, so that several processes can
sum them before dividing (:class:`ClasswiseCounts`). ``avg`` is the error over all
samples, ``worst`` the largest class-wise error, as in the paper's tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ClasswiseCounts", "classwise_counts", "evaluate_classwise"]


@dataclass
class ClasswiseCounts:
    """Per-class sample counts: n (examples), nat (wrong clean), bndy (right clean, wrong attacked),
    adv (wrong attacked, whatever the clean prediction)."""

    n: torch.Tensor
    nat: torch.Tensor
    bndy: torch.Tensor
    adv: torch.Tensor

    FIELDS = ("n", "nat", "bndy", "adv")

    @classmethod
    def zeros(cls, num_classes):
        return cls(*(torch.zeros(num_classes, dtype=torch.float64) for _ in cls.FIELDS))

    def add_(self, other: "ClasswiseCounts") -> "ClasswiseCounts":
        for f in self.FIELDS:
            getattr(self, f).add_(getattr(other, f))
        return self

    def as_tensor(self) -> torch.Tensor:
        """Stacked (4, K) tensor, e.g. for an all-reduce across processes."""
        return torch.stack([getattr(self, f) for f in self.FIELDS])

    @classmethod
    def from_tensor(cls, t: torch.Tensor) -> "ClasswiseCounts":
        return cls(*(t[i].clone() for i in range(len(cls.FIELDS))))

    def rates(self, class_names=None) -> dict:
        """Error fractions per class and over all examples. A class without examples has no error
        (None in its place, left out of the worst class); an empty split is a ValueError, not a score."""
        if float(self.n.sum()) == 0:
            raise ValueError("the split is empty: there is no example to score")
        present = self.n > 0
        n = self.n.clamp_min(1)
        std, bndy = self.nat / n, self.bndy / n
        rob = std + bndy

        def per_class(t):
            return [float(v) if ok else None for v, ok in zip(t.tolist(), present.tolist())]

        total = float(self.n.sum())
        out = {
            "std_error": per_class(std),
            "bndy_error": per_class(bndy),
            "rob_error": per_class(rob),
            "bndy_error_accdiff": per_class(self.adv / n - std),
            "avg": {
                "std_error": float(self.nat.sum()) / total,
                "bndy_error": float(self.bndy.sum()) / total,
                "rob_error": float((self.nat + self.bndy).sum()) / total,
            },
            "worst": {"std_error": float(std[present].max()), "bndy_error": float(bndy[present].max()),
                      "rob_error": float(rob[present].max())},
            "n_per_class": [int(v) for v in self.n.tolist()],
        }
        if class_names is not None:
            out["class_names"] = list(class_names)
        return out


def classwise_counts(model, x, y, num_classes, attack=None, eps=None) -> ClasswiseCounts:
    """Counts for one batch. ``attack`` is a :class:`deep.attacks.PGD` (None: standard error only)."""
    with torch.no_grad():
        clean_logits = model(x)
    correct = clean_logits.argmax(1) == y
    adv_wrong = ~correct
    if attack is not None:
        x_adv = attack(model, x, y, eps=eps, clean_logits=clean_logits)
        with torch.no_grad():
            adv_wrong = model(x_adv).argmax(1) != y
    flipped = correct & adv_wrong
    yk = y.long()
    counts = ClasswiseCounts.zeros(num_classes)
    counts.n += torch.bincount(yk, minlength=num_classes).double().cpu()
    counts.nat += torch.bincount(yk[~correct], minlength=num_classes).double().cpu()
    counts.bndy += torch.bincount(yk[flipped], minlength=num_classes).double().cpu()
    counts.adv += torch.bincount(yk[adv_wrong], minlength=num_classes).double().cpu()
    return counts


def evaluate_classwise(model, loader, num_classes, attack=None, class_names=None, reduce=None) -> dict:
    """Class-wise errors of ``model`` over a loader of (x, y) batches, in fp32 and eval mode.

    ``reduce``, if given, maps the stacked (3, K) counts to their sum over processes (DDP).
    """
    was_training = model.training
    model.eval()
    total = ClasswiseCounts.zeros(num_classes)
    try:
        for x, y in loader:
            total.add_(classwise_counts(model, x.float(), y, num_classes, attack))
    finally:
        model.train(was_training)
    if reduce is not None:
        total = ClasswiseCounts.from_tensor(reduce(total.as_tensor()))
    return total.rates(class_names)
