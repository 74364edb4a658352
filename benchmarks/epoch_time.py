"""Time one PGD-10 adversarial-training epoch: our training step against a plain reference loop.

Usage:
    python benchmarks/epoch_time.py                       # GPU: PreAct-ResNet18 and WRN-28-10
    python benchmarks/epoch_time.py --device cpu --batches 2 --batch-size 16 --models preact_resnet18

"Ours" is the project's real training step (``deep.train.train_epoch`` with the method's own
loss and attack, ``--method pgd_at | trades | frl_reweight_remargin``): the uint8 dataset on the
device, crop + flip there, input gradients only, and the run's default fast path on that device
and model (deep/fast_path.py: bf16 autocast, channels_last, fused SGD and torch.compile on CUDA;
per model on a CPU, e.g. bf16 + channels_last for compact_cnn; ``--no-compile`` to compare). "Plain" is the loop a user of the method's
reference code runs, fp32 with a DataLoader over CPU tensors and the augmentation on the CPU, in
that code's style: for PGD-AT Rice et al.'s ``train_cifar.py`` (train mode, one forward and
``loss.backward()`` per attack step, no clean forward); for TRADES and FRL the TRADES reference
(eval mode, the clean forward recomputed at every step). Each row says which (``plain_style``).
Both run in this process on the same device on CIFAR-10-sized synthetic data (N x 3 x 32 x 32
uint8); the epoch time is extrapolated from the timed batches to 50,000 images. CUDA events
bracket the timed region only; compilation and warm-up batches run before it.

The floor: an epoch of PGD-10 AT does ~23 forward-equivalents per image (10 attack steps of
forward + input-gradient backward, plus the training forward + backward); at 0.555 G (PreAct-
ResNet18), 5.24 G (WRN-28-10) or 0.0268 G (compact_cnn) multiply-adds per forward that is 1.28 / 12.05 PFLOP, i.e.
1.6 s / 15.1 s at the H100's measured 798 TFLOP/s in bf16. A row is appended to
benchmarks/results/<device name>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from deep.atomic_files import write_text
from deep.build import Run, build_method
from deep.config import TrainConfig
from deep.data import BatchLoader, TensorData, augment_crop_flip
from deep.distributed import Dist
from deep.fast_path import choose
from deep.models import build_model
from deep.schedule import make_optimizer
from deep.train import train_epoch

EPOCH_IMAGES = 50_000
MACS = {"preact_resnet18": 0.555e9, "wrn28_10": 5.24e9, "compact_cnn": 0.0268e9}
PEAK_BF16 = 798e12  # measured on an H100 (the figure)
EPS, STEP = 8 / 255, 2 / 255


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class _Timer:
    def __init__(self, device):
        self.device = device

    def __enter__(self):
        _sync(self.device)
        if self.device.type == "cuda":
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.start.record()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.end.record()
            torch.cuda.synchronize()
            self.seconds = self.start.elapsed_time(self.end) / 1000
        else:
            self.seconds = time.perf_counter() - self.t0


def synthetic(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return TensorData(x, torch.arange(n) % 10, tuple(str(i) for i in range(10)), augment=True)


def time_ours(name, data, batch_size, batches, warmup, steps, device, speed, method="pgd_at"):
    """Our real training step (deep.train.train_epoch) with the method's own loss and attack, and the
    fast path ``speed`` (:func:`deep.fast_path.choose`: the run's default on this device and model)."""
    torch.manual_seed(0)
    model = build_model(name, 10, 3).to(device)
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    init = {"init": "(not loaded: timing only)"} if method.startswith("frl") else {}
    cfg = TrainConfig(dataset="cifar10", model=name, method=method, lr=0.1, batch_size=batch_size, eps=EPS,
                      attack_steps=steps, attack_step_size=STEP, progress=False, **init)
    opt = make_optimizer(model.parameters(), cfg, device, fused=speed.fused_sgd)

    def loader(n_batches):
        sub = TensorData(data.x[: n_batches * batch_size], data.y[: n_batches * batch_size], data.class_names, True)
        return BatchLoader(sub, batch_size, shuffle=True, device=device, channels_last=speed.channels_last,
                           drop_last=True)

    run = Run(cfg=cfg, device=device, dist=Dist(), speed=speed, train_data=data, val_data=data,
              test_data=data, loaders={"train": loader(warmup)}, model=model, optimizer=opt, scheduler=None,
              method=build_method(cfg, data.class_names), train_model=torch.compile(model) if speed.compile else model)
    train_epoch(run, 0)  # compile and warm up outside the timed region
    run.loaders["train"] = loader(batches)
    with _Timer(device) as t:
        train_epoch(run, 0)
    return t.seconds / (batches * batch_size) * EPOCH_IMAGES


def _plain_pgd_rice(model, x, y, steps):
    """PGD-AT reference style (Rice et al. 2020, train_cifar.py): the model stays in train mode, each step one
    forward on x + delta and loss.backward() (parameter gradients included); no clean forward."""
    delta = torch.empty_like(x).uniform_(-EPS, EPS)
    delta = ((x + delta).clamp(0, 1) - x).requires_grad_(True)
    for _ in range(steps):
        loss = F.cross_entropy(model(x + delta), y)
        loss.backward()
        delta.data = (delta + STEP * delta.grad.sign()).clamp(-EPS, EPS)
        delta.data = (x + delta.data).clamp(0, 1) - x
        delta.grad.zero_()
    return (x + delta).detach()


def _plain_pgd_trades(model, x, y, steps):
    """TRADES / FRL reference style (Zhang et al. trades.py; Xu et al. fair_robust): eval mode, a small Gaussian
    start, the KL to the clean prediction with the clean forward recomputed at every step."""
    x_adv = (x + 0.001 * torch.randn_like(x)).detach()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss_kl = F.kl_div(F.log_softmax(model(x_adv), 1), F.softmax(model(x), 1), reduction="sum")
        (grad,) = torch.autograd.grad(loss_kl, [x_adv])
        x_adv = x_adv.detach() + STEP * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - EPS), x + EPS).clamp(0, 1).detach()
    return x_adv


