"""State dicts written by other code, renamed onto this project's modules.

What :func:`to_our_names` maps (and nothing else; a state_dict in our names passes unchanged):

* the ``module.`` prefix that ``nn.DataParallel`` and DDP put before every name;
* the FRL authors' PreAct-ResNet18 (hannxu123/fair_robust @ a80547d, ``pre_resnet.py``: the network of
  the ``hot_start.pt`` that ``frlrw.py:21`` and ``frlrmrw.py`` load, inputs in [0, 1], no normalisation):
  ``layer{s}.{b}.<rest>`` is our ``layers.{2 (s - 1) + b}.<rest>`` and a block's ``shortcut.0.weight``
  (a one-layer ``nn.Sequential``) is our ``shortcut.weight``; ``conv1``, ``bn1``, ``conv2``, ``bn2``
  and ``linear`` keep their names. Their network has no final BatchNorm + ReLU: it fits
  ``--model preact_resnet18_authors`` (:class:`deep.models.PreActResNet18` with ``final_bn=False``).

Buffers of ours that a foreign file cannot hold (the input normalisation of ``--normalize``, constants
of the data set) are taken from the module itself.

Example (the authors' start, then FRL Reweight+Remargin at their settings)::

    frl train --method frl_reweight_remargin --frl-variant authors --model preact_resnet18_authors \\
        --init hot_start.pt --val-split tail --dataset cifar10 --out runs/frl_from_hot_start
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

__all__ = ["to_our_names", "is_state_dict"]

_AUTHORS_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.(.+)$")
_BLOCKS_PER_STAGE = 2  # PreAct-ResNet18: [2, 2, 2, 2] (pre_resnet.py, PreActResNet18)


def is_state_dict(obj) -> bool:
    """Whether ``obj`` is a bare state_dict (names to tensors), as ``torch.save(model.state_dict())`` writes."""
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                       for k, v in obj.items())


def _authors_name(name: str) -> str:
    m = _AUTHORS_BLOCK.match(name)
    if m is None:
        return name
    stage, block, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if rest.startswith("shortcut.0."):
        rest = "shortcut." + rest[len("shortcut.0."):]
    return f"layers.{_BLOCKS_PER_STAGE * (stage - 1) + block}.{rest}"


def to_our_names(state: dict, model: nn.Module) -> dict:
    """``state`` with its names mapped onto ``model``'s (see the module docstring); load it with
    ``model.load_state_dict``, which still refuses anything that does not fit."""
    ours = model.state_dict()
    if state.keys() and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    if not set(state) <= set(ours):
        renamed = {_authors_name(k): v for k, v in state.items()}
        if set(renamed) <= set(ours):
            state = renamed
    missing = {k: v for k, v in ours.items() if k.startswith("normalize.") and k not in state}
    return {**state, **missing}
