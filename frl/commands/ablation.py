"""``frl ablation fig3``: the paper's Figure 3 ablation (Section 5.3).

Fine-tunes a pretrained robust model in two groups: one class's boundary-error weight raised
(1.0-4.5x; TRADES-form loss CE + beta KL with that class's KL weighted) and that class's
training radius enlarged (1.0-2.5x eps), everything else fixed. Each variant is a run
directory OUT/weight_<f>/ or OUT/margin_<f>/ ending with eval.json (PGD-20); OUT/ablation.json
records the design. ``frl figures fig3 --runs OUT`` draws it. Resumable: rerun to continue.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from ..jsonio import write_json
from ..parsing import number, whole

PROG = "frl ablation"


def _factors(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"expected comma-separated factors, got {text!r}", prog=PROG) from None
    if not values or any(v <= 0 for v in values):
        raise UserError(f"factors must be positive, got {text!r}", prog=PROG)
    return values


def register(sub) -> None:
    p = sub.add_parser("ablation", help="the Figure 3 ablation: upweight one class's boundary error / enlarge its margin",
                       description=__doc__.splitlines()[0])
    p.add_argument("which", choices=("fig3",), help="which ablation (fig3)")
    p.add_argument("--class", dest="cls", required=True, help="class name or index (paper: deer)")
    p.add_argument("--init", required=True, help="pretrained robust run (e.g. PGD-AT) to fine-tune")
    p.add_argument("--out", required=True, help="output folder of the ablation's runs")
    p.add_argument("--dataset", default="cifar10", help="dataset of --init (default cifar10)")
    p.add_argument("--model", default=None, help="model of --init (default preact_resnet18; digits: small_cnn)")
    p.add_argument("--eps", type=number, default=None, help="radius (default 8/255; digits 0.2)")
    p.add_argument("--epochs", type=whole, default=40, help="fine-tuning epochs per variant (default 40)")
    p.add_argument("--lr", type=number, default=1e-3, help="fine-tuning lr (default 1e-3)")
    p.add_argument("--beta", type=number, default=1.0, help="weight of the KL term (default 1)")
    p.add_argument("--weights", default="1,1.5,2,2.5,3,3.5,4,4.5", help="boundary weight factors")
    p.add_argument("--margins", default="1,1.5,2,2.5", help="margin factors (x eps)")
    p.add_argument("--device", default=None, help="cpu or cuda")
    p.add_argument("--data-dir", default=None, help="dataset location")
    p.add_argument("--seed", type=whole, default=0, help="seed (default 0)")
    p.add_argument("--train-arg", action="append", default=[], metavar="ARG",
                   help="extra argument passed to every `frl train` (repeatable, e.g. --train-arg=--eval-steps=5)")
    p.set_defaults(func=run)


def run(args) -> int:
    from deep.data import DatasetError, load_split

    from .. import cli
    from .evaluate import evaluate_run

    weights, margins = _factors(args.weights), _factors(args.margins)
    out = Path(args.out)
    try:
        names = load_split(args.dataset, False, args.data_dir).class_names
    except (DatasetError, ValueError) as exc:
        raise UserError(str(exc), prog=PROG) from None
    if args.cls in names:
        index = list(names).index(args.cls)
    elif args.cls.isdigit() and int(args.cls) < len(names):
        index = int(args.cls)
    else:
        raise UserError(f"unknown class {args.cls!r}; classes: {', '.join(names)}", prog=PROG)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {args.out}: {exc.strerror}", prog=PROG) from None
    meta = {"class": names[index], "class_index": index, "dataset": args.dataset, "weights": weights,
            "margins": margins, "init": args.init, "epochs": args.epochs}
    write_json(out / "ablation.json", meta, PROG)
    common = ["--dataset", args.dataset, "--method", "trades", "--beta", str(args.beta), "--init", args.init,
              "--epochs", str(args.epochs), "--lr", str(args.lr), "--lr-step-every", "40", "--seed", str(args.seed),
              "--resume", *args.train_arg]
    for flag, value in (("--model", args.model), ("--eps", args.eps), ("--device", args.device),
                        ("--data-dir", args.data_dir)):
        if value is not None:
            common += [flag, str(value)]
    jobs = [(f"weight_{f:g}", ["--class-bndy-weight", f"{index}={f}"]) for f in weights]
    jobs += [(f"margin_{f:g}", ["--class-eps", f"{index}={f}"]) for f in margins]
    for name, extra in jobs:
        run_dir = out / name
        if (run_dir / "eval.json").exists():
            continue
        print(f"{PROG}: {name}", file=sys.stderr, flush=True)
        code = cli.main(["train", *common, *extra, "--out", str(run_dir)])
        if code != 0:
            return code
        try:
            res = evaluate_run(run_dir, steps=20, device=args.device, data_dir=args.data_dir)
        except ValueError as exc:
            raise UserError(str(exc), prog=PROG) from None
        write_json(run_dir / "eval.json", res, PROG)
    print(f"{out}: draw it with `frl figures fig3 --runs {out}`")
    return 0
