"""The method plug-in: what the one training loop asks of a method.

A method owns its loss and its controller state. The loop calls

* ``loss(model, x, y) -> scalar tensor`` once per batch (the model is in train mode);
* ``on_epoch_start(epoch, val)`` before each epoch, with the latest class-wise
  validation errors (``None`` before any evaluation) - FRL's multiplier updates live here;
* ``observe(model, loader, reduce, val)`` after each epoch's evaluation - statistics of its own
  (WAT's validation losses), training statistics summed over processes (DAFA, CFA), weight
  averaging (CFA);
* ``state_dict()`` / ``load_state_dict()`` for an exact resume;
* ``log()`` for the numbers to add to the epoch's metrics line.

A method that averages weights (CFA) keeps the average in its state under ``averaged`` (a model
state dict; None until the averaging starts); ``frl eval --checkpoint averaged`` evaluates it.

Per-class loss weights (``class_weights``, shape (K,)) and per-class training radii
(``eps_class``, shape (K,); per-sample eps = eps_class[y]) are first-class state of every
method, because FRL's Reweight and Remargin change exactly these.

A method is one file in this package: a subclass decorated with :func:`register`, which says
its ``name`` (the ``--method`` value), the attack loss it trains against (``attack_loss``: "ce",
"kl" or None), whether it fine-tunes a pretrained model (``finetunes``: needs ``--init``), which
split its controller reads (``controller_split``), the settings it declares (``declares``: each a
:class:`~deep.settings.Setting`, which becomes a ``TrainConfig`` attribute, a TOML key and an
``frl train`` flag), the settings it reads (``settings``, its own and shared ones such as ``beta``),
the checks that need the whole config (:meth:`Method.check_config`), and how it is made from a
config (:meth:`Method.from_config`). The package finds the file; nothing else needs editing
(``tests/test_method_contract.py`` registers a method from a test file to show it).
"""

from __future__ import annotations

import torch

from ..attacks import PGD
from ..choices import EPS_DIV
from ..distributed import unwrap_ddp

__all__ = ["Method", "ClassSums", "weighted_mean", "register", "registered"]

_REGISTRY: dict = {}


def weighted_mean(per_sample: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_i w_i l_i / sum_i w_i: equals the plain mean when all weights are equal."""
    w = weights.to(per_sample.dtype)
    return (per_sample * w).sum() / w.sum().clamp_min(EPS_DIV)


class ClassSums:
    """Per-class sums of per-example rows and per-class example counts over an epoch's training batches.

    Accumulated on the batches' device (no host synchronisation per batch); :meth:`total` returns them
    in float64 on the CPU, summed over processes with ``reduce``, and starts the next accumulation.
    DAFA sums adversarial softmax outputs, CFA adversarial hits.
    """

    def __init__(self, num_classes: int):
        self.num_classes = int(num_classes)
        self.sums = self.count = None

    @torch.no_grad()
    def add(self, y: torch.Tensor, rows: torch.Tensor) -> None:
        """Add row i of ``rows`` (shape (N, d)) to the sum of class y_i."""
        rows = rows.detach().double()
        if self.count is None:
            self.sums = torch.zeros(self.num_classes, rows.shape[1], device=y.device, dtype=torch.float64)
            self.count = torch.zeros(self.num_classes, device=y.device, dtype=torch.float64)
        self.sums.index_add_(0, y, rows)
        self.count.index_add_(0, y, torch.ones(len(y), device=y.device, dtype=torch.float64))

    def total(self, reduce=None):
        """(sums (K, d), counts (K,)) so far, on the CPU, over all processes; None if nothing was added."""
        if self.count is None:
            return None
        both = torch.cat([self.sums, self.count.unsqueeze(1)], dim=1)
        if reduce is not None:
            both = reduce(both)
        both = both.cpu()
        self.sums = self.count = None
        return both[:, :-1], both[:, -1]


def register(cls):
    """Class decorator: make ``cls`` available as ``--method cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"two methods are named {cls.name!r}: {_REGISTRY[cls.name].__name__} and {cls.__name__}")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict:
    """{name: method class} of every registered method, in listing order (``order``, then name)."""
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


class Method:
    """Base class: natural training with uniform weights; subclasses override :meth:`loss`."""

    name = "base"
    order = 100  # position in listings (``--help``)
    attack_loss: str | None = None  # the training attack's loss: "ce", "kl" or None (no attack)
    finetunes = False  # starts from a pretrained model (--init) with the fine-tuning defaults
    controller_split = "val"  # the split whose class-wise errors on_epoch_start reads: "val" or "train"
    needs_initial_validation = False  # evaluate before the first epoch (for the controller)
    reads_validation = False  # the controller needs the validation split (--val-per-class >= 1)
    declares: tuple = ()  # the Settings this method adds to TrainConfig (deep.settings.Setting)
    settings: tuple = ()  # the names of the settings from_config reads beyond eps (declared here or elsewhere)

    @classmethod
    def resolve_settings(cls, cfg) -> None:
        """Fill declared settings left None whose default depends on other settings (FRL's variant).
        Called for every registered method on every config, before :meth:`check_config`."""

    @classmethod
    def check_config(cls, cfg) -> None:
        """ConfigError for settings that contradict each other under this method (the config's method)."""

    @classmethod
    def attack_loss_for(cls, cfg) -> str | None:
        """The training attack's loss under a config (a method whose loss is a setting overrides this)."""
        return cls.attack_loss

    @classmethod
    def from_config(cls, cfg, num_classes: int, attack: PGD | None):
        """The method with the settings it reads from a :class:`~deep.config.TrainConfig`."""
        return cls(num_classes, cfg.eps, attack)

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

    def adversarial_forward(self, model, x, y, clean: bool = True):
        """(clean logits or None, logits at the training attack's point) of a batch, each sample
        attacked at its own radius ``eps_class[y]``.

        With ``clean`` the clean forward comes first; a KL attack (TRADES) that runs in train mode
        reuses its logits (one forward fewer), in eval mode it computes its own (TRADES' choice).
        The attack runs on the module inside DDP (input gradients need no reducer).
        """
        clean_logits = model(x) if clean else None
        reuse = clean_logits.detach() if clean and self.attack.mode == "train" else None
        x_adv = self.attack(unwrap_ddp(model), x, y, eps=self.sample_eps(y), clean_logits=reuse)
        return clean_logits, model(x_adv)

    def scale_boundary_weight(self, i: int, factor: float) -> None:
        """Multiply class i's weight in the robust (boundary) term (Figure 3's ablation)."""
        self.class_weights[i] *= factor

    # -- the plug-in interface ---------------------------------------------------------------
    def loss(self, model, x, y) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, val: dict | None) -> None:
        """Controller step; plain methods do nothing."""

    def observe(self, model, loader, reduce=None, val=None) -> None:
        """After each epoch's training and evaluation, on every process: ``loader`` is the validation
        loader (None without a validation split), ``val`` the class-wise validation errors just measured
        (None without one), ``reduce`` sums a tensor over processes (None in a single process). WAT
        scores the validation split here, DAFA and CFA sum their training statistics, CFA averages
        weights. Plain methods observe nothing."""

    def log_after_observe(self) -> dict:
        """Metrics-line fields of the state that :meth:`observe` changes and the epoch's checkpoint holds
        (e.g. CFA's count of averaged updates); :meth:`log` gives the state the epoch trained with."""
        return {}

    def state_dict(self) -> dict:
        return {"class_weights": self.class_weights.clone(), "eps_class": self.eps_class.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.class_weights = state["class_weights"].clone()
        self.eps_class = state["eps_class"].clone()

    def log(self) -> dict:
        return {}
