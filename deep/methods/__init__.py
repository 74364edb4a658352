"""Training methods: one small file each, all plugged into :mod:`deep.train`'s single loop.

Every module of this package is imported here, and each registers its method classes
(:func:`~deep.methods.base.register`): adding a method is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from .base import Method, register, registered, weighted_mean

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")


def names() -> tuple:
    """The ``--method`` values, in listing order."""
    return tuple(registered())


def get(name: str) -> type[Method]:
    """The method class registered as ``name``; ConfigError for an unknown name."""
    methods = registered()
    if name not in methods:
        raise ConfigError(f"unknown method {name!r}; choose from {', '.join(methods)}")
    return methods[name]


def declared_settings() -> dict:
    """{name: Setting} of the settings the registered methods declare (``Method.declares``), in listing order;
    RuntimeError when two methods declare different settings of one name."""
    out = {}
    for cls in registered().values():
        for setting in cls.declares:
            if out.setdefault(setting.name, setting) is not setting:
                raise RuntimeError(f"two methods declare a setting {setting.name!r}: declare it once and list its "
                                   f"name in the other's settings")
    return out


def finetune_methods() -> tuple:
    """The methods that start from a pretrained model (``--init``)."""
    return tuple(n for n, cls in registered().items() if cls.finetunes)


from .frl import FRL, BaselineReweight  # noqa: E402 - the classes tests and notebooks name directly
from .gaussian_noise import GaussianNoise  # noqa: E402
from .natural import Natural  # noqa: E402
from .pgd_at import PGDAT  # noqa: E402
from .trades import TRADES  # noqa: E402

__all__ = ["Method", "register", "registered", "names", "get", "declared_settings", "finetune_methods", "weighted_mean", "Natural",
           "PGDAT", "TRADES", "FRL", "BaselineReweight", "GaussianNoise"]
