"""Training configuration: the settings every run has, and the one config object a run is made from.

:class:`TrainConfig` is what a run directory's ``config.json`` holds; ``--resume`` compares it setting by
setting. Its settings are :data:`COMMON` (every run has them) and those the registered methods declare
(``Method.declares`` in each method's file, gathered by :func:`settings_table`): a method's settings
appear here, in TOML and as ``frl train`` flags (:mod:`frl.train_flags`) with nothing else edited.
Every :class:`~deep.settings.Setting` carries its kind, help, constraint and whether its default
depends on the dataset and the method. Construction (CLI, TOML and Python alike) parses numbers
as users write them (``eps = "8/255"``), fills the defaults that depend on the dataset and on
fine-tuning (:meth:`TrainConfig.resolve_defaults`) and validates (a
:class:`~deep.errors.ConfigError` naming the first bad setting).
"""

from __future__ import annotations

import difflib
import os

from .choices import check_radius
from .errors import ConfigError
from .parse import parse_path
from .run_settings import (COMMON, DATASET_DEFAULTS, FINETUNE_DEFAULTS, LEGACY_DEFAULTS, MODELS, RUNTIME_KEYS,
                           SEED_LIMIT, TRAINING_EVAL_STEPS, method_names, method_registry)

__all__ = ["TrainConfig", "COMMON", "settings_table", "DATASET_DEFAULTS", "FINETUNE_DEFAULTS", "RUNTIME_KEYS",
           "LEGACY_DEFAULTS", "SEED_LIMIT", "config_from_dict", "method_names", "MODELS"]


def settings_table() -> dict:
    """{name: Setting} of every setting a run has: :data:`COMMON`, then what the registered methods declare."""
    table = {s.name: s for s in COMMON}
    for name, setting in method_registry().declared_settings().items():
        if table.setdefault(name, setting) is not setting:
            raise RuntimeError(f"a method declares the setting {name!r}, which every run has already")
    return table


