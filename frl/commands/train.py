"""``frl train`` (also ``python -m deep.train``): train a model with a method into a run directory."""

from __future__ import annotations

import sys

from ..errors import UserError
from ..parsing import number, whole

PROG = "frl train"


def register(sub) -> None:
    from deep.config import add_train_arguments

    p = sub.add_parser("train", help="train natural / PGD-AT / TRADES models into a run directory",
                       description="Train a model; writes config.json, metrics.jsonl and checkpoint.pt into --out.")
    add_train_arguments(p, number, whole)
    p.set_defaults(func=run)


def run(args) -> int:
    from deep.config import config_from_args

    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        raise UserError(str(exc), prog=PROG) from None
    from deep.data import DatasetError
    from deep.train import TrainingDiverged, train

    try:
        train(cfg, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    except (ValueError, DatasetError) as exc:
        raise UserError(str(exc), prog=PROG) from None
    except OSError as exc:
        raise UserError(f"cannot write to --out {cfg.out}: {exc.strerror or exc}", prog=PROG) from None
    except TrainingDiverged as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(cfg.out)
    return 0


def train_or_fail(argv, prog: str) -> None:
    """``frl train ARGV`` for orchestrating commands (demo, ablation): a failure is one UserError of ``prog``."""
    from .. import cli

    if cli.main(["train", *argv]) != 0:
        raise UserError(f"training failed: frl train {' '.join(argv)}", prog=prog)
