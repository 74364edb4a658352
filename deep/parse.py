"""Numbers, paths and lists as users write them, for flags and TOML files alike (no torch).

    >>> parse_number("8/255"), parse_number("sqrt(2)"), parse_whole("3")
    (0.03137254901960784, 1.4142135623730951, 3)
"""

from __future__ import annotations

import math
import re

from .errors import ConfigError

__all__ = ["parse_number", "parse_whole", "parse_path", "parse_fractions", "parse_factors"]

_SQRT = re.compile(r"^sqrt\((.+)\)$")


def parse_number(text) -> float:
    """'0.5', '8/255', '2e-3' or 'sqrt(2)' (or a number) as a finite float; ConfigError otherwise."""
    if isinstance(text, bool):
        raise ConfigError(f"not a number: {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().replace(" ", "")
        try:
            m = _SQRT.match(s)
            if m:
                inner = parse_number(m.group(1))
                if inner < 0:
                    raise ValueError
                value = math.sqrt(inner)
            elif "/" in s:
                num, den = s.split("/", 1)
                value = float(num) / float(den)
            else:
                value = float(s)
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"not a number: {text!r} (use e.g. 0.5, 8/255 or sqrt(2))") from None
    if not math.isfinite(value):
        raise ConfigError(f"not a finite number: {text!r}")
    return value


def parse_whole(text) -> int:
    """A whole number ('3' or 3; not '1.5' or True)."""
    if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
        raise ConfigError(f"not a whole number: {text!r}")
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ConfigError(f"not a whole number: {text!r}") from None


def parse_path(text) -> str:
    """A file or folder name as given: not empty (an empty name would mean the current directory) and
    without a NUL character."""
    text = str(text)
    if not text.strip():
        raise ConfigError("is empty: name a file or folder")
    if "\0" in text:
        raise ConfigError(f"{text!r} holds a NUL character")
    return text


def parse_fractions(value, flag: str = "--lr-milestones") -> list:
    """[0.5, 0.75] from a list or from '0.5,0.75'."""
    if isinstance(value, (list, tuple)):
        return [parse_number(v) for v in value]
    try:
        return [parse_number(v) for v in str(value).split(",") if v.strip()]
    except ConfigError:
        raise ConfigError(f"{flag} {value!r}: expected comma-separated fractions") from None


def parse_factors(value, flag: str) -> dict:
    """{class: factor} from a dict or from 'CLASS=FACTOR' items."""
    if isinstance(value, dict):
        return {str(k): parse_number(v) for k, v in value.items()}
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{flag} {value!r}: expected CLASS=FACTOR items or a table of class factors")
    out = {}
    for item in value:
        name, sep, text = str(item).partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{flag} {item!r}: expected CLASS=FACTOR, e.g. deer=2.0")
        try:
            out[name.strip()] = float(text)
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: expected CLASS=FACTOR, e.g. deer=2.0") from None
    return out
