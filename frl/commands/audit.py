"""``frl audit MODEL --out DIR``: class-wise standard / boundary / robust error of a model not trained here
(a RobustBench zoo entry, a TorchScript file, or a state_dict of one of our architectures)."""

from __future__ import annotations

from pathlib import Path

from deep.choices import Norm

from ..errors import UserError
from ..parsing import number, path, whole

PROG = "frl audit"


def register(sub) -> None:
    p = sub.add_parser("audit", help="class-wise errors of a model not trained here (robustbench:NAME, TorchScript, "
                                     "state_dict)",
                       description="Scores MODEL on the test split with PGD-20 (and AutoAttack, --attack autoattack); "
                                   "writes DIR/eval.json (the format of frl eval, read by frl compare and frl figures) "
                                   "and DIR/classwise.png / .pdf.")
    p.add_argument("model", help="robustbench:NAME (RobustBench's zoo), a TorchScript file, or a state_dict file "
                                 "with --model")
    p.add_argument("--out", type=path, required=True, help="folder for eval.json and the class-wise figure "
                                                           "(e.g. runs/zoo/wong2020fast/seed_0, for frl compare)")
    p.add_argument("--model", dest="arch", default=None,
                   help="our architecture of a state_dict file (small_cnn, compact_cnn, compact_cnn_silu, "
                        "preact_resnet18, wrn28_10)")
    p.add_argument("--dataset", default="cifar10", help="dataset of the test split (default cifar10)")
    p.add_argument("--data-dir", default=None, help="where the dataset lives")
    p.add_argument("--zoo-dir", type=path, default="models", help="RobustBench's model folder: DIR/cifar10/Linf/NAME.pt "
                                                                  "(default models)")
    p.add_argument("--attack", default="pgd", help="pgd (default) or autoattack (the official package, with PGD too)")
    p.add_argument("--version", default="standard", help="AutoAttack version: standard (default), plus, rand")
    p.add_argument("--steps", type=whole, default=20, help="PGD steps (default 20)")
    p.add_argument("--eps", type=number, default=None, help="attack radius (default 8/255 on cifar10)")
    p.add_argument("--step-size", type=number, default=None, help="PGD step size (default eps/4)")
    p.add_argument("--norm", choices=Norm.values(), default="linf", help="threat model (default linf)")
    p.add_argument("--limit", type=whole, default=None, help="N test examples spread evenly over the classes")
    p.add_argument("--batch-size", type=whole, default=500, help="evaluation batch size (default 500)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--seed", type=whole, default=0, help="seed of the attack's random start (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from deep.audit import audit
    from deep.run_dir import RunDir, RunDirError, check_result_out
    from figures import style
    from figures.classwise import draw_audit_figure

    out = Path(args.out)
    if out.is_file():
        raise UserError(f"--out {out} is a file: name a folder for eval.json and the figure", prog=PROG)
    rd = RunDir(out)
    if rd.holds_model():
        raise UserError(f"--out {out} holds a trained run: audit into another folder (frl eval scores runs)", prog=PROG)
    check_result_out(out / RunDir.EVAL, "eval")  # an earlier audit may be replaced, nothing else
    res = audit(args.model, model=args.arch, dataset=args.dataset, data_dir=args.data_dir, zoo_dir=args.zoo_dir,
                norm=args.norm, eps=args.eps, steps=args.steps, step_size=args.step_size, attack=args.attack,
                version=args.version, limit=args.limit, batch_size=args.batch_size, seed=args.seed, device=args.device)
    res["result_kind"] = "eval"
    try:
        rd.create()
        with rd.lock(PROG):
            rd.write_json(RunDir.EVAL, res)
            style.save(draw_audit_figure(res), out, "classwise")
    except RunDirError as exc:
        raise UserError(str(exc), prog=PROG) from None
    a, attack = res["avg"], res["attack"]
    name = f"AutoAttack {attack['version']}" if attack["name"] == "autoattack" else f"PGD-{attack['steps']}"
    line = (f"{out / RunDir.EVAL}: {args.model}, {name}, {attack['norm']} eps {attack['eps']:.4g}, "
            f"{sum(res['n_per_class'])} test images: avg std {a['std_error']:.4f} rob {a['rob_error']:.4f}; worst "
            f"rob {res['worst']['rob_error']:.4f} (fractions)")
    if attack["name"] == "autoattack":
        gaps = [g for g in res["gap_autoattack_minus_pgd"] if g is not None]
        line += f"; AutoAttack - PGD robust error per class: {min(gaps):+.4f} .. {max(gaps):+.4f}"
    print(line)
    print(f"{out}/classwise.png, classwise.pdf")
    return 0
