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

from deep.errors import UsageError

from . import __version__
from .errors import UserError
from .parsing import StrictParser


class _Parser(StrictParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2; descriptions taken from
    docstrings lose their reStructuredText quotes (``frl run``) in --help."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("description"):
            kwargs["description"] = kwargs["description"].replace("``", "")
        super().__init__(*args, **kwargs)

    def error(self, message):  # noqa: D401 - argparse hook
        raise UserError(message, prog=self.prog)


class _Subcommands(argparse._SubParsersAction):
    """Subcommands whose flags may be added only when the subcommand is parsed (``fill``: {name: adder}):
    ``frl train``'s come from the method registry, which loads torch, and ``frl theory`` should not wait
    for that."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fill = {}

    def complete(self, name: str | None = None) -> None:
        """Add the flags of subcommand ``name`` (None: of every subcommand) if not added yet."""
        for key in [name] if name is not None else list(self.fill):
            add = self.fill.pop(key, None)
            if add is not None:
                add(self.choices[key])

    def __call__(self, parser, namespace, values, option_string=None):
        self.complete(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser(complete: bool = False) -> argparse.ArgumentParser:
    """The ``frl`` parser; ``complete``: with every subcommand's flags added now (as for introspection)."""
    from .commands import ablation, audit, certify, compare, demo, evaluate, figures, prepare, report, run_config, theory, train

    parser = _Parser(prog="frl", description="Robust fairness in adversarial training (Xu et al., ICML 2021).")
    parser.add_argument("--version", action="version", version=f"frl {__version__}")
    parser.register("action", "parsers", _Subcommands)
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
    if complete:
        sub.complete()
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
