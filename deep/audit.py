"""Class-wise robustness of a model that was not trained here: ``frl audit MODEL``.

MODEL is one of

* ``robustbench:NAME``: a RobustBench zoo entry, loaded by RobustBench's own loader from
  ``ZOO_DIR/<dataset>/<threat model>/NAME.pt`` (:mod:`deep.zoo`);
* a TorchScript file (``torch.jit.save``), taking inputs in [0, 1];
* a state_dict file of one of our architectures (``--model``): a bare state_dict, or a checkpoint of
  this project (its ``model`` entry).

The result is an eval.json in the format of ``frl eval`` (standard, boundary and robust error per
class under PGD-``steps``; with ``attack="autoattack"`` the official AutoAttack as well, its PGD
numbers under ``pgd`` and ``gap_autoattack_minus_pgd`` per class), plus ``audited`` (what was
loaded, its sha256) and ``dataset``, so ``frl compare`` and ``frl figures`` read it like any other.

>>> from deep.audit import audit                                           # doctest: +SKIP
>>> res = audit("robustbench:Wong2020Fast", zoo_dir="models", data_dir="data/cifar10", limit=1000)  # doctest: +SKIP
>>> res["worst"]["rob_error"]                                               # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .build import resolve_device
from .choices import DEFAULT_EVAL_STEPS
from .config import DATASET_DEFAULTS, MODELS
from .data import first_per_class, load_split
from .errors import ConfigError
from .foreign_weights import to_our_names
from .models import model_for
from .zoo import DEFAULT_ZOO_DIR, load_zoo_model, zoo_name

__all__ = ["audit", "load_audited"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_audited(spec: str, model: str | None = None, dataset: str = "cifar10", num_classes: int = 10,
                 in_channels: int = 3, zoo_dir=DEFAULT_ZOO_DIR, norm: str = "linf"):
    """(module in eval mode on the CPU, record of what was loaded) for MODEL ``spec``; ConfigError otherwise."""
    name = zoo_name(spec)
    if name is not None:
        if model is not None:
            raise ConfigError(f"--model {model} with {spec}: a zoo entry brings its own network; leave --model out")
        module, record = load_zoo_model(name, zoo_dir, dataset, norm)
        return module, record
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"MODEL {spec}: no such file (give robustbench:NAME, a TorchScript file or a state_dict "
                          f"file with --model)")
    if model is None:
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception:
            raise ConfigError(f"MODEL {spec} is not a TorchScript file; for a state_dict file name its architecture "
                              f"with --model ({', '.join(MODELS)})") from None
        return module.eval(), {"kind": "torchscript", "file": str(path), "sha256": _sha256(path)}
    if model not in MODELS:
        raise ConfigError(f"--model {model!r}: unknown architecture; choose from {', '.join(MODELS)}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise ConfigError(f"MODEL {spec} is not a state_dict file torch can read (weights only)") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a checkpoint of this project
    module = model_for(model, dataset, num_classes, in_channels)
    try:
        module.load_state_dict(to_our_names(state, module))
    except (RuntimeError, TypeError, AttributeError):
        raise ConfigError(f"MODEL {spec}: its weights do not fit {model} ({num_classes} classes, {in_channels} "
                          f"channels)") from None
    return module.eval(), {"kind": "state_dict", "model": model, "file": str(path), "sha256": _sha256(path)}


def audit(spec: str, model: str | None = None, dataset: str = "cifar10", data_dir=None, zoo_dir=DEFAULT_ZOO_DIR,
          norm: str = "linf", eps: float | None = None, steps: int = DEFAULT_EVAL_STEPS, step_size=None, attack: str = "pgd",
          version: str = "standard", limit: int | None = None, batch_size: int = 500, seed: int = 0,
          device: str = "cpu") -> dict:
    """The eval.json dict of MODEL ``spec`` on the test split of ``dataset`` (``limit``: a stratified subset)."""
    from .runs import _check_eval_args, score_model, subset_record

    _check_eval_args(attack, steps, seed, batch_size, step_size, version)
    if dataset not in DATASET_DEFAULTS:
        raise ConfigError(f"--dataset {dataset!r}: unknown; choose from {', '.join(DATASET_DEFAULTS)}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be >= 1")
    dev = resolve_device(device)
    if zoo_name(spec) is not None:  # what the zoo can name is checked before the data is read
        from .zoo import zoo_entry

        zoo_entry(zoo_name(spec), dataset, norm)
    data = load_split(dataset, False, data_dir)
    if limit is not None:
        data = data.subset(first_per_class(data.y, int(limit), data.num_classes))
    module, record = load_audited(spec, model, dataset, data.num_classes, data.x.shape[1], zoo_dir, norm)
    module = module.to(dev)
    with torch.no_grad():
        probe = module(torch.zeros(1, *data.x.shape[1:], device=dev))
    if probe.ndim != 2 or probe.shape[1] != data.num_classes:
        raise ConfigError(f"MODEL {spec} gives outputs of shape {tuple(probe.shape)}, not (N, {data.num_classes}) "
                          f"class scores of {dataset}")
    eps = DATASET_DEFAULTS[dataset]["eps"] if eps is None else eps
    res = score_model(module, data, data.num_classes, data.class_names, eps, norm, steps, step_size, attack,
                      version, seed, batch_size)
    return {"run": spec, "split": "test", "dataset": dataset, "checkpoint": "audited", "method": spec,
            "audited": record, **subset_record(limit), **res}
