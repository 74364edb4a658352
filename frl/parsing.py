"""Argument types shared by the subcommands (numbers written as users write them) and the strict parser.

The parsing itself is :mod:`deep.parse`, the one place that reads '8/255' or 'sqrt(2)' for flags and
TOML files alike; here its functions become argparse types. No torch is imported here.
"""

from __future__ import annotations

import argparse

from deep.errors import ConfigError
from deep.parse import parse_number, parse_path, parse_whole

__all__ = ["argparse_type", "StrictParser", "number", "whole", "path"]


def argparse_type(parse):
    """``parse`` as an argparse type: its ConfigError becomes argparse's one-line "invalid value" error."""
    def convert(text):
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


class StrictParser(argparse.ArgumentParser):
    """argparse without its one loophole: ``--seed=--`` would hand the command an empty list."""

    def _get_values(self, action, arg_strings):
        if action.nargs is None and list(arg_strings) == ["--"]:
            raise argparse.ArgumentError(action, "expected one value, got '--'")
        return super()._get_values(action, arg_strings)


number = argparse_type(parse_number)  # '0.5', '8/255', '2e-3' or 'sqrt(2)' -> float
whole = argparse_type(parse_whole)  # '3' -> 3; '1.5' is an error
path = argparse_type(parse_path)  # a file or folder name: not empty, no NUL
