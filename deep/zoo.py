"""Published robust models as starts and as models to audit: the RobustBench model zoo, offline first.

RobustBench (Croce et al., NeurIPS 2021 Datasets and Benchmarks; PyPI ``robustbench``) keeps the
CIFAR-10 l_inf / l_2 models of the field with their published clean and AutoAttack accuracy, e.g.
``Wong2020Fast``, a PreAct-ResNet18 trained with FGSM + random start (83.34 % clean, 43.21 %
AutoAttack). A run names one as ``--init robustbench:NAME`` (its model becomes
``robustbench:NAME``), ``frl audit robustbench:NAME`` scores one.

Loading goes through RobustBench's own code, ``robustbench.utils.load_model(NAME, zoo_dir,
dataset, threat_model)``, which reads ``ZOO_DIR/<dataset>/<threat model>/NAME.pt`` and downloads it
only when it is missing. Machines without network (the GPU clusters of many users, ours) put the file
there themselves; a missing file is then one line naming the path, not a download that hangs.
RobustBench's models take inputs in [0, 1] and normalise inside, as ours do. The architecture alone
(for resuming, evaluating, certifying a run that started from the zoo) comes from RobustBench's model
table, without weights.

>>> zoo_name("robustbench:Wong2020Fast"), zoo_name("runs/pgd_at")
('Wong2020Fast', None)
"""

from __future__ import annotations

import difflib
import hashlib
import socket
import sys
import warnings
from pathlib import Path

from .errors import ConfigError

__all__ = ["PREFIX", "zoo_name", "zoo_entry", "THREAT_MODELS", "DATASETS", "zoo_architecture", "load_zoo_model", "zoo_file",
           "DEFAULT_ZOO_DIR"]

PREFIX = "robustbench:"
DEFAULT_ZOO_DIR = "models"  # robustbench.utils.load_model's own default, ./models
THREAT_MODELS = {"linf": "Linf", "l2": "L2"}  # our --norm -> RobustBench's threat model
DATASETS = {"cifar10": "cifar10"}  # our --dataset -> RobustBench's (the zoo's other sets are not ours)
INSTALL = "pip install -e '.[zoo]'"


def zoo_name(value) -> str | None:
    """NAME of ``robustbench:NAME``; None for anything else."""
    if isinstance(value, str) and value.startswith(PREFIX):
        return value[len(PREFIX):]
    return None


def _robustbench():
    """The robustbench package. Its 1.1 release imports the official AutoAttack as ``autoattack`` (the
    GitHub name) while PyPI installs it as ``pyautoattack``: the same code, aliased before the import."""
    try:
        import pyautoattack
        import pyautoattack.state

        sys.modules.setdefault("autoattack", pyautoattack)
        sys.modules.setdefault("autoattack.state", pyautoattack.state)
        with warnings.catch_warnings():  # its loaders import pkg_resources, which warns of its own end
            warnings.simplefilter("ignore")
            import robustbench.utils
            from robustbench.model_zoo import model_dicts
            from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel
    except ImportError as exc:
        raise ConfigError(f"the RobustBench model zoo needs robustbench ({exc.name or exc} is missing): {INSTALL}") from None
    return robustbench, model_dicts, BenchmarkDataset, ThreatModel


def zoo_entry(name: str, dataset: str, norm: str):
    """RobustBench's table entry of NAME for the run's data set and norm; ConfigError naming what does not fit."""
    if dataset not in DATASETS:
        raise ConfigError(f"robustbench:{name}: the zoo has no {dataset} models (it has {', '.join(DATASETS)} here)")
    if norm not in THREAT_MODELS:
        raise ConfigError(f"robustbench:{name}: the zoo has no {norm} threat model (it has {', '.join(THREAT_MODELS)})")
    _, model_dicts, BenchmarkDataset, ThreatModel = _robustbench()
    table = model_dicts[BenchmarkDataset(DATASETS[dataset])][ThreatModel(THREAT_MODELS[norm])]
    if name not in table:
        others = [(d, t) for d in model_dicts for t in model_dicts[d] if name in model_dicts[d][t]]
        where = f"; it is a {others[0][0].value} {others[0][1].value} model" if others else ""
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"robustbench:{name}: no such {DATASETS[dataset]} {THREAT_MODELS[norm]} model in RobustBench's "
                          f"zoo{where}{hint}")
    return table[name]


def zoo_architecture(name: str, dataset: str = "cifar10", norm: str = "linf"):
    """The network of zoo entry NAME, with fresh weights (RobustBench's model table)."""
    return zoo_entry(name, dataset, norm)["model"]()


def zoo_file(name: str, zoo_dir, dataset: str = "cifar10", norm: str = "linf") -> Path:
    """Where RobustBench keeps NAME's weights: ZOO_DIR/<dataset>/<threat model>/NAME.pt."""
    return Path(zoo_dir) / DATASETS.get(dataset, dataset) / THREAT_MODELS.get(norm, norm) / f"{name}.pt"


def _online(host: str = "drive.google.com", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_zoo_model(name: str, zoo_dir=DEFAULT_ZOO_DIR, dataset: str = "cifar10", norm: str = "linf"):
    """(model in eval mode, record) of zoo entry NAME, loaded by ``robustbench.utils.load_model``.

    ``record`` is what a run keeps in config.json: zoo, name, dataset, threat model, file, its sha256
    and the robustbench version. ConfigError when robustbench is missing, NAME is not a model of the
    data set / threat model, or the file is missing on a machine without network."""
    zoo_entry(name, dataset, norm)
    robustbench = _robustbench()[0]
    path = zoo_file(name, zoo_dir, dataset, norm)
    if not path.is_file() and not _online():
        raise ConfigError(f"robustbench:{name}: {path} is missing and this machine has no network: download it where "
                          f"there is (robustbench.utils.load_model('{name}', 'DIR', '{DATASETS[dataset]}', "
                          f"'{THREAT_MODELS[norm]}')) and copy DIR here as --zoo-dir")
    try:
        model = robustbench.utils.load_model(name, model_dir=str(zoo_dir), dataset=DATASETS[dataset],
                                             threat_model=THREAT_MODELS[norm])
    except Exception as exc:  # a download or a file that fails: name the file
        raise ConfigError(f"robustbench:{name}: cannot load {path} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:120] if str(exc) else 'no detail'})") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    from importlib import metadata

    try:
        version = metadata.version("robustbench")
    except metadata.PackageNotFoundError:
        version = None
    record = {"zoo": "robustbench", "name": name, "dataset": DATASETS[dataset], "threat_model": THREAT_MODELS[norm],
              "file": str(path), "sha256": digest, "robustbench_version": version}
    return model.eval(), record
