"""AutoAttack (Croce and Hein, ICML 2020, arXiv:2003.01690) run by the official code: the
``pyautoattack`` package (github.com/fra31/auto-attack on PyPI, what RobustBench uses), not by us.

We call the package's own ``AutoAttack(...).run_standard_evaluation`` over the whole split, as
the package does itself, and read each example's outcome from what it returns: the class-wise
errors are then exactly the package's, example by example (tested). What the versions run
(``AutoAttack._set_version``; each attack sees only the examples the previous ones failed on, and
only examples classified correctly are attacked):

========  =======================================================================================
version   attacks in order
========  =======================================================================================
standard  APGD-CE (100 it., 1 restart), APGD-T (100 it., 9 target classes), FAB-T (100 it.,
          9 target classes), Square (5,000 queries, p_init 0.8)
plus      APGD-CE and APGD-DLR (5 restarts), FAB (5 restarts), Square, APGD-T, FAB-T
rand      APGD-CE and APGD-DLR, 20 EOT iterations each (randomised defences)
========  =======================================================================================

:meth:`AutoAttack.settings` reads the settings back from the package's objects, so eval.json
records what ran, with the package's version. Example::

    aa = AutoAttack(8 / 255, "linf", "standard", seed=0, batch_size=500)
    clean_pred, adv_pred = aa.predictions(model, x, y)   # x in [0, 1], the whole split
"""

from __future__ import annotations

import torch

from .choices import Norm
from .errors import ConfigError

VERSIONS = ("standard", "plus", "rand")
NORMS = {Norm.LINF: "Linf", Norm.L2: "L2"}  # our names -> the package's


class AutoAttack:
    """The official AutoAttack at radius ``eps`` in ``norm``, ``version`` standard / plus / rand,
    every attack seeded with ``seed``, the package's batches of ``batch_size`` examples.

    The package targets 9 classes (APGD-T, FAB-T); with fewer than 10 classes it would fail, so
    there, and only there, they target the ``n_classes - 1`` other classes (at least 4 classes: its
    DLR losses need them)."""

    def __init__(self, eps: float, norm: str = "linf", version: str = "standard", seed: int = 0,
                 batch_size: int = 500, n_classes: int = 10):
        if version not in VERSIONS:
            raise ConfigError(f"version == {version!r}, must be one of {', '.join(VERSIONS)}")
        if not eps > 0:
            raise ConfigError(f"eps == {eps}, must be > 0")
        if norm not in NORMS:
            raise ConfigError(f"norm == {norm!r}, must be linf or l2")
        if batch_size < 1:
            raise ConfigError(f"batch_size == {batch_size}, must be >= 1")
        if n_classes < 4:  # the package's DLR losses read the 3rd / 4th largest logit (autopgd_base.py)
            raise ConfigError(f"AutoAttack needs at least 4 classes (its DLR losses); this data set has {n_classes}")
        try:
            import pyautoattack
        except ImportError:
            raise ConfigError("AutoAttack needs the official package: pip install pyautoattack") from None
        self.package = pyautoattack
        self.eps, self.norm, self.version, self.seed, self.batch_size = float(eps), norm, version, seed, batch_size
        self.n_classes = n_classes

    def build(self, model, device) -> "object":
        """The package's AutoAttack object for ``model`` on ``device``, set to our version."""
        aa = self.package.AutoAttack(model, eps=self.eps, norm=NORMS[self.norm], version=self.version,
                                     seed=self.seed, device=device)
        if self.n_classes - 1 < aa.apgd_targeted.n_target_classes:
            aa.apgd_targeted.n_target_classes = aa.fab.n_target_classes = self.n_classes - 1
        return aa

    def settings(self, model=None) -> dict:
        """What the package runs: its version, the attacks in order and each one's settings, read from
        the package's own objects (the ones ``build`` makes)."""
        aa = self.build(model if model is not None else torch.nn.Identity(), "cpu")
        apgd, apgd_t, fab, square = aa.apgd, aa.apgd_targeted, aa.fab, aa.square
        comp = {"apgd-ce": dict(n_iter=apgd.n_iter, n_restarts=apgd.n_restarts, eot_iter=apgd.eot_iter, rho=apgd.thr_decr),
                "apgd-dlr": dict(n_iter=apgd.n_iter, n_restarts=apgd.n_restarts, eot_iter=apgd.eot_iter, rho=apgd.thr_decr),
                "apgd-t": dict(n_iter=apgd_t.n_iter, n_restarts=apgd_t.n_restarts,
                               n_target_classes=apgd_t.n_target_classes, eot_iter=apgd_t.eot_iter, rho=apgd_t.thr_decr),
                "fab": dict(n_iter=fab.n_iter, n_restarts=fab.n_restarts),
                # run_standard_evaluation runs FAB-T with one restart whatever fab.n_restarts holds
                "fab-t": dict(n_iter=fab.n_iter, n_restarts=1, n_target_classes=fab.n_target_classes),
                "square": dict(n_queries=square.n_queries, p_init=square.p_init, n_restarts=square.n_restarts,
                               resc_schedule=square.rescale_schedule)}
        return {"package": "pyautoattack", "package_version": self.package.__version__,
                "attacks": [{"name": name, **comp[name]} for name in aa.attacks_to_run]}

    def predictions(self, model, x: torch.Tensor, y: torch.Tensor):
        """(clean prediction, prediction under AutoAttack) of every example, as the package finds them.

        The package returns the adversarial input and the prediction on it for each example it broke,
        and the clean prediction for the others (clean-wrong examples are not attacked)."""
        was_training = model.training
        model.eval()
        try:
            x, y = x.detach().float(), y.detach()
            with torch.no_grad():
                clean = torch.cat([model(x[i:i + self.batch_size]).argmax(1)
                                   for i in range(0, len(x), self.batch_size)])
            _, adv = self.build(model, x.device).run_standard_evaluation(x, y, batch_size=self.batch_size)
            return clean, adv.to(clean.device)
        finally:
            model.train(was_training)
