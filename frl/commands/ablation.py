"""``frl ablation fig3 | frl-loss``: the paper's Figure 3 ablation, and the FRL loss / controller ablation.

``fig3`` (Section 5.3) fine-tunes a pretrained robust model in two groups: one class's
boundary-error weight raised (1.0-4.5x; TRADES-form loss CE + beta KL with that class's KL
weighted) and that class's training radius enlarged (1.0-2.5x eps), everything else fixed. Each
variant is a run directory OUT/weight_<f>/ or OUT/margin_<f>/ ending with eval.json (PGD-20);
OUT/ablation.json records the design. ``frl figures fig3 --runs OUT`` draws it.

``frl-loss`` separates what FRL adds from what the switch of loss does: every arm fine-tunes the
same PGD-AT start for the same epochs at the same learning rate - PGD-AT continued, TRADES
(beta 1, 1.5, 6) without any reweighting, FRL with the TRADES loss and Remargin as printed
(Eq. 11) or in the constraint form (Eq. 9), FRL with the PGD-AT loss, each FRL variant, the
authors' rules - over several seeds (one start per seed, trained here unless ``--init`` is
given). Runs go to OUT/seed_<s>/<arm>/; OUT/frl_loss.json and OUT/frl_loss.md hold the six
numbers per arm (mean ± std, change against the start), OUT/frl_loss_curves.png the per-epoch
validation curves. Both are resumable: rerun to continue.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from deep.experiments import DEFAULT_ARMS, FRL_LOSS_ARMS

from ..errors import UserError
from ..parsing import number, path, whole

PROG = "frl ablation"


def _factors(text, flag):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{flag}: expected comma-separated factors, got {text!r}", prog=PROG) from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise UserError(f"{flag}: factors must be positive and finite, got {text!r}", prog=PROG)
    return values


def register(sub) -> None:
    p = sub.add_parser("ablation", help="Figure 3's ablation (fig3) or the FRL loss / controller ablation (frl-loss)",
                       description=__doc__.splitlines()[0])
    p.add_argument("which", choices=("fig3", "frl-loss"), help="which ablation")
    p.add_argument("--class", dest="cls", default=None, help="fig3: class name or index (paper: deer)")
    p.add_argument("--init", default=None, help="pretrained robust run (e.g. PGD-AT) to fine-tune (fig3: required; "
                                                "frl-loss: default one PGD-AT start per seed, trained here)")
    p.add_argument("--out", type=path, required=True, help="output folder of the ablation's runs")
    p.add_argument("--dataset", default=None, help="dataset (default cifar10 for fig3, digits for frl-loss)")
    p.add_argument("--model", default=None, help="model (default preact_resnet18; digits: small_cnn)")
    p.add_argument("--eps", type=number, default=None, help="radius (default 8/255; digits 0.2)")
    p.add_argument("--epochs", type=whole, default=None, help="fine-tuning epochs per variant (fig3: 40, frl-loss: 10)")
    p.add_argument("--lr", type=number, default=1e-3, help="fine-tuning lr (default 1e-3)")
    p.add_argument("--beta", type=number, default=1.0, help="fig3: weight of the KL term (default 1)")
    p.add_argument("--weights", default="1,1.5,2,2.5,3,3.5,4,4.5", help="fig3: boundary weight factors")
    p.add_argument("--margins", default="1,1.5,2,2.5", help="fig3: margin factors (x eps)")
    p.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                   help=f"frl-loss: comma-separated arms, or all ({', '.join(FRL_LOSS_ARMS)}; deep.experiments)")
    p.add_argument("--seeds", default=None, help="frl-loss: comma-separated seeds (default 0,1,2)")
    p.add_argument("--pretrain-epochs", type=whole, default=15, help="frl-loss: PGD-AT epochs of each start (default 15)")
    p.add_argument("--device", default=None, help="cpu or cuda")
    p.add_argument("--data-dir", default=None, help="dataset location")
    p.add_argument("--seed", type=whole, default=0, help="fig3: seed (default 0)")
    p.add_argument("--train-arg", action="append", default=[], metavar="ARG",
                   help="extra argument passed to every `frl train` (repeatable, e.g. --train-arg=--eval-steps=5)")
    p.add_argument("--start-arg", action="append", default=[], metavar="ARG",
                   help="frl-loss: extra argument of the PGD-AT start only (repeatable, e.g. "
                        "--start-arg=--lr-schedule=onecycle)")
    p.set_defaults(func=run)


def _whole_list(text, flag):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{flag}: expected comma-separated whole numbers, got {text!r}", prog=PROG) from None
    if not values or any(v < 0 for v in values) or len(set(values)) != len(values):
        raise UserError(f"{flag}: expected distinct whole numbers >= 0, got {text!r}", prog=PROG)
    return values


def _flags(argv, flag) -> dict:
    """The settings that ``--train-arg`` / ``--start-arg`` items spell as ``frl train`` flags."""
    from ..train_flags import settings_from_flags
    from deep.errors import ConfigError

    try:
        return settings_from_flags(argv)
    except ConfigError as exc:
        raise UserError(f"{flag}: {exc}", prog=PROG) from None


def _defaults_from_init(args) -> None:
    """--dataset and --model default to those of the --init run (its config.json records them)."""
    from deep.run_dir import RunDir

    if not args.init or not RunDir(args.init).config_path.exists():
        return
    saved = RunDir(args.init).read_config()
    args.dataset = args.dataset or saved.get("dataset")
    args.model = args.model or saved.get("model")
    if args.data_dir is None and saved.get("data_dir"):
        args.data_dir = saved["data_dir"]


def _common(args, dataset) -> dict:
    given = {"model": args.model, "eps": args.eps, "device": args.device, "data_dir": args.data_dir}
    return {"dataset": dataset, **{k: v for k, v in given.items() if v is not None}}


def _class_index(args, dataset):
    from deep.data import load_split

    names = load_split(dataset, False, args.data_dir).class_names
    if args.cls in names:
        return list(names).index(args.cls), names
    if args.cls.isdigit() and int(args.cls) < len(names):
        return int(args.cls), names
    raise UserError(f"--class {args.cls!r}: unknown class; classes: {', '.join(names)}", prog=PROG)


def _make_out(args) -> Path:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {args.out}: {exc.strerror}", prog=PROG) from None
    return out


def run(args) -> int:
    from deep.run_dir import RunDir

    with RunDir(args.out).lock(PROG):  # one ablation writes into OUT at a time
        return run_frl_loss(args) if args.which == "frl-loss" else run_fig3(args)


def run_fig3(args) -> int:
    from deep.experiments import FRL_DECAY_EVERY, is_finished, score, train_unless_finished
    from deep.run_dir import RunDir

    from .train import stderr_log as log

    if args.cls is None or args.init is None:
        raise UserError("fig3 needs --class and --init", prog=PROG)
    _defaults_from_init(args)
    dataset = args.dataset or "cifar10"
    epochs = 40 if args.epochs is None else args.epochs
    weights, margins = _factors(args.weights, "--weights"), _factors(args.margins, "--margins")
    index, names = _class_index(args, dataset)
    out = _make_out(args)
    meta = {"class": names[index], "class_index": index, "dataset": dataset, "weights": weights,
            "margins": margins, "init": args.init, "epochs": epochs,
            "same_run_as": {f: f"weight_{f:g}" for f in margins if f == 1.0 and 1.0 in weights}}
    RunDir(out).write_json(RunDir.ABLATION, meta)
    common = {**_common(args, dataset), "method": "trades", "beta": args.beta, "init": args.init, "epochs": epochs,
              "lr": args.lr, "lr_step_every": FRL_DECAY_EVERY, "seed": args.seed,
              **_flags(args.train_arg, "--train-arg")}
    jobs = [(f"weight_{f:g}", {"class_bndy_weight": {str(index): f}}) for f in weights]
    # factor 1 of both groups is the same run (nothing changed): train it once, as weight_1
    jobs += [(f"margin_{f:g}", {"class_eps": {str(index): f}}) for f in margins if f not in meta["same_run_as"]]
    settings = {name: {**common, **extra, "out": str(out / name)} for name, extra in jobs}
    todo = [name for name in settings if not is_finished(settings[name])]  # every stored run checked first
    for name in todo:
        train_unless_finished(settings[name], log, f"{PROG}: {name}")
        score(out / name, args.device, args.data_dir)
    print(f"{out}: draw it with `frl figures fig3 --runs {out}`")
    return 0


def _arms(text: str) -> list:
    arms = list(FRL_LOSS_ARMS) if text.strip() == "all" else [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in arms if a not in FRL_LOSS_ARMS]
    if unknown or not arms:
        raise UserError(f"--arms: unknown arm(s) {', '.join(unknown) or '(none given)'}; choose from "
                        f"{', '.join(FRL_LOSS_ARMS)} or all", prog=PROG)
    return arms


def run_frl_loss(args) -> int:
    from deep.experiments import FRL_DECAY_EVERY, start_then_arms
    from deep.run_dir import RunDir
    from figures.ablation import frl_loss_result, write_frl_loss

    from .train import stderr_log as log

    _defaults_from_init(args)
    dataset = args.dataset or "digits"
    epochs = 10 if args.epochs is None else args.epochs
    if epochs < 1 or args.pretrain_epochs < 1:
        raise UserError("--epochs and --pretrain-epochs must be >= 1", prog=PROG)
    arms, seeds = _arms(args.arms), _whole_list(args.seeds or "0,1,2", "--seeds")
    if args.init and not RunDir(args.init).checkpoint_path.exists():
        raise UserError(f"--init {args.init}: not a run directory with a checkpoint (train one with "
                        f"`frl train --method pgd_at ...`)", prog=PROG)
    out = _make_out(args)
    common = _common(args, dataset)
    train_args, start_args = _flags(args.train_arg, "--train-arg"), _flags(args.start_arg, "--start-arg")
    t0 = time.perf_counter()
    per_seed, curves = start_then_arms(
        lambda seed: (out / f"seed_{seed}", "start"), seeds,
        start={**common, "method": "pgd_at", "epochs": args.pretrain_epochs, **train_args, **start_args},
        arms={a: FRL_LOSS_ARMS[a][1:] for a in arms}, init=args.init,
        finetune={**common, "epochs": epochs, "lr": args.lr, "lr_step_every": FRL_DECAY_EVERY, **train_args},
        log=lambda m: log(f"[{time.perf_counter() - t0:5.0f}s] {m}"), device=args.device, data_dir=args.data_dir)
    labels = {"start": "PGD-AT start", **{a: FRL_LOSS_ARMS[a][0] for a in arms}}
    design = {"dataset": dataset, "epochs": epochs, "lr": args.lr, "pretrain_epochs": args.pretrain_epochs,
              "init": args.init, "train_args": args.train_arg, "start_args": args.start_arg,
              "arm_settings": {a: {"method": FRL_LOSS_ARMS[a][1], "settings": FRL_LOSS_ARMS[a][2]} for a in arms}}
    md = write_frl_loss(out, frl_loss_result(per_seed, curves, labels, design), labels,
                        f"FRL loss / controller ablation: {dataset}, {epochs} fine-tuning epochs at lr {args.lr:g}")
    print(md)
    print(f"{out}/frl_loss.json, frl_loss.md, frl_loss_curves.png ({time.perf_counter() - t0:.0f} s)")
    return 0
