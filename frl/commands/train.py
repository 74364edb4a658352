"""``frl train``: train a model with a method into a run directory (the flags: :mod:`frl.train_flags`)."""

from __future__ import annotations

import sys

PROG = "frl train"


def register(sub) -> None:
    from ..train_flags import add_train_arguments

    p = sub.add_parser("train", help="train natural / PGD-AT / TRADES / FRL models into a run directory",
                       description="Train a model; writes config.json, metrics.jsonl and checkpoint.pt into --out.")
    sub.fill["train"] = add_train_arguments  # when `frl train` is parsed: the flags need the method registry
    p.set_defaults(func=run)


def stderr_log(msg) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args) -> int:
    from deep.runs import train_run

    from ..train_flags import config_from_args

    rd = train_run(config_from_args(args), log=stderr_log)
    print(rd.path)
    return 0
