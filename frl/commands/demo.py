"""``frl demo``: the main job on embedded data - PGD-AT on digits, then FRL from it, class-wise table.

Runs on CPU in a few minutes. Every run is a normal run directory under OUT/<method>/;
OUT/summary.json holds avg / worst standard, boundary and robust errors (fractions, test
split, PGD-20) per method. Hyperparameters are the paper's (tau = 0.05, alpha = 0.05, lr
1e-3 for fine-tuning) - nothing is tuned on the test split. Two controls fine-tune the same
start for as many epochs: ``pgd_at_continued`` with plain PGD-AT (the effect of training
longer) and ``loss_only`` with FRL's loss and the controller off (the effect of the loss).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from deep.choices import DEFAULT_EVAL_STEPS
from deep.run_dir import SIX as METRICS

from ..errors import UserError
from ..parsing import path, whole

PROG = "frl demo"
FULL = ("frl_reweight_remargin", "pgd_at_continued", "loss_only", "frl_reweight", "frl_remargin",
        "baseline_reweight")
# The start: PGD-AT with the one-cycle learning rate (with per-epoch step decays and no warm-up,
# two of three digits seeds collapsed to chance; see the README).
START = {"lr_schedule": "onecycle"}
# Controls: the start trained on with its own loss, and FRL's loss with the controller off
# (alpha1 = alpha2 = 0: uniform class weights, eps for every class).
CONTROLS = {"pgd_at_continued": ("pgd_at", {}),
            "loss_only": ("frl_reweight_remargin", {"alpha1": 0.0, "alpha2": 0.0})}


def register(sub) -> None:
    p = sub.add_parser("demo", help="PGD-AT then FRL on the embedded digits, with a class-wise table (CPU, minutes)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--out", type=path, default="results/demo", help="output folder (default results/demo)")
    p.add_argument("--seed", type=whole, default=0, help="seed (default 0)")
    p.add_argument("--pretrain-epochs", type=whole, default=15, help="PGD-AT epochs from scratch (default 15)")
    p.add_argument("--frl-epochs", type=whole, default=10, help="fine-tuning epochs per method (default 10)")
    p.add_argument("--quick", action="store_true", help="only PGD-AT and FRL Reweight+Remargin")
    p.add_argument("--threads", type=whole, default=2,
                   help="CPU threads of torch (default 2): the numbers are reproducible for a given torch version "
                        "and thread count")
    p.set_defaults(func=run)


def run_demo(out: Path, seed=0, pretrain_epochs=15, frl_epochs=10, methods=FULL, log=print) -> dict:
    """The demo's runs under ``out`` (resumable), their PGD-20 evaluations and summary files."""
    import torch

    from deep.config import TrainConfig
    from deep.run_dir import RunDir, six_numbers
    from deep.runs import evaluate_and_save, train_run
    from figures import style
    from figures.demo import draw_demo
    from figures.results import DEMO, demo_figure

    common = dict(dataset="digits", model="small_cnn", eps=0.2, seed=seed, test_every=0, resume=True)
    t0 = time.perf_counter()
    pre = RunDir(out / "pgd_at")
    if not pre.checkpoint_path.exists() or not pre.eval_path.exists():
        log(f"[{time.perf_counter() - t0:5.0f}s] PGD-AT from scratch, {pretrain_epochs} epochs (one-cycle lr)")
        train_run(TrainConfig(**common, method="pgd_at", **START, epochs=pretrain_epochs, out=str(pre.path)), log=log)
    for m in methods:
        log(f"[{time.perf_counter() - t0:5.0f}s] {m} from PGD-AT, {frl_epochs} epochs")
        method, settings = CONTROLS.get(m, (m, {}))
        train_run(TrainConfig(**common, method=method, **settings, epochs=frl_epochs, lr=1e-3, lr_step_every=40,
                              init=str(pre.path), out=str(out / m)), log=log)
    summary, classwise = {}, {}
    for name in ("pgd_at", *methods):
        _, res = evaluate_and_save(out / name, steps=DEFAULT_EVAL_STEPS)
        summary[name] = six_numbers(res)
        classwise[name] = res
    group = RunDir(out)
    group.write_summary(summary, summary_markdown(summary))
    group.write_json(DEMO, {"seed": seed, "pretrain_epochs": pretrain_epochs, "frl_epochs": frl_epochs,
                            "methods": list(methods), "labels": {m: LABELS.get(m, m) for m in ("pgd_at", *methods)},
                            "torch": torch.__version__, "threads": torch.get_num_threads(),
                            "seconds": round(time.perf_counter() - t0, 1)})
    with style.use():
        style.save(draw_demo(demo_figure(out)), out, "demo_classwise")
    log(f"[{time.perf_counter() - t0:5.0f}s] done")
    return {"summary": summary, "classwise": classwise}


