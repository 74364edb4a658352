"""What a checkpoint holds, in one place: :func:`state_of` writes it, :func:`restore` reads it back.

A checkpoint is one dict of everything needed to continue a run exactly: the model, optimiser,
scheduler and method state, the data order generator, the RNG states of random / numpy / torch /
CUDA, the config, and the loop's progress (the latest class-wise errors, the best validation
robust error). ``best.pt`` holds the model of the best epoch with the errors that chose it.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from .build import Progress, Run
from .errors import RunDirError

__all__ = ["state_of", "best_state", "restore", "rng_state", "set_rng_state"]


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def state_of(run: Run, epoch: int) -> dict:
    """The checkpoint after ``epoch`` (0-based) has been trained and evaluated."""
    p = run.progress
    return {
        "epoch": epoch,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "method": run.method.state_dict(),
        "data_generator": run.loaders["train"].generator.get_state(),
        "rng": rng_state(),
        "config": run.cfg.to_dict(),
        "class_names": list(run.class_names),
        "last_val": p.last_val,
        "last_test": p.last_test,
        "last_ctrl": p.last_ctrl,
        "best_val_rob": p.best_val_rob,
    }


def best_state(run: Run, epoch: int) -> dict:
    """``best.pt``: the model of ``epoch`` with the validation errors that made it the best."""
    return {"epoch": epoch, "model": run.model.state_dict(), "val": run.progress.last_val,
            "config": run.cfg.to_dict(), "class_names": list(run.class_names)}


def restore(run: Run, ckpt: dict) -> None:
    """Put a run back in the state :func:`state_of` saved; the loop continues at the next epoch."""
    diff = run.cfg.differences(ckpt["config"])
    if diff:
        raise RunDirError(f"--resume: the checkpoint in {run.cfg.out} is from another configuration "
                          f"({'; '.join(diff)})")
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.scheduler.load_state_dict(ckpt["scheduler"])
    run.method.load_state_dict(ckpt["method"])
    run.loaders["train"].generator.set_state(ckpt["data_generator"])
    set_rng_state(ckpt["rng"])
    run.progress = Progress(epoch=ckpt["epoch"] + 1, last_val=ckpt.get("last_val"), last_test=ckpt.get("last_test"),
                            last_ctrl=ckpt.get("last_ctrl"), best_val_rob=ckpt.get("best_val_rob"))
