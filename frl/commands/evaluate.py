"""``frl eval RUN``: class-wise standard / boundary / robust errors of a run's final model on the test set."""

from __future__ import annotations

from pathlib import Path

from deep.choices import Norm
from deep.run_dir import RunDir

from ..parsing import number, path, whole

PROG = "frl eval"


def register(sub) -> None:
    p = sub.add_parser("eval", help="class-wise errors of a run's final model under PGD (default PGD-20)",
                       description="Evaluate RUN/checkpoint.pt on the test set; writes RUN/eval.json (or --out). A subset "
                                   "(--split val, --limit N) goes to its own file, e.g. RUN/eval_limit100.json.")
    p.add_argument("run", help="run directory (holds config.json and checkpoint.pt)")
    p.add_argument("--attack", default="pgd", help="pgd (default) or autoattack (the official package pyautoattack, fp32)")
    p.add_argument("--version", default="standard", help="AutoAttack version: standard (default), plus, rand")
    p.add_argument("--limit", type=whole, default=None, help="evaluate N examples of the split spread evenly over the classes (the first N/K of each class in file order)")
    p.add_argument("--steps", type=whole, default=20, help="PGD steps (default 20)")
    p.add_argument("--eps", type=number, default=None, help="attack radius (default: the run's eps)")
    p.add_argument("--step-size", type=number, default=None, help="PGD step size (default eps/4)")
    p.add_argument("--norm", choices=Norm.values(), default=None, help="attack norm (default: the run's)")
    p.add_argument("--split", choices=("test", "val"), default="test", help="which split (default test)")
    p.add_argument("--batch-size", type=whole, default=500, help="evaluation batch size (default 500)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: the run's device if available, else cpu)")
    p.add_argument("--data-dir", default=None, help="dataset location if it moved since training")
    p.add_argument("--seed", type=whole, default=0, help="seed of the attack's random start (default 0)")
    p.add_argument("--checkpoint", choices=RunDir.MODELS, default="last",
                   help="which model: last (the final epoch, default), best (lowest validation robust error, "
                        "best.pt; never selected on the test split) or averaged (the weight average of cfa)")
    p.add_argument("--out", type=path, default=None, help="output JSON (default RUN/eval.json; RUN/eval_<split>_limit<N>.json for a subset)")
    p.set_defaults(func=run)


def run(args) -> int:
    from deep.runs import evaluate_and_save

    out, res = evaluate_and_save(args.run, out=args.out, steps=args.steps, eps=args.eps, step_size=args.step_size,
                                 norm=args.norm, split=args.split, batch_size=args.batch_size, device=args.device,
                                 data_dir=args.data_dir, seed=args.seed, attack=args.attack, version=args.version,
                                 limit=args.limit, checkpoint=args.checkpoint)
    a = res["avg"]
    attack = res["attack"]
    name = (f"AutoAttack {attack['version']}" if attack["name"] == "autoattack" else f"PGD-{attack['steps']}")
    line = (f"{Path(out)}: {name}, {attack['norm']} eps {attack['eps']:.4g}: avg std {a['std_error']:.4f} "
            f"bndy {a['bndy_error']:.4f} rob {a['rob_error']:.4f}; worst rob {res['worst']['rob_error']:.4f} (fractions)")
    if attack["name"] == "autoattack":
        gaps = [(g, i) for i, g in enumerate(res["gap_autoattack_minus_pgd"]) if g is not None]
        g, i = max(gaps)
        line += (f"; AutoAttack - PGD-{res['pgd']['attack']['steps']} robust error: avg "
                 f"{a['rob_error'] - res['pgd']['avg']['rob_error']:+.4f}, largest {g:+.4f} (class "
                 f"{res.get('class_names', [str(i)] * (i + 1))[i]})")
    print(line)
    return 0
