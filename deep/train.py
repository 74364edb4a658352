"""The one training loop: data, model, method (loss + controller), evaluation, run directory.

``python -m deep.train ...`` is the same command as ``frl train ...``.

Per epoch: the method's controller step (with the latest class-wise validation errors),
one pass over the training batches, the class-wise evaluation on the validation split
(and the test split every ``test_every`` epochs and at the end), one ``metrics.jsonl``
line per split, then an atomic checkpoint. Resuming restores every piece of state,
including the RNG states and the data order generator, so a resumed CPU run ends with
exactly the metrics of an uninterrupted one.
"""

from __future__ import annotations

import math
import random
import sys
import time

import numpy as np
import torch

from .attacks import PGD
from .config import TrainConfig
from .data import BatchLoader, load_split, validation_split
from .distributed import setup
from .evaluate import evaluate_classwise
from .methods import ATTACK_METHODS, KL_ATTACK_METHODS, MethodName
from .methods import build as build_method_by_name
from .models import build_model
from .run_dir import RunDir

__all__ = ["train", "TrainingDiverged", "build_run", "eval_attack"]

DATASET_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _device(name: str) -> torch.device:
    """The torch device named by --device; ValueError for a name that is not cpu / cuda[:N] or for CUDA without a GPU."""
    if not (name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise ValueError(f"--device {name!r}: must be cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


def load_data(cfg: TrainConfig):
    """(train, val, test) TensorData; val is held out of the training split by the seed."""
    train_full = load_split(cfg.dataset, True, cfg.data_dir, cfg.download)
    test = load_split(cfg.dataset, False, cfg.data_dir, False)
    train_idx, val_idx = validation_split(train_full.y, cfg.val_per_class, cfg.seed)
    val = train_full.subset(val_idx)
    val.augment = False
    return train_full.subset(train_idx), val, test


def make_model(cfg: TrainConfig, num_classes: int, in_channels: int):
    mean, std = DATASET_STATS.get(cfg.dataset, (None, None)) if cfg.normalize else (None, None)
    return build_model(cfg.model, num_classes, in_channels, mean, std)


def train_attack(cfg: TrainConfig) -> PGD:
    """The training attack: PGD-k with step eps/4, relative to each sample's radius when radii differ.

    TRADES and FRL maximise the KL to the clean prediction from TRADES' small Gaussian start;
    PGD-AT, the baseline and FRL with ``frl_loss="pgd_at"`` maximise cross-entropy from a uniform
    random start.
    """
    frl_ce = cfg.method.startswith("frl") and cfg.frl_loss == "pgd_at"  # FRL with the PGD-AT loss: a CE attack
    kl = MethodName(cfg.method) in KL_ATTACK_METHODS and not frl_ce
    return PGD(eps=cfg.eps, steps=cfg.attack_steps, rel_step=cfg.step_size / cfg.eps if cfg.eps > 0 else None,
               norm=cfg.norm, random_start=not kl, loss="kl" if kl else "ce", mode=cfg.attack_mode)


def default_eval_step(eps: float, norm: str) -> float:
    """PGD step of the evaluation: eps/4 for l_inf (2/255 at 8/255), eps/5 for l2 (0.1 at 0.5, paper A.1.2)."""
    return eps / 4 if norm == "linf" else eps / 5


def eval_attack(eps: float, steps: int, norm: str = "linf", step_size: float | None = None) -> PGD | None:
    """The evaluation attack: PGD-steps with a random start, CE loss, eval mode."""
    if eps <= 0:
        return None
    return PGD(eps=eps, steps=steps, step_size=step_size if step_size is not None else default_eval_step(eps, norm),
               norm=norm, random_start=True, loss="ce", mode="eval")


def _class_index(key, class_names) -> int:
    if key in class_names:
        return list(class_names).index(key)
    try:
        idx = int(key)
    except ValueError:
        raise ValueError(f"unknown class {key!r}; classes: {', '.join(class_names)}") from None
    if not 0 <= idx < len(class_names):
        raise ValueError(f"class index {idx} out of range 0..{len(class_names) - 1}")
    return idx


def build_method(cfg: TrainConfig, class_names):
    """The configured method, with its attack and any fixed per-class factors (Figure 3's ablation)."""
    k = len(class_names)
    attack = train_attack(cfg) if MethodName(cfg.method) in ATTACK_METHODS else None
    method = build_method_by_name(cfg.method, k, cfg.eps, attack, cfg)
    for key, factor in cfg.class_bndy_weight.items():
        i = _class_index(key, class_names)
        target = "class_weights_bndy" if hasattr(method, "class_weights_bndy") else "class_weights"
        getattr(method, target)[i] *= factor
    for key, factor in cfg.class_eps.items():
        method.eps_class[_class_index(key, class_names)] = cfg.eps * factor
    return method


def load_init(cfg: TrainConfig, model) -> None:
    """Load the pretrained weights named by --init (a run directory or a checkpoint file)."""
    from pathlib import Path

    path = Path(cfg.init)
    name = RunDir.BEST if cfg.init_checkpoint == "best" else RunDir.CHECKPOINT
    ckpt_path = path / name if path.is_dir() else path
    if not ckpt_path.exists():
        raise ValueError(f"--init {cfg.init}: no {name} there (train one with `frl train --method pgd_at ...`)")
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        state, saved = ckpt["model"], ckpt.get("config", {})
    except Exception:
        raise ValueError(f"--init {cfg.init}: {ckpt_path} is not a checkpoint of this project") from None
    for key in ("dataset", "model", "normalize"):
        if key in saved and saved[key] != getattr(cfg, key):
            raise ValueError(f"--init {cfg.init} was trained with {key} {saved[key]!r}, this run uses "
                             f"{getattr(cfg, key)!r}")
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise ValueError(f"--init {cfg.init}: its weights do not fit {cfg.model}") from None


def _fused_sgd(params, cfg, device):
    """SGD, fused into one kernel per step on CUDA when this torch offers it (one launch instead of one per tensor)."""
    kwargs = dict(lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if device.type == "cuda":
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


def lr_scheduler(cfg: TrainConfig, opt, batches_per_epoch: int):
    """Per-epoch step decays (``step``) or the per-iteration one-cycle schedule (``onecycle``)."""
    if cfg.lr_schedule == "onecycle":
        total = cfg.epochs * batches_per_epoch
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda t: onecycle_factor(t, total, cfg.lr_peak_at))
    if cfg.lr_step_every:
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_step_every, gamma=cfg.lr_gamma)
    milestones = sorted({max(1, round(f * cfg.epochs)) for f in cfg.lr_milestones})
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=cfg.lr_gamma)


