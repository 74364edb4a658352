"""A setting: its name, kind, default, help, constraint and where it shows, declared once (no torch).

The settings every run has are declared in :mod:`deep.config`; a method declares its own in its
file (``Method.declares``, :mod:`deep.methods.base`). From each :class:`Setting` come the
``frl train`` flag (``lr_step_every`` is ``--lr-step-every``, :mod:`frl.train_flags`), the TOML key,
the parsing of a value as users write it (:meth:`Setting.coerce`) and its check (:meth:`Setting.check`).

    >>> eta = Setting("wat_eta", 0.1, "WAT: step size of the Hedge weights", "number", check=GT0)
    >>> eta.coerce("1/10")
    0.1
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

from .errors import ConfigError
from .parse import parse_factors, parse_fractions, parse_number, parse_whole

__all__ = ["Setting", "GE0", "GT0", "GE1", "FRACTION", "KINDS"]

# the kinds of value: how a flag or a TOML string is parsed, and what the check accepts
KINDS = ("number", "whole", "text", "choice", "switch", "toggle", "fractions", "factors")

# constraints: (predicate on a value that is not None, the rule as the error message says it)
GE0 = (lambda v: v >= 0, "must be >= 0")
GT0 = (lambda v: v > 0, "must be > 0")
GE1 = (lambda v: v >= 1, "must be >= 1")
FRACTION = (lambda v: 0 <= v < 1, "must be in [0, 1)")


@dataclass(frozen=True, eq=False)
class Setting:
    """One setting of a run. ``dataset``: its default (None here) depends on the dataset and on whether
    the method fine-tunes; ``runtime``: where and how a run runs, not what it computes (never a difference
    on resume); ``group``: the --help section of its flag."""

    name: str
    default: object
    help: str
    kind: str
    check: tuple[Callable, str] | None = None
    choices: object = None
    dataset: bool = False
    runtime: bool = False
    group: str | None = None
    required_flag: bool = False
    metavar: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"setting {self.name}: kind == {self.kind!r}, must be one of {', '.join(KINDS)}")
        if (self.kind == "choice") != (self.choices is not None):
            raise ValueError(f"setting {self.name}: a choice needs choices, and only a choice has them")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def fresh_default(self):
        """The default, as a new object where it is a list or a dict."""
        return copy.copy(self.default)

    def coerce(self, value):
        """``value`` as written in TOML or parsed by argparse, in this setting's type; ConfigError naming it."""
        if value is None:
            return None
        try:
            if self.kind == "number":
                return parse_number(value)
            if self.kind == "whole":
                return parse_whole(value)
        except ConfigError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None
        if self.kind == "fractions":
            return parse_fractions(value, self.flag)
        if self.kind == "factors":
            return parse_factors(value, self.flag)
        if self.kind in ("switch", "toggle") and not isinstance(value, bool):
            raise ConfigError(f"{self.name} == {value!r}, must be true or false")
        if self.kind in ("text", "choice") and not isinstance(value, str):
            raise ConfigError(f"{self.name} == {value!r}, must be a string")
        return value

    def check_value(self, value) -> None:
        """ConfigError naming the setting unless ``value`` (not None) is of its kind and meets its constraint."""
        if value is None:
            return
        if self.kind == "choice" and value not in self.choices:
            raise ConfigError(f"unknown {self.name} {value!r}; choose from {', '.join(self.choices)}")
        if self.kind == "number" and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ConfigError(f"{self.name} == {value!r}, must be a finite number")
        if self.kind == "whole" and (not isinstance(value, int) or isinstance(value, bool)):
            raise ConfigError(f"{self.name} == {value!r}, must be a whole number")
        if self.check is not None and not self.check[0](value):
            raise ConfigError(f"{self.name} == {_show(value)}, {self.check[1]}")


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)
