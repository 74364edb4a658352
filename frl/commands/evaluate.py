"""``frl eval RUN``: class-wise standard / boundary / robust errors of a run's final model on the test set."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..jsonio import write_json
from ..parsing import number, whole

PROG = "frl eval"


def register(sub) -> None:
    p = sub.add_parser("eval", help="class-wise errors of a run's final model under PGD (default PGD-20)",
                       description="Evaluate RUN/checkpoint.pt on the test set; writes RUN/eval.json (or --out).")
    p.add_argument("run", help="run directory (holds config.json and checkpoint.pt)")
    p.add_argument("--attack", default="pgd", help="pgd (default) or autoattack (torchattacks, fp32)")
    p.add_argument("--version", default="standard", help="AutoAttack version: standard (default), plus, rand")
    p.add_argument("--limit", type=whole, default=None, help="evaluate only the first N examples of the split")
    p.add_argument("--steps", type=whole, default=20, help="PGD steps (default 20)")
    p.add_argument("--eps", type=number, default=None, help="attack radius (default: the run's eps)")
    p.add_argument("--step-size", type=number, default=None, help="PGD step size (default eps/4)")
    p.add_argument("--norm", choices=("linf", "l2"), default=None, help="attack norm (default: the run's)")
    p.add_argument("--split", choices=("test", "val"), default="test", help="which split (default test)")
    p.add_argument("--batch-size", type=whole, default=500, help="evaluation batch size (default 500)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: the run's device if available, else cpu)")
    p.add_argument("--data-dir", default=None, help="dataset location if it moved since training")
    p.add_argument("--seed", type=whole, default=0, help="seed of the attack's random start (default 0)")
    p.add_argument("--checkpoint", choices=("last", "best"), default="last",
                   help="which model: last (the final epoch, default) or best (lowest validation robust error, "
                        "best.pt; never selected on the test split)")
    p.add_argument("--out", default=None, help="output JSON (default RUN/eval.json)")
    p.set_defaults(func=run)


ATTACKS = ("pgd", "autoattack")


def evaluate_run(run_dir, steps=20, eps=None, step_size=None, norm=None, split="test", batch_size=500,
                 device=None, data_dir=None, seed=0, attack="pgd", version="standard", limit=None,
                 checkpoint="last") -> dict:
    """Evaluate a run directory's final model; returns the eval.json dict (raises ValueError on bad input).

    ``attack="autoattack"`` runs torchattacks' AutoAttack and, in the same call, PGD-``steps``;
    the result then also holds ``pgd`` (its class-wise errors) and ``gap_autoattack_minus_pgd``
    per class: a large positive gap flags gradient masking.
    """
    import torch

    from deep.data import BatchLoader
    from deep.evaluate import evaluate_classwise
    from deep.train import default_eval_step, eval_attack, load_trained

    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose from {', '.join(ATTACKS)}")
    if steps < 1:
        raise ValueError(f"steps == {steps}, must be >= 1")
    if seed < 0:
        raise ValueError(f"--seed {seed}: must be >= 0")
    if batch_size < 1:
        raise ValueError(f"--batch-size {batch_size}: must be >= 1")
    cfg, model, data, train_data, ckpt = load_trained(run_dir, split, data_dir, device, limit, checkpoint)
    device = next(model.parameters()).device
    eps = cfg.eps if eps is None else eps
    norm = norm or cfg.norm
    if eps <= 0:
        raise ValueError(f"eps == {eps:g}, must be > 0")
    step_size = step_size if step_size is not None else default_eval_step(eps, norm)
    pgd_info = {"name": "pgd", "norm": norm, "eps": eps, "steps": steps, "step_size": step_size,
                "random_start": True, "seed": seed, "precision": "fp32"}

    def run_attack(atk):
        torch.manual_seed(seed)
        return evaluate_classwise(model, BatchLoader(data, batch_size, shuffle=False, device=device),
                                  train_data.num_classes, atk, train_data.class_names)

    pgd = run_attack(eval_attack(eps, steps, norm, step_size))
    out = {"run": str(run_dir), "split": split, "epoch": int(ckpt["epoch"]), "checkpoint": checkpoint,
           "method": cfg.method}
    if attack == "pgd":
        return {**out, "attack": pgd_info, **pgd}
    from deep.autoattack import AutoAttack

    aa_attack = AutoAttack(eps, norm, version, train_data.num_classes, seed)
    aa = run_attack(aa_attack)
    gap = [a - p for a, p in zip(aa["rob_error"], pgd["rob_error"])]
    return {**out, "attack": {"name": "autoattack", "version": version, "norm": norm, "eps": eps, "seed": seed,
                              "implementation": "torchattacks components", "components": aa_attack.settings(),
                              "precision": "fp32"},
            **aa, "pgd": {"attack": pgd_info, **pgd}, "gap_autoattack_minus_pgd": gap}


def run(args) -> int:
    from deep.data import DatasetError

    if args.attack not in ATTACKS:
        raise UserError(f"unknown attack {args.attack!r}; choose from {', '.join(ATTACKS)}", prog=PROG)
    try:
        res = evaluate_run(args.run, args.steps, args.eps, args.step_size, args.norm, args.split, args.batch_size,
                           args.device, args.data_dir, args.seed, args.attack, args.version, args.limit,
                           args.checkpoint)
    except (ValueError, DatasetError) as exc:
        raise UserError(str(exc), prog=PROG) from None
    out = write_json(Path(args.out) if args.out else Path(args.run) / "eval.json", res, PROG)
    a = res["avg"]
    print(f"{out}: avg std {a['std_error']:.4f} bndy {a['bndy_error']:.4f} rob {a['rob_error']:.4f}; "
          f"worst rob {res['worst']['rob_error']:.4f}")
    return 0
