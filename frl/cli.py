"""``frl``: one entry point, one subcommand per job.

``main`` parses, then hands keyword arguments to the library. Any mistake a user
can fix (bad flag, parameter outside a theorem's domain, missing file) is printed
as a single line on stderr and exits with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message):  # noqa: D401 - argparse hook
        raise UserError(message, prog=self.prog)


def build_parser() -> argparse.ArgumentParser:
    from .commands import ablation, certify, demo, evaluate, figures, prepare, report, run_config, theory, train

    parser = _Parser(prog="frl", description="Robust fairness in adversarial training (Xu et al., ICML 2021).")
    parser.add_argument("--version", action="version", version=f"frl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    theory.register(sub)
    figures.register(sub)
    train.register(sub)
    evaluate.register(sub)
    demo.register(sub)
    run_config.register(sub)
    ablation.register(sub)
    certify.register(sub)
    prepare.register(sub)
    report.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as exc:
        message = " ".join(str(exc).split())
        print(f"{exc.prog}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("frl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
