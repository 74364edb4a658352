"""Projected gradient descent (Madry et al., 2018, arXiv:1706.06083): the one attack of the project.

Training (PGD-AT, TRADES, FRL) and evaluation call the same :class:`PGD`. It supports
l_inf and l2 balls, a random start, any number of steps, a per-sample radius
(a tensor of shape (N,), which FRL's Remargin needs), and two losses: cross-entropy
to the label, or TRADES' KL divergence to the clean prediction (Zhang et al., 2019,
arXiv:1901.08573). Only input gradients are taken (``torch.autograd.grad`` on the
input), so no parameter gradient is computed or accumulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .choices import EPS_DIV, Norm

NORMS = Norm.values()
LOSSES = ("ce", "kl")

__all__ = ["PGD", "NORMS", "LOSSES", "training_attack", "eval_attack", "default_eval_step"]


def _per_sample(value, x: torch.Tensor) -> torch.Tensor:
    """A scalar or (N,) tensor as a tensor broadcastable against x (N, ...)."""
    t = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if t.ndim == 0:
        t = t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ValueError(f"per-sample eps must have shape ({x.shape[0]},), got {tuple(t.shape)}")
    return t.view(-1, *([1] * (x.ndim - 1)))


def _flat_norm(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).view(-1, *([1] * (v.ndim - 1)))


@dataclass
class PGD:
    """PGD attack.

    Parameters
    ----------
    eps : float
        Default radius (pixel units for images); a per-sample tensor may be passed at call time.
    steps : int
        Number of gradient steps (0 gives the random start only, or the clean input without it).
    step_size : float or None
        Absolute step size; default ``rel_step * eps`` per sample.
    rel_step : float
        Step size as a multiple of each sample's eps when ``step_size`` is None (2.5 / steps
        if None, Madry et al.'s choice).
    norm : {"linf", "l2"}
    random_start : bool
        Start from a uniform point of the ball (l2: radius eps U^(1/d), direction uniform).
    loss : {"ce", "kl"}
        Cross-entropy to the labels, or KL(p_clean || p_adv) to the clean prediction (TRADES).
    bounds : (float, float) or None
        Valid input range (images: (0, 1)); None for unbounded inputs such as Gaussian data.
    mode : {"eval", "train", None}
        Model mode during the attack (restored afterwards); None leaves it as it is.
    """

    eps: float
    steps: int = 10
    step_size: float | None = None
    rel_step: float | None = None
    norm: str = "linf"
    random_start: bool = True
    loss: str = "ce"
    bounds: tuple | None = (0.0, 1.0)
    mode: str | None = "eval"

    def __post_init__(self):
        if not float(self.eps) >= 0:
            raise ValueError(f"eps == {self.eps}, must be >= 0")
        if int(self.steps) != self.steps or self.steps < 0:
            raise ValueError(f"steps == {self.steps}, must be a whole number >= 0")
        if self.step_size is not None and not self.step_size > 0:
            raise ValueError(f"step_size == {self.step_size}, must be > 0")
        if self.norm not in NORMS:
            raise ValueError(f"norm == {self.norm!r}, must be one of {', '.join(NORMS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss == {self.loss!r}, must be one of {', '.join(LOSSES)}")
        if self.mode not in ("eval", "train", None):
            raise ValueError(f"mode == {self.mode!r}, must be 'eval', 'train' or None")
        if self.rel_step is None:
            self.rel_step = 2.5 / max(int(self.steps), 1)

    # -- the maths ------------------------------------------------------------------------

    def _objective(self, logits, y, clean_log_p):
        if self.loss == "ce":
            return F.cross_entropy(logits.float(), y, reduction="sum")
        return F.kl_div(F.log_softmax(logits.float(), dim=1), clean_log_p, reduction="sum", log_target=True)

    def _project(self, x_adv, x, eps):
        delta = x_adv - x
        if self.norm == "linf":
            delta = torch.maximum(torch.minimum(delta, eps), -eps)
        else:
            n = _flat_norm(delta)
            delta = delta * torch.clamp(eps / n.clamp_min(EPS_DIV), max=1.0)
        x_adv = x + delta
        if self.bounds is not None:
            x_adv = x_adv.clamp(*self.bounds)
        return x_adv

    def _random_start(self, x, eps):
        if self.norm == "linf":
            delta = (torch.rand_like(x) * 2 - 1) * eps
        else:
            g = torch.randn_like(x)
            dim = x[0].numel()
            r = torch.rand(x.shape[0], device=x.device, dtype=x.dtype).pow(1.0 / dim)
            delta = g / _flat_norm(g).clamp_min(EPS_DIV) * r.view_as(eps) * eps
        return self._project(x + delta, x, eps)

    def perturb(self, model, x, y, eps=None, clean_logits=None):
        """Return x_adv with ||x_adv - x|| <= eps (per sample) inside ``bounds``; no mode handling."""
        eps_t = _per_sample(self.eps if eps is None else eps, x)
        step = eps_t * self.rel_step if self.step_size is None else torch.full_like(eps_t, self.step_size)
        x = x.detach()
        clean_log_p = None
        if self.loss == "kl":
            if clean_logits is None:
                with torch.no_grad():
                    clean_logits = model(x)
            clean_log_p = F.log_softmax(clean_logits.detach().float(), dim=1)
        x_adv = self._random_start(x, eps_t) if self.random_start else x.clone()
        if self.loss == "kl" and not self.random_start:
            # at x_adv = x the KL gradient is exactly zero: TRADES starts from a small Gaussian
            x_adv = self._project(x + 0.001 * torch.randn_like(x), x, eps_t)
        for _ in range(int(self.steps)):
            x_adv.requires_grad_(True)
            with torch.enable_grad():
                obj = self._objective(model(x_adv), y, clean_log_p)
                (grad,) = torch.autograd.grad(obj, x_adv)
            with torch.no_grad():
                if self.norm == "linf":
                    x_adv = x_adv + step * grad.sign()
                else:
                    x_adv = x_adv + step * grad / _flat_norm(grad).clamp_min(EPS_DIV)
                x_adv = self._project(x_adv, x, eps_t)
        return x_adv.detach()

    def __call__(self, model, x, y, eps=None, clean_logits=None):
        """Attack ``model`` at (x, y); the model's train/eval mode is set per ``mode`` and restored."""
        was_training = model.training
        if self.mode is not None:
            model.train(self.mode == "train")
        try:
            return self.perturb(model, x, y, eps=eps, clean_logits=clean_logits)
        finally:
            model.train(was_training)


