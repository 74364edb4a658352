"""AutoAttack (Croce and Hein, 2020, arXiv:2003.01690) through torchattacks, behind the same call
signature as :class:`deep.attacks.PGD`, so the class-wise evaluation treats it like any attack.

We do not write our own AutoAttack: torchattacks' implementation (APGD-CE, APGD-T, FAB-T,
Square for "standard") is used as is, in fp32 and eval mode. torchattacks is an optional
dependency (``pip install torchattacks``, or the project's ``[autoattack]`` / ``[test]`` extras).
"""

from __future__ import annotations

VERSIONS = ("standard", "plus", "rand")


class AutoAttack:
    def __init__(self, eps: float, norm: str = "linf", version: str = "standard", n_classes: int = 10, seed: int = 0):
        if version not in VERSIONS:
            raise ValueError(f"version == {version!r}, must be one of {', '.join(VERSIONS)}")
        if not eps > 0:
            raise ValueError(f"eps == {eps}, must be > 0")
        import importlib.util

        if importlib.util.find_spec("torchattacks") is None:
            raise ValueError("AutoAttack needs torchattacks: pip install torchattacks")
        self.eps, self.norm, self.version, self.n_classes, self.seed = eps, norm, version, n_classes, seed

    def __call__(self, model, x, y, eps=None, clean_logits=None):
        import torchattacks

        was_training = model.training
        model.eval()
        try:
            atk = torchattacks.AutoAttack(model, norm="Linf" if self.norm == "linf" else "L2", eps=self.eps,
                                          version=self.version, n_classes=self.n_classes, seed=self.seed)
            return atk(x.float(), y).detach()
        finally:
            model.train(was_training)
