"""``frl``: one entry point, one subcommand per job.

``main`` parses, then hands keyword arguments to the library. Any mistake a user can fix - a
bad flag (:class:`~frl.errors.UserError`) or a :class:`deep.errors.UsageError` the library
raises (bad setting, missing dataset, occupied or unwritable run directory) - is printed as a
single line on stderr and exits with status 2. Every other exception is a bug and keeps its
traceback. A diverged training run exits with status 1.
"""

from __future__ import annotations

import argparse
import sys

from deep.config import StrictParser
from deep.errors import UsageError

from . import __version__
from .errors import UserError


class _Parser(StrictParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2; descriptions taken from
    docstrings lose their reStructuredText quotes (``frl run``) in --help."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("description"):
            kwargs["description"] = kwargs["description"].replace("``", "")
        super().__init__(*args, **kwargs)

    def error(self, message):  # noqa: D401 - argparse hook
        raise UserError(message, prog=self.prog)


def build_parser() -> argparse.ArgumentParser:
    from .commands import ablation, audit, certify, compare, demo, evaluate, figures, prepare, report, run_config, theory, train

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
    compare.register(sub)
    audit.register(sub)
    prepare.register(sub)
    report.register(sub)
    return parser


def main(argv=None) -> int:
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")  # the command line draws to files only, never to a screen
    parser = build_parser()
    prog = "frl"
    try:
        args = parser.parse_args(argv)
        prog = f"frl {args.command}"
        return int(args.func(args) or 0)
    except (UserError, UsageError) as exc:
        message = " ".join(str(exc).split())
        print(f"{getattr(exc, 'prog', prog)}: error: {message}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from deep.train import TrainingDiverged  # only reached when training ran, so torch is loaded

        if not isinstance(exc, TrainingDiverged):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
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
