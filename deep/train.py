"""The one training loop: per epoch, the method's controller step, one pass over the batches, evaluation.

Per epoch: the method's controller step (with the latest class-wise validation errors, or those
of a training probe), one pass over the training batches, the class-wise evaluation on the
validation split (and the test split every ``test_every`` epochs and at the end), one
``metrics.jsonl`` line per split, then an atomic checkpoint (:mod:`deep.checkpoint`). Resuming
restores every piece of state, including the RNG states and the data order generator, so a
resumed CPU run ends with exactly the metrics of an uninterrupted one.

The loop knows no method by name: a method is a loss and a controller (:mod:`deep.methods`).
What the run holds is built by :func:`deep.build.build_run`; the command line calls
:func:`deep.runs.train_run`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time

import torch

from .attacks import eval_attack
from .build import Run, build_run, load_init, resolve_device, training_model
from .checkpoint import best_state, restore, state_of
from .config import TrainConfig
from .errors import RunDirError
from .evaluate import evaluate_classwise
from .fast_path import eval_module
from .progress import progress_bar
from .run_dir import RunDir

__all__ = ["train", "train_epoch", "evaluate_split", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


# Without a terminal (a log file, a batch job) a line every this many seconds says where an epoch is.
PROGRESS_EVERY_S = 30.0


def train_epoch(run: Run, epoch: int, log=None) -> tuple[float, float, int]:
    """One pass over the training batches; returns (mean loss, seconds, images seen), summed over processes.

    With a terminal, a progress bar; without one (and ``log`` given, progress not switched off), a
    line to ``log`` every ``PROGRESS_EVERY_S`` seconds, so a long epoch is never silent.
    """
    model = run.train_model if run.train_model is not None else run.model
    opt, method, loader = run.optimizer, run.method, run.loaders["train"]
    model.train()
    loss_sum = torch.zeros((), device=run.device, dtype=torch.float64)
    seen = 0
    t0 = time.perf_counter()
    bar = progress_bar(len(loader), f"epoch {epoch + 1}/{run.cfg.epochs}", run.cfg.progress if run.dist.main else False)
    amp = torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.speed.bf16)
    world = run.dist.world
    lines = log is not None and bar.disable and run.cfg.progress is not False
    last_line = t0
    for i, (x, y) in enumerate(loader):
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
        if run.lr_per_batch:
            run.scheduler.step()
        loss_sum += loss.detach().double() * len(y)
        seen += len(y)
        if not bar.disable:  # reading the loss synchronises; only pay for it when a bar is shown
            bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
            bar.update()
        elif lines and time.perf_counter() - last_line >= PROGRESS_EVERY_S:
            last_line = time.perf_counter()
            log(f"epoch {epoch + 1}/{run.cfg.epochs}: batch {i + 1}/{len(loader)}, loss {loss.item():.4f}, "
                f"{seen / (last_line - t0):.0f} img/s")
    bar.close()
    totals = run.dist.sum(torch.stack([loss_sum, torch.tensor(float(seen), device=loss_sum.device,
                                                              dtype=torch.float64)]))
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    return float(totals[0]) / max(float(totals[1]), 1.0), time.perf_counter() - t0, int(totals[1])


def evaluate_split(run: Run, split: str) -> dict:
    """Class-wise errors of the fp32 module (folded, where the fast path says so) on a split ("val", "test",
    "probe"), summed over processes."""
    cfg = run.cfg
    attack = eval_attack(cfg.eps, cfg.eval_steps, cfg.norm, random_start=cfg.eval_random_start)
    return evaluate_classwise(eval_module(run.model, run.speed), run.loaders[split], run.num_classes, attack, run.class_names,
                              reduce=run.dist.sum if run.dist.enabled else None)


def _controller_view(run: Run, val: dict) -> dict:
    """What the controller reads: the validation errors, or those of the training probe."""
    return evaluate_split(run, "probe") if "probe" in run.loaders else val


def _checkpoint_to_resume(cfg: TrainConfig, rd: RunDir) -> dict | None:
    """The checkpoint --resume continues from; None to start fresh. Refuses, rather than destroys, a
    directory whose files do not make a run that can be continued."""
    present = rd.run_files()
    if present and not cfg.resume:
        raise RunDirError(f"{cfg.out} already holds a run ({', '.join(present)}); pass --resume to continue it or "
                          f"choose another --out")
    if not present:
        return None
    if not rd.config_path.exists():
        raise RunDirError(f"--resume: {cfg.out} has {', '.join(present)} but no {RunDir.CONFIG}, so how it was made "
                          f"is unknown; restore {RunDir.CONFIG} or choose another --out")
    diff = cfg.differences(rd.read_config())
    if diff:
        raise RunDirError(f"--resume: {cfg.out} was made with other settings ({'; '.join(diff)})")
    ckpt = rd.load_checkpoint()
    if ckpt is None:
        # killed before its first checkpoint: only then does the run start over
        later = sorted({r.get("epoch") for r in rd.read_metrics()} - {0})
        results = [f for f in (RunDir.EVAL, RunDir.CERTIFY) if f in present]
        if later or results:
            raise RunDirError(f"--resume: {cfg.out} has no {RunDir.CHECKPOINT} but holds "
                              f"{'results ' + ', '.join(results) if results else 'metrics of later epochs'}; "
                              f"it cannot be continued (restore {RunDir.CHECKPOINT} or choose another --out)")
    return ckpt


def _begin(run: Run, rd: RunDir, ckpt: dict | None, log) -> None:
    """Restore the checkpoint, or start fresh: --init weights, config.json, the initial validation."""
    cfg, main_process = run.cfg, run.dist.main
    zoo = None
    if cfg.init is not None and ckpt is None:
        zoo = load_init(cfg, run.model)
    if ckpt is not None:
        restore(run, ckpt)
        moved = rd.truncate_metrics(ckpt["epoch"]) if main_process else 0
        if moved:
            log(f"warning: {moved} unreadable line(s) of {RunDir.METRICS} kept aside in {RunDir.CORRUPT}")
        if run.progress.epoch >= cfg.epochs:
            log(f"{cfg.out} is already finished ({cfg.epochs} epochs); nothing to train")
        else:
            log(f"resuming {cfg.out} at epoch {run.progress.epoch + 1}/{cfg.epochs}")
        return
    if main_process:
        for stale in (rd.metrics_path, rd.best_path):  # a resume that found no checkpoint starts over
            if stale.exists():
                stale.unlink()
        rd.write_config({**cfg.to_dict(), **({"init_zoo": zoo} if zoo else {})})
    if run.method.needs_initial_validation:
        run.progress.last_val = evaluate_split(run, "val")
        run.progress.last_ctrl = _controller_view(run, run.progress.last_val)


def _save_epoch(run: Run, rd: RunDir, epoch: int, records: list) -> None:
    """Metrics lines, best.pt when the validation robust error improved, then checkpoint.pt."""
    p = run.progress
    for record in records:
        rd.append_metrics(record)
    # the best checkpoint by validation robust error (robust overfitting, Rice et al. 2020,
    # arXiv:2002.11569); never by the test split. Written before checkpoint.pt, so a kill between
    # the two is repaired by redoing the epoch.
    rob = p.last_val["avg"]["rob_error"] if p.last_val is not None else None
    if rob is not None and (p.best_val_rob is None or rob < p.best_val_rob):
        p.best_val_rob = rob
        rd.save_best(best_state(run, epoch))
    rd.save_checkpoint(state_of(run, epoch))


def _one_epoch(run: Run, rd: RunDir, epoch: int, log) -> None:
    cfg, p = run.cfg, run.progress
    run.method.on_epoch_start(epoch, p.last_ctrl)
    lr = run.optimizer.param_groups[0]["lr"]
    loss, seconds, seen = train_epoch(run, epoch, log if run.dist.main else None)
    if not math.isfinite(loss):
        kept = (f"the last good checkpoint (epoch {epoch}) is kept in {cfg.out}" if epoch > 0
                else "no checkpoint had been written yet")
        raise TrainingDiverged(f"loss became {loss} in epoch {epoch + 1}; stopped, {kept}")
    if not run.lr_per_batch:
        run.scheduler.step()
    common = {"epoch": epoch, "loss": loss, "epoch_time": seconds, "images_per_s": seen / seconds, "lr": lr,
              "fast_path": [k for k, on in run.speed.as_dict().items() if on], "threads": torch.get_num_threads(),
              **run.method.log()}
    records = []
    has_val = len(run.val_data) > 0  # --val-per-class 0: no validation split, nothing to score
    if has_val:
        p.last_val = evaluate_split(run, "val")
        p.last_ctrl = _controller_view(run, p.last_val)
        records.append({**common, "split": "val", **p.last_val})
    run.method.observe(run.model, run.loaders["val"] if has_val else None,
                       run.dist.sum if run.dist.enabled else None, val=p.last_val if has_val else None)
    after = run.method.log_after_observe()  # state observe changed, as the checkpoint holds it
    common.update(after)
    for record in records:
        record.update(after)
    if epoch == cfg.epochs - 1 or (cfg.test_every and (epoch + 1) % cfg.test_every == 0):
        p.last_test = evaluate_split(run, "test")
        records.append({**common, "split": "test", **p.last_test})
    p.epoch = epoch + 1
    if run.dist.main:
        _save_epoch(run, rd, epoch, records)
        shown = f"val std {p.last_val['avg']['std_error']:.3f} rob {p.last_val['avg']['rob_error']:.3f} " \
                f"(worst {p.last_val['worst']['rob_error']:.3f})" if p.last_val else "no validation split"
        log(f"epoch {epoch + 1}/{cfg.epochs}  loss {loss:.4f}  {seconds:.1f}s  {shown}")


def train(cfg: TrainConfig, log=print) -> dict:
    """Run (or resume) training as configured; returns the last test metrics.

    The run directory is locked for the duration (one writer); what it holds is never destroyed:
    a directory that cannot be resumed is refused with one line (:func:`_checkpoint_to_resume`).

    Raises
    ------
    ConfigError / DatasetError / RunDirError (all :class:`~deep.errors.UsageError`)
        User mistakes: bad settings, missing data, unwritable, occupied or locked --out, foreign checkpoint.
    TrainingDiverged
        If the loss becomes NaN or infinite (the last good checkpoint is kept).
    """
    cfg.validate()
    resolve_device(cfg.device)  # a device that does not exist is named before any file is read
    rd = RunDir(cfg.out)
    with rd.lock("frl train") if _main_process() else contextlib.nullcontext():
        ckpt = _checkpoint_to_resume(cfg, rd)
        run = build_run(cfg)
        if not run.dist.main:
            log = lambda *a, **k: None  # noqa: E731 - only rank 0 talks and writes
        _begin(run, rd, ckpt, log)
        run.train_model = training_model(run)
        for epoch in range(run.progress.epoch, cfg.epochs):
            _one_epoch(run, rd, epoch, log)
    if run.dist.enabled:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return run.progress.last_test


def _main_process() -> bool:
    """Rank 0 under torchrun (RANK unset: a single process)."""
    return os.environ.get("RANK", "0") == "0"
