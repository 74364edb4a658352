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

from ..errors import UserError
from ..parsing import path, whole

PROG = "frl demo"


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
    from deep.experiments import DEMO_METHODS, demo_runs
    from deep.run_dir import RunDir
    from figures.demo import demo_report_text, write_demo

    methods = ("frl_reweight_remargin",) if args.quick else DEMO_METHODS
    t0 = time.perf_counter()
    with RunDir(out).lock(PROG):  # one demo writes into OUT at a time
        evals = demo_runs(out, args.seed, args.pretrain_epochs, args.frl_epochs, methods,
                          log=lambda m: print(f"[{time.perf_counter() - t0:5.0f}s] {m}", file=sys.stderr, flush=True))
        summary = write_demo(out, evals, {"seed": args.seed, "pretrain_epochs": args.pretrain_epochs,
                                          "frl_epochs": args.frl_epochs, "torch": torch.__version__,
                                          "threads": torch.get_num_threads(),
                                          "seconds": round(time.perf_counter() - t0, 1)})
    print(demo_report_text(summary, evals))
    print(f"\nrun directories, summary.json and the figure demo_classwise.png in {out} (`frl report {out}` shows it)")
    return 0
