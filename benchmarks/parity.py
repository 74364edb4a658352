"""Accuracy parity of the fast path: the same short PGD-AT run with the fast path (bf16 autocast,
channels_last, fused SGD, compile) and in plain fp32; both evaluated in fp32 with PGD-20.

Usage (GPU): python benchmarks/parity.py --data-dir data/cifar10_jpeg_q75 --epochs 5 --out runs/parity
Prints both robust errors and their gap (the issue's bar: within 1 point) and writes
OUT/parity.json. Data: an ImageFolder tree (CIFAR-10 JPEG q75) or --dataset cifar10 / digits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from deep.config import TrainConfig
from deep.runs import evaluate_run, train_run


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
    args = ap.parse_args()
    out = Path(args.out)
    common = dict(dataset=args.dataset, model=args.model, method="pgd_at", epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, eps=args.eps, device=args.device, test_every=0, resume=True,
                  data_dir=args.data_dir if args.dataset != "digits" else None)
    res = {}
    for name, switches in (("fast", dict(fast=True)), ("fp32", dict(fast=False, compile=False))):
        train_run(TrainConfig.from_mapping({**common, **switches, "out": str(out / name)}))
        ev = evaluate_run(out / name, steps=20, device=args.device)
        res[name] = {"avg_std": ev["avg"]["std_error"], "avg_rob": ev["avg"]["rob_error"],
                     "worst_rob": ev["worst"]["rob_error"]}
    gap = 100 * abs(res["fast"]["avg_rob"] - res["fp32"]["avg_rob"])
    res["gap_points"] = gap
    res["device"] = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    (out / "parity.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    print(f"robust error gap fast vs fp32: {gap:.2f} points ({'within' if gap <= 1 else 'OUTSIDE'} 1 point)")


if __name__ == "__main__":
    main()