def build_run(cfg: TrainConfig):
    """Everything a run needs, freshly seeded: data, loaders, model, optimiser, scheduler, method.

    The fast path, each trick with what it buys (on by default on CUDA, off on CPU; the same code):
    * the whole uint8 split on the device, crop + flip as tensor ops there: no host work per batch;
    * channels_last memory format: the layout cuDNN's fastest convolution kernels want;
    * bf16 autocast of the training step (attack included): tensor-core throughput, no loss scaling;
    * fused SGD: one kernel per step instead of one per parameter tensor;
    * torch.compile of the training forward (``compile``): fused elementwise ops, fewer launches;
    * cudnn.benchmark: the fastest convolution algorithm for the fixed input shape.
    Evaluation always uses the plain fp32 module.
    """
    seed_everything(cfg.seed)
    dist_info, device_name = setup(cfg.device)
    device = _device(device_name)
    fast = cfg.fast if cfg.fast is not None else device.type == "cuda"
    use_compile = cfg.compile if cfg.compile is not None else (fast and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train_data, val, test = load_data(cfg)
    k = train_data.num_classes
    model = make_model(cfg, k, train_data.x.shape[1]).to(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
    opt = _fused_sgd(model.parameters(), cfg, device) if fast else torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    method = build_method(cfg, train_data.class_names)
    shard = dict(device=device, rank=dist_info.rank, world=dist_info.world)
    train_loader = BatchLoader(train_data, cfg.batch_size, shuffle=True, seed=cfg.seed, channels_last=fast, **shard)
    sched = lr_scheduler(cfg, opt, len(train_loader))
    probe = None
    if getattr(method, "controller_split", "val") == "train":
        # a fixed probe of the training split, as large as the validation split, for the controller
        probe_idx = validation_split(train_data.y, min(cfg.val_per_class or 100, 100), cfg.seed + 1)[1]
        probe = BatchLoader(train_data.subset(probe_idx), 500, shuffle=False, augment=False, **shard)
    return {
        "device": device,
        "dist": dist_info,
        "fast": fast,
        "compile": use_compile,
        "data": (train_data, val, test),
        "train_loader": train_loader,
        "val_loader": BatchLoader(val, 500, shuffle=False, **shard),
        "test_loader": BatchLoader(test, 500, shuffle=False, **shard),
        "model": model,  # the plain module: evaluation, checkpoints
        "optimizer": opt,
        "scheduler": sched,
        "lr_per_batch": cfg.lr_schedule == "onecycle",
        "method": method,
        "probe_loader": probe,
    }


def _training_model(run):
    """The module the training step calls: compiled and/or wrapped in DDP as configured."""
    model = run["model"]
    if run["compile"]:
        model = torch.compile(model)
    if run["dist"].enabled:
        ids = [run["device"].index] if run["device"].type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return model


class _NoBar:
    """Stands in for tqdm where it is missing (e.g. a bare GPU image) or the bar is off."""

    disable = True

    def set_postfix(self, **_):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress(cfg: TrainConfig, total: int, epoch: int, main_process: bool = True):
    enabled = main_process and (cfg.progress if cfg.progress is not None else sys.stderr.isatty())
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not enabled,
                leave=False, dynamic_ncols=True)


def _train_epoch(cfg, run, epoch):
    model, opt, method = run["train_model"], run["optimizer"], run["method"]
    loader = run["train_loader"]
    model.train()
    loss_sum = torch.zeros((), device=run["device"], dtype=torch.float64)
    seen = 0
    t0 = time.perf_counter()
    bar = _progress(cfg, len(loader), epoch, run["dist"].main)
    amp = torch.autocast(run["device"].type, dtype=torch.bfloat16, enabled=run["fast"])
    world = run["dist"].world
    for x, y in loader:
        with amp:
            loss = method.loss(model, x, y)
        opt.zero_grad(set_to_none=True)
        if world > 1:
            # DDP averages gradients over processes; weighting each process's mean by its share of the
            # global batch makes that average the gradient of the global-batch mean (shards may differ by one)
            (loss * (len(y) * world / loader.global_batch)).backward()
        else:
            loss.backward()
        opt.step()
        if run["lr_per_batch"]:
            run["scheduler"].step()
        loss_sum += loss.detach().double() * len(y)
        seen += len(y)
        if not bar.disable:  # reading the loss synchronises; only pay for it when a bar is shown
            bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
            bar.update()
    bar.close()
    totals = run["dist"].sum(torch.stack([loss_sum, torch.tensor(float(seen), device=loss_sum.device,
                                                                  dtype=torch.float64)]))
    if run["device"].type == "cuda":
        torch.cuda.synchronize()
    return float(totals[0]) / max(float(totals[1]), 1.0), time.perf_counter() - t0, int(totals[1])


def _evaluate(cfg, run, split):
    """Class-wise errors of the plain fp32 module on a split, counts summed over processes."""
    train_data = run["data"][0]
    loader = run[f"{split}_loader"]
    attack = eval_attack(cfg.eps, cfg.eval_steps, cfg.norm)
    if attack is not None:
        attack.random_start = cfg.eval_random_start
    return evaluate_classwise(run["model"], loader, train_data.num_classes, attack, train_data.class_names,
                              reduce=run["dist"].sum if run["dist"].enabled else None)


def train(cfg: TrainConfig, log=print) -> dict:
    """Run (or resume) training as configured; returns the last test metrics.

    Raises
    ------
    ValueError / DatasetError / OSError
        User mistakes (bad settings, missing data, unwritable --out, foreign checkpoint).
    TrainingDiverged
        If the loss becomes NaN or infinite (the last good checkpoint is kept).
    """
    cfg.validate()
    rd = RunDir(cfg.out)
    if rd.holds_run() and not cfg.resume:
        raise ValueError(f"{cfg.out} already holds a run; pass --resume to continue it or choose another --out")
    ckpt = None
    if cfg.resume and rd.config_path.exists():
        diff = cfg.differences(rd.read_config())
        if diff:
            raise ValueError(f"--resume: {cfg.out} was made with other settings ({'; '.join(diff)})")
        ckpt = rd.load_checkpoint()
    run = build_run(cfg)
    main_process = run["dist"].main
    if main_process:
        rd.create()
    else:
        log = lambda *a, **k: None  # noqa: E731 - only rank 0 talks and writes
    model, method = run["model"], run["method"]
    if cfg.init is not None and ckpt is None:
        load_init(cfg, model)

    def controller_view(val):
        return _evaluate(cfg, run, "probe") if run["probe_loader"] is not None else val

    start, last_val, last_test, last_ctrl, best_rob = 0, None, None, None, None
    if ckpt is not None:
        if cfg.differences(ckpt["config"]):
            raise ValueError(f"--resume: the checkpoint in {cfg.out} is from another configuration "
                             f"({'; '.join(cfg.differences(ckpt['config']))})")
        model.load_state_dict(ckpt["model"])
        run["optimizer"].load_state_dict(ckpt["optimizer"])
        run["scheduler"].load_state_dict(ckpt["scheduler"])
        method.load_state_dict(ckpt["method"])
        run["train_loader"].generator.set_state(ckpt["data_generator"])
        _set_rng_state(ckpt["rng"])
        start, last_val, last_test = ckpt["epoch"] + 1, ckpt.get("last_val"), ckpt.get("last_test")
        last_ctrl = ckpt.get("last_ctrl")
        best_rob = ckpt.get("best_val_rob")
        if main_process:
            rd.truncate_metrics(ckpt["epoch"])
        if start >= cfg.epochs:
            log(f"{cfg.out} is already finished ({cfg.epochs} epochs); nothing to train")
        else:
            log(f"resuming {cfg.out} at epoch {start + 1}/{cfg.epochs}")
    else:
        if main_process:
            if rd.metrics_path.exists():
                rd.metrics_path.unlink()  # a resume that found no checkpoint starts over
            rd.write_config(cfg.to_dict())
        if method.needs_initial_validation:
            last_val = _evaluate(cfg, run, "val")
            last_ctrl = controller_view(last_val)
    run["train_model"] = _training_model(run)
    for epoch in range(start, cfg.epochs):
        method.on_epoch_start(epoch, last_ctrl)
        lr = run["optimizer"].param_groups[0]["lr"]
        loss, seconds, seen = _train_epoch(cfg, run, epoch)
        if not math.isfinite(loss):
            kept = (f"the last good checkpoint (epoch {epoch}) is kept in {cfg.out}" if epoch > 0
                    else "no checkpoint had been written yet")
            raise TrainingDiverged(f"loss became {loss} in epoch {epoch + 1}; stopped, {kept}")
        if not run["lr_per_batch"]:
            run["scheduler"].step()
        common = {"epoch": epoch, "loss": loss, "epoch_time": seconds, "images_per_s": seen / seconds, "lr": lr,
                  **method.log()}
        last_val = _evaluate(cfg, run, "val")
        last_ctrl = controller_view(last_val)
        records = [{**common, "split": "val", **last_val}]
        final = epoch == cfg.epochs - 1
        if final or (cfg.test_every and (epoch + 1) % cfg.test_every == 0):
            last_test = _evaluate(cfg, run, "test")
            records.append({**common, "split": "test", **last_test})
        if not main_process:
            continue
        for record in records:
            rd.append_metrics(record)
        # the best checkpoint by validation robust error (robust overfitting, Rice et al. 2020,
        # arXiv:2002.11569); never by the test split. Written before checkpoint.pt, so a kill between
        # the two is repaired by redoing the epoch.
        rob = last_val["avg"]["rob_error"]
        if sum(last_val["n_per_class"]) > 0 and (best_rob is None or rob < best_rob):
            best_rob = rob
            rd.save_best({"epoch": epoch, "model": model.state_dict(), "val": last_val, "config": cfg.to_dict(),
                          "class_names": list(run["data"][0].class_names)})
        rd.save_checkpoint({
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": run["optimizer"].state_dict(),
            "scheduler": run["scheduler"].state_dict(),
            "method": method.state_dict(),
            "data_generator": run["train_loader"].generator.get_state(),
            "rng": _rng_state(),
            "config": cfg.to_dict(),
            "class_names": list(run["data"][0].class_names),
            "last_val": last_val,
            "last_test": last_test,
            "last_ctrl": last_ctrl,
            "best_val_rob": best_rob,
        })
        log(f"epoch {epoch + 1}/{cfg.epochs}  loss {loss:.4f}  {seconds:.1f}s  "
            f"val std {last_val['avg']['std_error']:.3f} rob {last_val['avg']['rob_error']:.3f} "
            f"(worst {last_val['worst']['rob_error']:.3f})")
    if run["dist"].enabled:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return last_test


def load_trained(run_dir, split="test", data_dir=None, device=None, limit=None, checkpoint="last"):
    """A run directory's model (plain fp32 module, eval mode) and one split of its data.

    ``checkpoint``: "last" (the final epoch's checkpoint.pt) or "best" (best.pt, the epoch with the
    lowest validation robust error). Returns (cfg, model, data, train_data, checkpoint dict).
    Raises ValueError when the directory holds no such model, DatasetError when the data cannot be loaded.
    """
    if checkpoint not in ("last", "best"):
        raise ValueError(f"checkpoint == {checkpoint!r}, must be last or best")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit {limit}: must be >= 1 (an empty split has no error to report)")
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise ValueError(f"{run_dir} is not a directory")
    if not rd.config_path.exists() or not rd.checkpoint_path.exists():
        raise ValueError(f"{run_dir} has no model (config.json and checkpoint.pt are needed)")
    from .config import config_from_dict

    cfg = config_from_dict(rd.read_config())
    if data_dir is not None:
        cfg.data_dir = data_dir
    cfg.download = False
    if device is None:
        device = cfg.device if (cfg.device == "cpu" or torch.cuda.is_available()) else "cpu"
    _device(str(device))  # a device that does not exist is named as such, before any file is read
    if checkpoint == "best":
        if not rd.best_path.exists():
            raise ValueError(f"{run_dir} has no {RunDir.BEST} (it was trained before best checkpoints were kept, "
                             f"or has no validation split); use the last checkpoint")
        ckpt = rd.load_checkpoint(map_location=device, best=True)
    else:
        ckpt = rd.load_checkpoint(map_location=device)
    train_data, val, test = load_data(cfg)
    data = test if split == "test" else val
    if limit is not None:
        data = data.subset(torch.arange(min(int(limit), len(data))))
    model = make_model(cfg, train_data.num_classes, train_data.x.shape[1]).to(device)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return cfg, model, data, train_data, ckpt


def main(argv=None) -> int:
    """``python -m deep.train`` = ``frl train``."""
    from frl.cli import main as frl_main

    return frl_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
