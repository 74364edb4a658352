"""Does FRL's controller move the same with a PGD-10 as with a PGD-20 validation attack? (issue 25)

FRL's multipliers read the class-wise errors of the validation split under the per-epoch evaluation
attack (``--eval-steps``: ours 10 by default, the authors' code 20). For each model given (a run's
last or best checkpoint; a fine-tune's start too, with --with-init), this scores the run's own
validation split with PGD-S for every S of --steps (the loop's attack: CE, eval mode, random start,
the default step, fixed seed), then applies the run's own FRL controller (its method and settings,
from multipliers at zero) to each result: once (the update FRL makes at that point) and --repeat
times on the same errors (where a steady gap in the input would drive it over a whole fine-tune).

Usage:
    python benchmarks/controller_steps.py RUNS/cpu/cifar10_frl/frl_reweight_remargin/seed_1 --with-init \\
        --steps 10 20 --out benchmarks/results/controller_steps.json

Prints per model: the class-wise boundary errors under each attack, the largest gap, whether the
same classes violate their constraints, and the class weights / radii after the updates; writes the
same to --out (JSON).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from deep import methods
from deep.atomic_files import write_json
from deep.attacks import eval_attack
from deep.config import config_from_dict
from deep.data import BatchLoader
from deep.evaluate import evaluate_classwise
from deep.methods.frl import boundary_errors, violations
from deep.run_dir import RunDir
from deep.runs import load_trained


def validation_errors(model, val, cfg, num_classes, steps, seed=0):
    """Class-wise errors of ``model`` on ``val`` under the loop's PGD-``steps`` (fixed seed)."""
    attack = eval_attack(cfg.eps, steps, cfg.norm, random_start=cfg.eval_random_start)
    torch.manual_seed(seed)
    return evaluate_classwise(model, BatchLoader(val, 500, shuffle=False), num_classes, attack)


def controller_after(cfg, val, repeat):
    """The run's FRL controller from zero multipliers, after 1 and after ``repeat`` updates on ``val``."""
    method = methods.registered()[cfg.method].from_config(cfg, len(val["std_error"]), None)
    out = {}
    for k in range(1, repeat + 1):
        method.on_epoch_start(k - 1, val)
        if k in (1, repeat):
            out[f"after_{k}"] = {"class_weights_bndy": [round(float(w), 5) for w in method.class_weights_bndy],
                                 "class_weights": [round(float(w), 5) for w in method.class_weights],
                                 "eps_class_over_eps": [round(float(e) / cfg.eps, 5) for e in method.eps_class]}
    return out


def measure(run, checkpoint, steps, repeat, frl_cfg=None):
    cfg, model, val, train_data, ckpt = load_trained(run, split="val", checkpoint=checkpoint, device="cpu")
    ctrl_cfg, epoch = frl_cfg or cfg, int(ckpt.get("epoch", -1))
    rows = {}
    for s in steps:
        t0 = time.time()
        res = validation_errors(model, val, cfg, train_data.num_classes, s)
        bndy, bndy_avg = boundary_errors(res, ctrl_cfg.bndy_metric)
        v_bndy = violations(bndy, bndy_avg, ctrl_cfg.tau2)
        rows[s] = {"epoch": epoch, "seconds": round(time.time() - t0, 1),
                   "bndy_error": [round(b, 4) for b in bndy], "bndy_avg": round(bndy_avg, 4),
                   "rob_error": [round(r, 4) for r in res["rob_error"]], "rob_avg": round(res["avg"]["rob_error"], 4),
                   "violating_bndy": [int(i) for i in torch.nonzero(v_bndy > 0).flatten()],
                   **controller_after(ctrl_cfg, res, repeat)}
    a, b = rows[steps[0]], rows[steps[-1]]
    gap = {"max_abs_bndy_gap": round(max(abs(x - y) for x, y in zip(a["bndy_error"], b["bndy_error"])), 4),
           "avg_bndy_gap": round(b["bndy_avg"] - a["bndy_avg"], 4),
           "same_violating_classes": a["violating_bndy"] == b["violating_bndy"]}
    for k in ("after_1", f"after_{repeat}"):
        for field in ("class_weights_bndy", "eps_class_over_eps"):
            gap[f"{k}_max_abs_{field}_gap"] = round(max(abs(x - y) for x, y in zip(a[k][field], b[k][field])), 5)
    return {"run": str(run), "checkpoint": checkpoint, "by_steps": rows, "gap": gap}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="FRL run directories")
    ap.add_argument("--checkpoint", default="last", choices=("last", "best"))
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--repeat", type=int, default=4, help="updates on the same errors (default 4: the CPU pipeline's epochs)")
    ap.add_argument("--with-init", action="store_true", help="also the run's start (its --init), with the run's controller")
    ap.add_argument("--out", default="benchmarks/results/controller_steps.json")
    args = ap.parse_args()
    results = []
    for run in args.runs:
        frl_cfg = config_from_dict(RunDir(run).read_config(), where=str(run))
        if args.with_init:  # the start, as the run's config names it (relative to where it was trained)
            results.append({**measure(Path(frl_cfg.init), "last", args.steps, args.repeat, frl_cfg),
                            "as_start_of": str(run)})
        results.append(measure(run, args.checkpoint, args.steps, args.repeat))
        for r in results[-2 if args.with_init else -1:]:
            print(f"{r['run']} ({r['checkpoint']}): " + ", ".join(f"{k} {v}" for k, v in r["gap"].items()))
            for s, row in r["by_steps"].items():
                print(f"  PGD-{s}: bndy {row['bndy_error']} (avg {row['bndy_avg']}), violating {row['violating_bndy']}, "
                      f"radii/eps after {args.repeat}: {row[f'after_{args.repeat}']['eps_class_over_eps']}")
    meta = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"meta": meta, "results": results}, indent=1)
    print(args.out)


if __name__ == "__main__":
    main()
