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

import base64
import binascii
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ClasswiseCounts", "classwise_counts", "counts_of_outcomes", "evaluate_classwise", "evaluate_predictions",
           "encode_examples", "decode_examples"]


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


def classwise_counts(model, x, y, num_classes, attack=None, eps=None, outcomes=None) -> ClasswiseCounts:
    """Counts for one batch. ``attack`` is a :class:`deep.attacks.PGD` (None: standard error only).
    ``outcomes``, a list, receives (labels, wrong clean, wrong clean or attacked) of the batch's examples."""
    with torch.no_grad():
        clean_logits = model(x)
    correct = clean_logits.argmax(1) == y
    adv_wrong = ~correct
    if attack is not None:
        x_adv = attack(model, x, y, eps=eps, clean_logits=clean_logits)
        with torch.no_grad():
            adv_wrong = model(x_adv).argmax(1) != y
    return counts_of_outcomes(y, correct, adv_wrong, num_classes, outcomes)


def counts_of_outcomes(y, correct, adv_wrong, num_classes, outcomes=None) -> ClasswiseCounts:
    """Counts of examples with labels ``y``, right on the clean input (``correct``) and wrong under the
    attack (``adv_wrong``); ``outcomes`` as in :func:`classwise_counts`."""
    flipped = correct & adv_wrong
    yk = y.long()
    if outcomes is not None:
        outcomes.append((yk.cpu(), (~correct).cpu(), (~correct | adv_wrong).cpu()))
    counts = ClasswiseCounts.zeros(num_classes)
    counts.n += torch.bincount(yk, minlength=num_classes).double().cpu()
    counts.nat += torch.bincount(yk[~correct], minlength=num_classes).double().cpu()
    counts.bndy += torch.bincount(yk[flipped], minlength=num_classes).double().cpu()
    counts.adv += torch.bincount(yk[adv_wrong], minlength=num_classes).double().cpu()
    return counts


def evaluate_classwise(model, loader, num_classes, attack=None, class_names=None, reduce=None,
                       examples: bool = False) -> dict:
    """Class-wise errors of ``model`` over a loader of (x, y) batches, in fp32 and eval mode.

    ``reduce``, if given, maps the stacked (4, K) counts to their sum over processes (DDP).
    ``examples`` adds each example's outcome (``examples``, :func:`encode_examples`; one process
    only), from which confidence intervals and paired comparisons are computed.
    """
    was_training = model.training
    model.eval()
    total = ClasswiseCounts.zeros(num_classes)
    outcomes = [] if examples else None
    try:
        for x, y in loader:
            total.add_(classwise_counts(model, x.float(), y, num_classes, attack, outcomes=outcomes))
    finally:
        model.train(was_training)
    if reduce is not None:
        total = ClasswiseCounts.from_tensor(reduce(total.as_tensor()))
    out = total.rates(class_names)
    if examples:
        out["examples"] = encode_examples(*(torch.cat(parts).numpy() for parts in zip(*outcomes)))
    return out


def evaluate_predictions(y, clean_pred, adv_pred, num_classes, class_names=None) -> dict:
    """:func:`evaluate_classwise`'s dict (with ``examples``) from predictions made elsewhere, e.g. by
    the official AutoAttack package: ``clean_pred`` on the clean inputs, ``adv_pred`` under attack."""
    y = y.cpu()
    outcomes = []
    counts = counts_of_outcomes(y, clean_pred.cpu() == y, adv_pred.cpu() != y, num_classes, outcomes)
    out = counts.rates(class_names)
    out["examples"] = encode_examples(*(part.numpy() for part in outcomes[0]))
    return out


def encode_examples(labels, std_wrong, rob_wrong) -> dict:
    """Per-example outcomes in the split's order, compact enough for eval.json: labels as uint8 (or
    int16 beyond 256 classes) and the two flags as packed bits, each base64 text.

    ``std_wrong``: misclassified clean (R_nat); ``rob_wrong``: misclassified clean or under the attack
    (R_rob); the boundary error of an example is ``rob_wrong and not std_wrong``.
    """
    labels = np.asarray(labels)
    dtype = "uint8" if labels.max(initial=0) < 256 else "int16"

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return {"n": int(labels.size), "encoding": "base64; labels little-endian " + dtype + ", flags numpy packbits",
            "labels": b64(labels.astype("<" + ("u1" if dtype == "uint8" else "i2")).tobytes()),
            "std_wrong": b64(np.packbits(np.asarray(std_wrong, dtype=bool)).tobytes()),
            "rob_wrong": b64(np.packbits(np.asarray(rob_wrong, dtype=bool)).tobytes())}


def decode_examples(d: dict):
    """(labels int64, std_wrong bool, rob_wrong bool) arrays of :func:`encode_examples`' dict.

    Raises ValueError for a dict that is not one (missing keys, wrong lengths, rob_wrong missing an
    example that std_wrong has)."""
    try:
        n = int(d["n"])
        dtype = "<i2" if "int16" in d["encoding"] else "<u1"
        labels = np.frombuffer(base64.b64decode(d["labels"], validate=True), dtype=dtype).astype(np.int64)
        flags = [np.unpackbits(np.frombuffer(base64.b64decode(d[k], validate=True), dtype=np.uint8))[:n].astype(bool)
                 for k in ("std_wrong", "rob_wrong")]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"not an examples record ({type(exc).__name__}: {exc})") from None
    if labels.size != n or any(f.size != n for f in flags):
        raise ValueError(f"examples record of {n} examples has {labels.size} labels / {[f.size for f in flags]} flags")
    if np.any(flags[0] & ~flags[1]):
        raise ValueError("examples record: an example wrong on the clean input must count as robust error too")
    return labels, flags[0], flags[1]
