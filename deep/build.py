"""A run in memory: the :class:`Run` dataclass and :func:`build_run`, which makes it from a config.

The speed tricks a run uses (bf16 autocast, channels_last, fused SGD, torch.compile, folded
evaluation) are chosen per device and model in :mod:`deep.fast_path`, from measurements; the
whole uint8 split lives on the device with crop + flip as tensor ops there; on CUDA
cudnn.benchmark picks the fastest convolution for the fixed input shape. Evaluation is fp32.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import methods
from .attacks import training_attack
from .config import TrainConfig
from .data import BatchLoader, TensorData, load_splits, validation_split
from .distributed import Dist, setup
from .errors import ConfigError, RunDirError
from .fast_path import FastPath, choose
from .foreign_weights import is_state_dict, to_our_names
from .models import model_for
from .run_dir import RunDir
from .schedule import lr_scheduler, make_optimizer

__all__ = ["Run", "Progress", "build_run", "build_method", "resolve_device", "seed_everything", "load_init"]


@dataclass
class Progress:
    """Where the loop stands: the next epoch, and the latest class-wise errors it keeps across epochs."""

    epoch: int = 0  # the next epoch to train
    last_val: dict | None = None
    last_test: dict | None = None
    last_ctrl: dict | None = None  # what the controller read last (the validation split or the training probe)
    best_val_rob: float | None = None


@dataclass
class Run:
    """Everything a run holds in memory while it trains."""

    cfg: TrainConfig
    device: torch.device
    dist: Dist
    speed: FastPath  # the speed tricks in use (deep.fast_path)
    train_data: TensorData
    val_data: TensorData
    test_data: TensorData
    loaders: dict  # "train", "val", "test" and, for a method whose controller reads the training split, "probe"
    model: torch.nn.Module  # the plain module: evaluation, checkpoints
    optimizer: torch.optim.Optimizer
    scheduler: object
    method: methods.Method
    progress: Progress = field(default_factory=Progress)
    train_model: torch.nn.Module | None = None  # compiled and/or DDP-wrapped: what the training step calls

    @property
    def lr_per_batch(self) -> bool:
        """The schedule steps every iteration (one-cycle) rather than every epoch."""
        return self.cfg.lr_schedule == "onecycle"

    @property
    def class_names(self) -> tuple:
        return tuple(self.train_data.class_names)

    @property
    def num_classes(self) -> int:
        return self.train_data.num_classes


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """The torch device named by --device; ConfigError for a name that is not cpu / cuda[:N] or CUDA without a GPU."""
    if not (name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise ConfigError(f"--device {name!r}: must be cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


def _class_index(key, class_names, flag: str) -> int:
    if key in class_names:
        return list(class_names).index(key)
    try:
        idx = int(key)
    except ValueError:
        raise ConfigError(f"{flag}: unknown class {key!r}; classes: {', '.join(class_names)}") from None
    if not 0 <= idx < len(class_names):
        raise ConfigError(f"{flag}: class index {idx} out of range 0..{len(class_names) - 1}")
    return idx


def build_method(cfg: TrainConfig, class_names):
    """The configured method, with its training attack and any fixed per-class factors (Figure 3's ablation)."""
    cls = methods.get(cfg.method)
    loss = cls.attack_loss_for(cfg)
    attack = None if loss is None else training_attack(loss, cfg.eps, cfg.attack_steps, cfg.step_size, cfg.norm,
                                                       cfg.attack_mode)
    method = cls.from_config(cfg, len(class_names), attack)
    for key, factor in cfg.class_bndy_weight.items():
        method.scale_boundary_weight(_class_index(key, class_names, "--class-bndy-weight"), factor)
    for key, factor in cfg.class_eps.items():
        method.eps_class[_class_index(key, class_names, "--class-eps")] = cfg.eps * factor
    return method


def load_init(cfg: TrainConfig, model) -> dict | None:
    """Load the pretrained weights named by --init (a run directory, a checkpoint file, or a RobustBench zoo
    entry ``robustbench:NAME``, loaded by RobustBench's own loader); returns the zoo record for config.json
    (name, threat model, file, sha256), None for a start of ours."""
    if cfg.init.startswith("robustbench:"):
        from .zoo import load_zoo_model

        zoo_model, record = load_zoo_model(cfg.init[len("robustbench:"):], cfg.zoo_dir, cfg.dataset, cfg.norm)
        model.load_state_dict(zoo_model.state_dict())
        return record
    path = Path(cfg.init)
    name = RunDir.BEST if cfg.init_checkpoint == "best" else RunDir.CHECKPOINT
    ckpt_path = path / name if path.is_dir() else path
    if not ckpt_path.exists():
        raise ConfigError(f"--init {cfg.init}: no {name} there (train one with `frl train --method pgd_at ...`)")
    try:
        if path.is_dir():
            ckpt = RunDir(path).load_model(cfg.init_checkpoint)
        else:
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if is_state_dict(ckpt):  # a bare state_dict of other code, e.g. the FRL authors' hot_start.pt
            state, saved = ckpt, {}
        else:
            state, saved = ckpt["model"], ckpt.get("config", {})
    except RunDirError as exc:
        raise ConfigError(f"--init {cfg.init}: {exc}") from None
    except Exception:
        raise ConfigError(f"--init {cfg.init}: {ckpt_path} is not a checkpoint of this project") from None
    for key in ("dataset", "model", "normalize"):
        if key in saved and saved[key] != getattr(cfg, key):
            raise ConfigError(f"--init {cfg.init} was trained with {key} {saved[key]!r}, this run uses "
                              f"{getattr(cfg, key)!r}")
    try:
        model.load_state_dict(to_our_names(state, model))
    except RuntimeError:
        hint = " (the FRL authors' hot_start.pt fits --model preact_resnet18_authors)" if not saved else ""
        raise ConfigError(f"--init {cfg.init}: its weights do not fit {cfg.model}{hint}") from None
    return None


def _loaders(cfg: TrainConfig, method, data, channels_last: bool, shard: dict) -> dict:
    train_data, val, test = data
    loaders = {"train": BatchLoader(train_data, cfg.batch_size, shuffle=True, seed=cfg.seed, channels_last=channels_last,
                                    **shard),
               "val": BatchLoader(val, 500, shuffle=False, **shard),
               "test": BatchLoader(test, 500, shuffle=False, **shard)}
    if method.controller_split == "train":
        # a fixed probe of the training split, as large as the validation split, for the controller
        probe_idx = validation_split(train_data.y, min(cfg.val_per_class or 100, 100), cfg.seed + 1)[1]
        loaders["probe"] = BatchLoader(train_data.subset(probe_idx), 500, shuffle=False, augment=False, **shard)
    return loaders


def build_run(cfg: TrainConfig) -> Run:
    """Everything a run needs, freshly seeded: data, loaders, model, optimiser, scheduler, method."""
    seed_everything(cfg.seed)
    dist_info, device_name = setup(cfg.device)
    device = resolve_device(device_name)
    speed = choose(device, cfg.model, cfg.fast, cfg.compile)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    data = load_splits(cfg.dataset, cfg.data_dir, cfg.download, cfg.val_per_class, cfg.seed, cfg.val_split)
    train_data = data[0]
    model = model_for(cfg.model, cfg.dataset, train_data.num_classes, train_data.x.shape[1], cfg.normalize,
                      cfg.norm).to(device)
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), cfg, device, fused=speed.fused_sgd)
    method = build_method(cfg, train_data.class_names)
    loaders = _loaders(cfg, method, data, speed.channels_last, dict(device=device, rank=dist_info.rank,
                                                                    world=dist_info.world))
    return Run(cfg=cfg, device=device, dist=dist_info, speed=speed, train_data=train_data,
               val_data=data[1], test_data=data[2], loaders=loaders, model=model, optimizer=opt,
               scheduler=lr_scheduler(cfg, opt, len(loaders["train"])), method=method)


def training_model(run: Run) -> torch.nn.Module:
    """The module the training step calls: compiled and/or wrapped in DDP as configured."""
    model = run.model
    if run.speed.compile:
        model = torch.compile(model)
    if run.dist.enabled:
        ids = [run.device.index] if run.device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return model
