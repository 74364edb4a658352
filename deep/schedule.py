"""The optimiser and the learning-rate schedule of a run."""

from __future__ import annotations

import torch

__all__ = ["make_optimizer", "onecycle_factor", "lr_scheduler"]


def make_optimizer(params, cfg, device: torch.device, fused: bool = False):
    """SGD with the config's lr, momentum (Nesterov's where ``nesterov``) and weight decay.

    ``fused`` (the fast path on CUDA): one kernel per step instead of one per parameter tensor,
    where this torch offers it.
    """
    kwargs = dict(lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    if fused and device.type == "cuda":
        try:
            return torch.optim.SGD(params, fused=True, **kwargs)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.SGD(params, **kwargs)


def onecycle_factor(step: int, total: int, peak_at: float) -> float:
    """The one-cycle learning-rate factor at iteration ``step`` of ``total`` (0-based).

    Piecewise linear through (0, 0), (peak_at total, 1), (total, 0), read at the middle of the
    iteration: the triangular cyclic schedule of Smith (2018, arXiv:1803.09820) as Wong, Rice and
    Kolter (2020, arXiv:2001.03994) use it for fast adversarial training (peak at 2/5).
    """
    u, peak = step + 0.5, peak_at * total
    if u <= peak:
        return u / peak
    return max(0.0, (total - u) / (total - peak))


def lr_scheduler(cfg, opt, batches_per_epoch: int):
    """Per-epoch step decays (``step``) or the per-iteration one-cycle schedule (``onecycle``)."""
    if cfg.lr_schedule == "onecycle":
        total = cfg.epochs * batches_per_epoch
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda t: onecycle_factor(t, total, cfg.lr_peak_at))
    if cfg.lr_step_every:
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_step_every, gamma=cfg.lr_gamma)
    milestones = sorted({max(1, round(f * cfg.epochs)) for f in cfg.lr_milestones})
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=cfg.lr_gamma)