LABELS = {"pgd_at": "PGD-AT (start)", "frl_reweight_remargin": "FRL Reweight+Remargin",
          "pgd_at_continued": "PGD-AT trained as long (control)", "loss_only": "FRL's loss, controller off (control)",
          "frl_reweight": "FRL Reweight", "frl_remargin": "FRL Remargin", "baseline_reweight": "Baseline Reweight"}


def summary_markdown(summary: dict) -> str:
    """The demo's six numbers per method as the README's Markdown table (%)."""
    lines = ["| method | avg std | worst std | avg bndy | worst bndy | avg rob | worst rob |",
             "|---|---|---|---|---|---|---|"]
    for m, s in summary.items():
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(f"{100 * s[n]:.1f}" for n, _, _ in METRICS) + " |")
    return "\n".join(lines) + "\n"


def format_report(result: dict) -> str:
    summary, classwise = result["summary"], result["classwise"]
    names = classwise["pgd_at"]["class_names"]
    lines = ["Class-wise robust error (%, test split, PGD-20 l_inf 0.2):",
             f"{'method':<24}" + "".join(f"{n:>6}" for n in names)]
    for m, res in classwise.items():
        lines.append(f"{m:<24}" + "".join(f"{100 * v:6.1f}" for v in res["rob_error"]))
    lines += ["", f"{'method':<24}" + "".join(f"{n:>11}" for n, _, _ in METRICS)]
    for m, s in summary.items():
        lines.append(f"{m:<24}" + "".join(f"{100 * s[n]:11.1f}" for n, _, _ in METRICS))
    if "frl_reweight_remargin" in summary:
        a, b = summary["pgd_at"], summary["frl_reweight_remargin"]
        d_worst = 100 * (a["worst_rob"] - b["worst_rob"])
        d_std = 100 * (b["avg_std"] - a["avg_std"])
        holds = d_worst >= 3 and d_std <= 2
        lines += ["", f"Paper's claim (FRL RW+RM vs its PGD-AT start: worst-class robust error -3 points or more, "
                      f"average standard error +2 points or less): worst rob {-d_worst:+.1f}, avg std {d_std:+.1f} "
                      f"-> {'holds' if holds else 'does NOT hold'} here"]
        if "pgd_at_continued" in summary:
            c = summary["pgd_at_continued"]
            lines.append(f"Control (PGD-AT trained as long): worst rob {100 * (c['worst_rob'] - a['worst_rob']):+.1f}, "
                         f"avg std {100 * (c['avg_std'] - a['avg_std']):+.1f}")
        if "loss_only" in summary:
            c = summary["loss_only"]
            lines.append(f"Control (FRL's loss, controller off): worst rob "
                         f"{100 * (c['worst_rob'] - a['worst_rob']):+.1f}, avg rob {100 * (c['avg_rob'] - a['avg_rob']):+.1f}"
                         f"; FRL RW+RM: avg rob {100 * (b['avg_rob'] - a['avg_rob']):+.1f}")
    return "\n".join(lines)


def run(args) -> int:
    import torch

    out = Path(args.out)
    if args.pretrain_epochs < 1 or args.frl_epochs < 1:
        raise UserError("--pretrain-epochs and --frl-epochs must be >= 1", prog=PROG)
    if args.threads < 1:
        raise UserError(f"--threads {args.threads}: must be >= 1", prog=PROG)
    torch.set_num_threads(args.threads)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {args.out}: {exc.strerror}", prog=PROG) from None
    methods = ("frl_reweight_remargin",) if args.quick else FULL
    from deep.run_dir import RunDir

    with RunDir(out).lock(PROG):  # one demo writes into OUT at a time
        result = run_demo(out, args.seed, args.pretrain_epochs, args.frl_epochs, methods,
                          log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_report(result))
    print(f"\nrun directories, summary.json and the figure demo_classwise.png in {out} (`frl report {out}` shows it)")
    return 0
