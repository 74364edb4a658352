"""The flags of ``frl train``: one per setting of :func:`deep.config.settings_table` (common and the methods').

The field's name is the flag (``lr_step_every`` is ``--lr-step-every``). Building them reads the method
registry (torch), so ``frl`` adds them to the ``train`` parser only when ``frl train`` is parsed.
"""

from __future__ import annotations

import argparse

from deep.errors import ConfigError

from .parsing import StrictParser, argparse_type

__all__ = ["add_train_arguments", "settings_from_flags", "config_from_args"]


def add_train_arguments(p: argparse.ArgumentParser, out_required: bool = True) -> None:
    """Add one flag per setting to ``p``. Every flag defaults to "not given" (``argparse.SUPPRESS``): the
    defaults are the config's own, filled by :class:`~deep.config.TrainConfig` for whatever was not given."""
    from deep.config import settings_table
    from deep.parse import parse_number, parse_whole

    groups = {}
    for s in settings_table().values():
        target = p if s.group is None else groups.setdefault(s.group, p.add_argument_group(s.group))
        kw = dict(help=s.help, dest=s.name, default=argparse.SUPPRESS)
        if s.kind == "switch":
            kw["action"] = "store_true"
        elif s.kind == "toggle":
            kw["action"] = argparse.BooleanOptionalAction
        elif s.kind == "factors":
            kw.update(action="append", metavar=s.metavar)
        elif s.kind == "choice":
            kw.update(choices=s.choices, metavar=s.metavar)
        elif s.kind in ("number", "whole"):
            kw["type"] = argparse_type(parse_number if s.kind == "number" else parse_whole)
        if s.required_flag and out_required:
            kw.update(required=True)
            del kw["default"]
        target.add_argument(s.flag, **kw)


class _FlagParser(StrictParser):
    def error(self, message):  # noqa: D401 - argparse hook: a ConfigError instead of exit(2)
        raise ConfigError(message)


def settings_from_flags(argv) -> dict:
    """{setting: value} of ``frl train`` flags (e.g. ``["--eval-steps=5", "--no-compile"]``), only those given."""
    from deep.config import settings_table

    p = _FlagParser(prog="frl train", add_help=False)
    add_train_arguments(p, out_required=False)
    names = set(settings_table())
    return {k: v for k, v in vars(p.parse_args(list(argv))).items() if k in names}


def config_from_args(args):
    """The config of parsed ``frl train`` flags: the flags given, the config's defaults for the rest."""
    from deep.config import TrainConfig, settings_table

    names = set(settings_table())
    return TrainConfig.from_mapping({k: v for k, v in vars(args).items() if k in names})
