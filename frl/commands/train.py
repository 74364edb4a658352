"""``frl train``: train a model with a method into a run directory (the flags come from ``TrainConfig``)."""

from __future__ import annotations

import sys

PROG = "frl train"


def register(sub) -> None:
    from deep.config import add_train_arguments

    p = sub.add_parser("train", help="train natural / PGD-AT / TRADES / FRL models into a run directory",
                       description="Train a model; writes config.json, metrics.jsonl and checkpoint.pt into --out.")
    add_train_arguments(p)
    p.set_defaults(func=run)


def stderr_log(msg) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args) -> int:
    from deep.config import config_from_args
    from deep.runs import train_run

    rd = train_run(config_from_args(args), log=stderr_log)
    print(rd.path)
    return 0