# --- the two ways the project uses the attack -------------------------------------------------


def training_attack(loss: str, eps: float, steps: int, step_size: float, norm: str = "linf",
                    mode: str = "eval") -> PGD:
    """The training attack: PGD-``steps``, step ``step_size`` relative to each sample's radius.

    ``loss="ce"`` (PGD-AT, the Baseline Reweight, FRL with the PGD-AT loss) maximises cross-entropy
    from a uniform random start; ``loss="kl"`` (TRADES, FRL with the TRADES loss) maximises the KL
    to the clean prediction from TRADES' small Gaussian start. A method names its loss
    (``Method.attack_loss_for``).
    """
    return PGD(eps=eps, steps=steps, rel_step=step_size / eps if eps > 0 else None, norm=norm,
               random_start=loss == "ce", loss=loss, mode=mode)


def default_eval_step(eps: float, norm: str) -> float:
    """PGD step of the evaluation: eps/4 for l_inf (2/255 at 8/255), eps/5 for l2 (0.1 at 0.5, paper A.1.2)."""
    return eps / 4 if norm == "linf" else eps / 5


def eval_attack(eps: float, steps: int, norm: str = "linf", step_size: float | None = None,
                random_start: bool = True) -> PGD | None:
    """The evaluation attack: PGD-``steps`` with a random start, CE loss, eval mode (None at eps 0)."""
    if eps <= 0:
        return None
    return PGD(eps=eps, steps=steps, step_size=step_size if step_size is not None else default_eval_step(eps, norm),
               norm=norm, random_start=random_start, loss="ce", mode="eval")
