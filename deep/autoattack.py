"""AutoAttack (Croce and Hein, 2020, arXiv:2003.01690) with the official settings, behind the same call
signature as :class:`deep.attacks.PGD`, so the class-wise evaluation treats it like any attack.

We do not write the attacks ourselves: the components are torchattacks' APGD, APGD-T, FAB and
Square, run in fp32 and eval mode. ``torchattacks.AutoAttack`` itself is *not* the standard
AutoAttack: it builds APGD-CE, APGD-T and FAB-T with torchattacks' default of 10 iterations
(the official standard uses 100) and Square with ``resc_schedule=True`` (official: False). Here
the components are built with the settings of the official implementation
(github.com/fra31/auto-attack, ``AutoAttack.__init__`` and ``_set_version``):

========  =======================================================================================
version   attacks in order (each on the points that are still robust)
========  =======================================================================================
standard  APGD-CE (100 it., 1 restart), APGD-T (100 it., 9 target classes), FAB-T (100 it.,
          9 target classes), Square (5,000 queries, p_init 0.8, no rescaled schedule)
plus      APGD-CE and APGD-DLR (5 restarts), FAB (5 restarts), Square, APGD-T, FAB-T
rand      APGD-CE and APGD-DLR, 20 EOT iterations each (randomised defences)
========  =======================================================================================

As in the official code, only examples that the model classifies correctly are attacked, and
each attack sees only those the previous ones failed on; the random generator is seeded per
attack with ``seed``. On the same model and inputs this reproduces the official package's
robust accuracy exactly (tested against ``pyautoattack``, the official code on PyPI).
torchattacks is an optional dependency (the project's ``[autoattack]`` / ``[test]`` extras).
"""

from __future__ import annotations

import torch

from .errors import ConfigError

VERSIONS = ("standard", "plus", "rand")
ITERATIONS = 100  # official n_iter of APGD, APGD-T and FAB
SQUARE_QUERIES = 5000


class AutoAttack:
    def __init__(self, eps: float, norm: str = "linf", version: str = "standard", n_classes: int = 10, seed: int = 0):
        if version not in VERSIONS:
            raise ConfigError(f"version == {version!r}, must be one of {', '.join(VERSIONS)}")
        if not eps > 0:
            raise ConfigError(f"eps == {eps}, must be > 0")
        if norm not in ("linf", "l2"):
            raise ConfigError(f"norm == {norm!r}, must be linf or l2")
        if n_classes < 2:
            raise ConfigError(f"n_classes == {n_classes}, must be >= 2")
        import importlib.util

        if importlib.util.find_spec("torchattacks") is None:
            raise ConfigError("AutoAttack needs torchattacks: pip install --no-deps 'torchattacks>=3.4' (without "
                              "--no-deps it would pin requests to 2.25)")
        self.eps, self.norm, self.version, self.n_classes, self.seed = float(eps), norm, version, n_classes, seed
        self.n_target_classes = min(9, n_classes - 1)

    def settings(self) -> list[dict]:
        """The components in the order they run, with every setting that differs from torchattacks' defaults."""
        t = self.n_target_classes
        apgd = dict(steps=ITERATIONS, rho=0.75)
        square = dict(name="square", n_queries=SQUARE_QUERIES, p_init=0.8, resc_schedule=False, n_restarts=1)
        if self.version == "standard":
            return [dict(name="apgd-ce", loss="ce", n_restarts=1, eot_iter=1, **apgd),
                    dict(name="apgd-t", n_target_classes=t, n_restarts=1, eot_iter=1, **apgd),
                    dict(name="fab-t", steps=ITERATIONS, n_target_classes=t, n_restarts=1),
                    square]
        if self.version == "plus":
            return [dict(name="apgd-ce", loss="ce", n_restarts=5, eot_iter=1, **apgd),
                    dict(name="apgd-dlr", loss="dlr", n_restarts=5, eot_iter=1, **apgd),
                    dict(name="fab", steps=ITERATIONS, n_restarts=5),
                    square,
                    dict(name="apgd-t", n_target_classes=t, n_restarts=1, eot_iter=1, **apgd),
                    dict(name="fab-t", steps=ITERATIONS, n_target_classes=t, n_restarts=5)]
        return [dict(name="apgd-ce", loss="ce", n_restarts=1, eot_iter=20, **apgd),
                dict(name="apgd-dlr", loss="dlr", n_restarts=1, eot_iter=20, **apgd)]

    def _build(self, model, spec: dict):
        import torchattacks

        norm = "Linf" if self.norm == "linf" else "L2"
        common = dict(norm=norm, eps=self.eps, seed=self.seed)
        name = spec["name"]
        if name in ("apgd-ce", "apgd-dlr"):
            return torchattacks.APGD(model, steps=spec["steps"], n_restarts=spec["n_restarts"], loss=spec["loss"],
                                     eot_iter=spec["eot_iter"], rho=spec["rho"], **common)
        if name == "apgd-t":
            atk = torchattacks.APGDT(model, steps=spec["steps"], n_restarts=spec["n_restarts"],
                                     eot_iter=spec["eot_iter"], rho=spec["rho"], n_classes=self.n_classes, **common)
            atk.n_target_classes = spec["n_target_classes"]
            return atk
        if name in ("fab", "fab-t"):
            atk = torchattacks.FAB(model, steps=spec["steps"], n_restarts=spec["n_restarts"],
                                   multi_targeted=name == "fab-t", n_classes=self.n_classes, **common)
            atk.n_target_classes = spec.get("n_target_classes", self.n_target_classes)
            return atk
        return torchattacks.Square(model, n_queries=spec["n_queries"], p_init=spec["p_init"],
                                   resc_schedule=spec["resc_schedule"], n_restarts=spec["n_restarts"], **common)

    def __call__(self, model, x, y, eps=None, clean_logits=None):
        """x_adv: each still-robust, clean-correct example is attacked by the components in turn."""
        was_training = model.training
        model.eval()
        try:
            x = x.detach().float()
            x_adv = x.clone()
            with torch.no_grad():
                robust = model(x).argmax(1) == y
            for spec in self.settings():
                idx = robust.nonzero().flatten()
                if len(idx) == 0:
                    break
                adv = self._build(model, spec)(x[idx], y[idx]).detach()
                with torch.no_grad():
                    fooled = model(adv).argmax(1) != y[idx]
                x_adv[idx[fooled]] = adv[fooled]
                robust[idx[fooled]] = False
            return x_adv
        finally:
            model.train(was_training)