def _plain_step(method, model, opt, x, y, steps):
    if method == "pgd_at":
        model.train()
        x_adv = _plain_pgd_rice(model, x, y, steps)
        loss = F.cross_entropy(model(x_adv), y)
    else:
        model.eval()
        x_adv = _plain_pgd_trades(model, x, y, steps)
        model.train()
        clean = model(x)
        beta = 6.0 if method == "trades" else 1.0
        loss = F.cross_entropy(clean, y) + beta * F.kl_div(F.log_softmax(model(x_adv), 1), F.softmax(clean, 1),
                                                           reduction="batchmean")
    opt.zero_grad()
    loss.backward()
    opt.step()


PLAIN_STYLE = {"pgd_at": "Rice et al. 2020 (train mode, backward per step, no clean forward)",
               "trades": "TRADES reference (eval mode, clean forward per step)",
               "frl_reweight_remargin": "TRADES reference as in fair_robust (eval mode, clean forward per step)"}


def time_plain(name, data, batch_size, batches, warmup, steps, device, method="pgd_at"):
    """The loop a user of the method's reference code would run: fp32, a CPU DataLoader, CPU augmentation."""
    torch.manual_seed(0)
    model = build_model(name, 10, 3).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    ds = torch.utils.data.TensorDataset(data.x.float().div(255), data.y)
    g = torch.Generator().manual_seed(0)

    def run(n_batches):
        dl = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(n_batches * batch_size)),
                                         batch_size=batch_size, shuffle=True, drop_last=True)
        for x, y in dl:
            x = augment_crop_flip(x, g)  # on the CPU, before the copy
            _plain_step(method, model, opt, x.to(device), y.to(device), steps)

    run(warmup)
    with _Timer(device) as t:
        run(batches)
    return t.seconds / (batches * batch_size) * EPOCH_IMAGES


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="preact_resnet18,wrn28_10")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--batches", type=int, default=20, help="timed batches per loop")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--attack-steps", type=int, default=10)
    ap.add_argument("--method", choices=tuple(PLAIN_STYLE), default="pgd_at",
                    help="the training step timed, ours and the reference style's (default pgd_at)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="torch.compile our step (default: on CUDA)")
    ap.add_argument("--results", default=str(Path(__file__).with_name("results")))
    args = ap.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.processor() or platform.machine()}"
    data = synthetic((max(args.batches, args.warmup)) * args.batch_size)
    rows = []
    for model in args.models.split(","):
        speed = choose(device, model, None, args.compile)
        ours = time_ours(model, data, args.batch_size, args.batches, args.warmup, args.attack_steps, device, speed,
                         args.method)
        plain = time_plain(model, data, args.batch_size, args.batches, args.warmup, args.attack_steps, device,
                           args.method)
        floor = (2 * args.attack_steps + 3) * MACS[model] * 2 * EPOCH_IMAGES / PEAK_BF16
        row = {"device": name, "model": model, "method": args.method, "plain_style": PLAIN_STYLE[args.method],
               "attack_steps": args.attack_steps, "batch_size": args.batch_size,
               "ours_epoch_s": round(ours, 3), "plain_epoch_s": round(plain, 3), "speedup": round(plain / ours, 2),
               "images_per_s": round(EPOCH_IMAGES / ours, 1), "floor_s_h100_bf16": round(floor, 2),
               "floor_fraction": round(floor / ours, 4), "compile": speed.compile, "fast_path": speed.as_dict(),
               "timed_batches": args.batches, "torch": torch.__version__,
               "date": datetime.date.today().isoformat(), "kind": device.type}
        rows.append(row)
        print(f"{model:<16} {args.method:<22} ours {ours:9.2f} s/epoch ({EPOCH_IMAGES / ours:8.0f} img/s)   plain {plain:9.2f} s/epoch"
              f"   speedup {plain / ours:5.2f}x   floor fraction {floor / ours:6.1%} (of {floor:.1f} s on an H100)")
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    path = out / (re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") + ".json")
    old = json.loads(path.read_text()) if path.exists() else []
    write_text(path, json.dumps(old + rows, indent=1) + "\n")
    print(f"appended {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
