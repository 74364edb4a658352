"""Argument types shared by the subcommands: numbers written as users write them."""

from __future__ import annotations

import argparse
import math
import re

_SQRT = re.compile(r"^sqrt\((.+)\)$")


def number(text: str) -> float:
    """Parse '0.5', '8/255', '2e-3' or 'sqrt(2)' into a float; anything else is an argparse error."""
    s = text.strip().replace(" ", "")
    try:
        m = _SQRT.match(s)
        if m:
            inner = number(m.group(1))
            if inner < 0:
                raise ValueError
            return math.sqrt(inner)
        if "/" in s:
            num, den = s.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(s)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (use e.g. 0.5, 8/255 or sqrt(2))") from None
    if math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def whole(text: str) -> int:
    """Parse a whole number (rejecting '1.5')."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