class TrainConfig:
    """The settings of one run (:func:`settings_table`), as attributes: ``TrainConfig(method="trades", eps="8/255")``.

    Unknown keyword: TypeError (as a dataclass); a bad value: ConfigError naming the setting."""

    def __init__(self, **values):
        table = settings_table()
        unknown = sorted(set(values) - set(table))
        if unknown:
            raise TypeError(f"TrainConfig got an unexpected setting {unknown[0]!r}")
        for name, setting in table.items():
            value = values[name] if name in values else setting.fresh_default()
            if isinstance(value, str) and setting.kind in ("number", "whole", "fractions"):
                value = setting.coerce(value)  # numbers as users write them, from Python too
            setattr(self, name, value)
        self.resolve_defaults()
        self.validate()

    @classmethod
    def settings(cls) -> dict:
        """{name: Setting} of every setting (common and the methods')."""
        return settings_table()

    def __eq__(self, other):
        return isinstance(other, TrainConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "TrainConfig(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"

    def resolve_defaults(self) -> "TrainConfig":
        """Fill the settings left None whose default depends on the dataset, on fine-tuning and on the method."""
        if self.dataset not in DATASET_DEFAULTS:
            return self  # validate() names the dataset
        d = dict(DATASET_DEFAULTS[self.dataset], model="small_cnn" if self.dataset == "digits" else "preact_resnet18")
        if isinstance(self.init, str) and self.init.startswith("robustbench:"):
            d["model"] = self.init  # a zoo start brings its own network
        registry = method_registry()
        if self.method in registry.names() and registry.get(self.method).finetunes:
            d.update(FINETUNE_DEFAULTS)
        for setting in COMMON:
            if setting.dataset and getattr(self, setting.name) is None:
                setattr(self, setting.name, d[setting.name])
        for cls in dict.fromkeys(registry.registered().values()):
            cls.resolve_settings(self)
        if self.eval_steps is None:
            self.eval_steps = TRAINING_EVAL_STEPS
        return self

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first bad setting."""
        for name, setting in settings_table().items():
            setting.check_value(getattr(self, name))
        check_radius(self.eps, self.norm, "eps")
        for name in ("out", "data_dir", "init"):
            if getattr(self, name) is not None:
                try:
                    parse_path(getattr(self, name))
                except ConfigError as exc:
                    raise ConfigError(f"{name} {exc}") from None
        method = method_registry().get(self.method)
        if method.attack_loss_for(self) is not None and not self.eps > 0:
            raise ConfigError(f"eps == {self.eps:g}: {self.method} needs eps > 0")
        if method.reads_validation and self.val_per_class == 0:
            raise ConfigError(f"val_per_class == 0: {self.method} reads class-wise validation errors; "
                              f"use --val-per-class >= 1")
        method.check_config(self)
        zoo = isinstance(self.init, str) and self.init.startswith("robustbench:")
        if zoo and self.model != self.init:
            raise ConfigError(f"model {self.model} with init {self.init}: a zoo start brings its own network "
                              f"(model {self.init}); leave --model out")
        if isinstance(self.model, str) and self.model.startswith("robustbench:") and self.normalize:
            raise ConfigError(f"normalize with model {self.model}: RobustBench's models normalise inside already")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("nesterov needs momentum > 0 (Nesterov's step is a momentum step)")
        if method.finetunes and self.init is None:
            raise ConfigError(f"{self.method} starts from a pretrained robust model: pass --init RUN_DIR "
                              f"(make one with `frl train --method pgd_at ...`)")
        return self

    @property
    def step_size(self) -> float:
        return self.attack_step_size if self.attack_step_size is not None else self.eps / 4

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in settings_table()}

    def differences(self, other: dict) -> list[str]:
        """Settings whose values differ from a saved config: not runtime ones, nor a method's own settings
        that this run's method does not read (FRL's loss means nothing to PGD-AT)."""
        mine, other = self.to_dict(), {**LEGACY_DEFAULTS, **other}
        reads = set(method_registry().get(self.method).settings)
        ignore = RUNTIME_KEYS | (set(method_registry().declared_settings()) - reads)
        if _same_place(other.get("init"), other.get("out"), mine["init"], mine["out"]):
            ignore = ignore | {"init"}
        return [f"{k}: saved {other.get(k)!r}, now {mine[k]!r}" for k in mine
                if k not in ignore and other.get(k) != mine[k]]

    @classmethod
    def from_mapping(cls, values: dict, where: str = "") -> "TrainConfig":
        """A config from {setting: value}: a TOML table or parsed flags; strings are parsed by kind.
        ``where`` (e.g. "[train] of configs/x.toml") starts the message of any ConfigError."""
        table = settings_table()
        try:
            if not isinstance(values, dict):
                raise ConfigError("expected a table of settings")
            for key in values:
                if key not in table:
                    close = difflib.get_close_matches(str(key).replace("-", "_"), table, n=1)
                    raise ConfigError(f"unknown setting {key!r}" + (f" (did you mean {close[0]}?)" if close else ""))
            return cls(**{key: table[key].coerce(value) for key, value in values.items()})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None


def _same_place(init_a, out_a, init_b, out_b) -> bool:
    """Two ``init`` settings name the same start: the same path, or the same place relative to their own run
    directory (``out``). So a pipeline's ``--runs`` given as a relative or an absolute path, moved or copied
    whole, resumes, while a stage that starts from another run is still a difference."""
    if init_a == init_b:
        return True
    if None in (init_a, init_b, out_a, out_b):
        return False
    return os.path.relpath(os.path.abspath(init_a), os.path.abspath(out_a)) == \
        os.path.relpath(os.path.abspath(init_b), os.path.abspath(out_b))


def config_from_dict(d: dict, where: str = "config.json") -> TrainConfig:
    """The config saved in a run directory's ``config.json`` (older files: missing settings get their old value).
    A file edited into something that is not a valid config is a ConfigError naming ``where``."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a JSON object of settings")
    table = settings_table()
    try:
        return TrainConfig(**{k: table[k].coerce(v) for k, v in {**LEGACY_DEFAULTS, **d}.items() if k in table})
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
