"""Accuracy parity of the fast path: the same short PGD-AT run with the fast path (bf16 autocast,
channels_last, fused SGD, compile) and in plain fp32; both evaluated in fp32 with PGD-20.

Usage (GPU): python benchmarks/parity.py --data-dir data/cifar10_jpeg_q75 --epochs 5 --out runs/parity
CPU, the compact model on its CPU schedule (the fast path there: bf16 autocast + channels_last):
    python benchmarks/parity.py --dataset cifar10 --data-dir data/cifar10_q75 --model compact_cnn \
        --batch-size 128 --epochs 3 --set attack_steps=3 --set attack_step_size=20/765 \
        --set lr_schedule=onecycle --set val_per_class=300 --out runs/parity_cpu
Prints both robust errors and their gap (the issue's bar: within 1 point) and writes
OUT/parity.json. Data: an ImageFolder tree (CIFAR-10 JPEG q75) or --dataset cifar10 / digits.
Both models are scored the same way: the plain fp32 module (no folded copy), PGD-20, the test split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from deep.atomic_files import write_json
from deep.attacks import default_eval_step, eval_attack
from deep.config import TrainConfig
from deep.data import BatchLoader
from deep.evaluate import evaluate_classwise
from deep.pipeline import parse_overrides
from deep.runs import load_trained, train_run


def score(run, device):
    """PGD-20 class-wise errors of the run's last model, on the plain fp32 module for either run."""
    cfg, model, data, train_data, _ = load_trained(run, device=device)
    torch.manual_seed(0)
    attack = eval_attack(cfg.eps, 20, cfg.norm, default_eval_step(cfg.eps, cfg.norm))
    return evaluate_classwise(model, BatchLoader(data, 500, shuffle=False, device=next(model.parameters()).device),
                              train_data.num_classes, attack)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="imagefolder")
    ap.add_argument("--data-dir", default="data/cifar10_jpeg_q75")
    ap.add_argument("--model", default="preact_resnet18")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--eps", default="8/255")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default="runs/parity")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other training setting for both runs (e.g. attack_steps=3), as frl run --train-set")
    args = ap.parse_args()
    out = Path(args.out)
    common = dict(dataset=args.dataset, model=args.model, method="pgd_at", epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, eps=args.eps, device=args.device, test_every=0, resume=True,
                  data_dir=args.data_dir if args.dataset != "digits" else None, **parse_overrides(args.set))
    res = {}
    for name, switches in (("fast", dict(fast=True)), ("fp32", dict(fast=False, compile=False))):
        train_run(TrainConfig.from_mapping({**common, **switches, "out": str(out / name)}))
        ev = score(out / name, args.device)
        res[name] = {"avg_std": ev["avg"]["std_error"], "avg_rob": ev["avg"]["rob_error"],
                     "worst_rob": ev["worst"]["rob_error"]}
    gap = 100 * abs(res["fast"]["avg_rob"] - res["fp32"]["avg_rob"])
    res["gap_points"] = gap
    res["device"] = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    res["settings"] = {k: v for k, v in common.items() if k not in ("resume",)}
    res["torch"] = torch.__version__
    write_json(out / "parity.json", res)
    print(json.dumps(res, indent=2))
    print(f"robust error gap fast vs fp32: {gap:.2f} points ({'within' if gap <= 1 else 'OUTSIDE'} 1 point)")


if __name__ == "__main__":
    main()
