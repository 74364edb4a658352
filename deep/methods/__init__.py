"""Training methods: one small file each, all plugged into :mod:`deep.train`'s single loop."""

import enum

from .base import Method, weighted_mean
from .natural import Natural
from .pgd_at import PGDAT
from .trades import TRADES


class MethodName(str, enum.Enum):
    NATURAL = "natural"
    PGD_AT = "pgd_at"
    TRADES = "trades"


METHODS = {MethodName.NATURAL: Natural, MethodName.PGD_AT: PGDAT, MethodName.TRADES: TRADES}

__all__ = ["Method", "MethodName", "METHODS", "Natural", "PGDAT", "TRADES", "weighted_mean"]
