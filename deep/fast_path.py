"""The fast path: which speed tricks a run uses, by device and model, and the eval module they give.

A trick is on by default only where it was measured to help (``benchmarks/cpu_fast_path.py`` on
CPU, ``benchmarks/epoch_time.py`` on CUDA); docs/speed.md and docs/results.md have the numbers. The tricks:

* ``bf16``: bf16 autocast of the training step (attack included); no loss scaling is needed. On
  CUDA: tensor cores. On a CPU with AVX-512 BF16 (or AMX): oneDNN's bf16 convolutions. A CPU without
  them (e.g. AVX2 only) emulates bf16, 10-20x slower than fp32, so there bf16 is never on, not even
  with ``--fast`` (:func:`cpu_has_native_bf16`).
* ``channels_last``: NHWC memory format of the model and the training batches: the layout
  cuDNN's and oneDNN's fastest convolutions want (on a CPU it helps some models and hurts others).
* ``fused_sgd``: one kernel per optimiser step instead of one per parameter tensor (CUDA only).
* ``compile``: ``torch.compile`` of the training forward: fused elementwise ops, fewer launches
  (on CUDA; on a CPU it was slower than eager bf16 for every model measured).
* ``eval_folded``: evaluation on a copy of the model in which every BatchNorm that directly follows a
  convolution is folded into it (exact in real arithmetic: BN in eval mode is a fixed per-channel
  affine map; 4 of compact_cnn's 7, a BN after a max-pool cannot be folded), in channels_last; the
  arithmetic stays fp32. The trained module itself is never changed.

The whole uint8 split on the device with crop + flip as tensor ops there (:mod:`deep.data`) is
not a switch: every run uses it.

``fast`` (``--fast / --no-fast``) forces every trick the device supports on or off; ``None`` (the
default) takes the measured default of the device and model (:data:`CPU_DEFAULTS`; CUDA: all on).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch

__all__ = ["FastPath", "CPU_DEFAULTS", "CPU_FORCED", "CUDA_DEFAULT", "OFF", "choose", "cpu_has_native_bf16",
           "eval_module", "folded_batchnorms"]


@dataclass(frozen=True)
class FastPath:
    """The speed tricks of one run (see the module docstring)."""

    bf16: bool = False
    channels_last: bool = False
    fused_sgd: bool = False
    compile: bool = False
    eval_folded: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def any(self) -> bool:
        return any(asdict(self).values())


OFF = FastPath()
CUDA_DEFAULT = FastPath(bf16=True, channels_last=True, fused_sgd=True, compile=True, eval_folded=False)
CPU_FORCED = FastPath(bf16=True, channels_last=True, eval_folded=True)  # --fast on a CPU, for any model

# Measured on 2 idle cores of an AMD EPYC with AVX-512 BF16 (torch 2.14.1; benchmarks/cpu_fast_path.py,
# rows in benchmarks/results/cpu_fast_path.json, docs/results.md). Models not listed keep the
# plain fp32 path on a CPU: small_cnn (digits, batch 16) gained 1.16x and 1.31x in two runs, an
# overhead-bound step whose fp32 rate itself varied 1.5x, not worth changing every digits result;
# the ResNets were not measured there (a PreAct-ResNet18 PGD-10 epoch takes over an hour on two cores).
CPU_DEFAULTS = {
    # PGD-3 training step, batch 128: fp32 168 img/s, bf16 345, channels_last 286, both 529 (3.15x);
    # compiled 376 (slower). PGD evaluation, fp32, batch 500: 525, channels_last 840, folded 922.
    # On a 2-core AMD EPYC with AVX2 only (no native bf16; benchmarks/results/cpu_fast_path_avx2.json):
    # fp32 117, channels_last 170 (1.45x), bf16 9, bf16 + channels_last 11; evaluation 376 / 613 / 727.
    # There choose() drops bf16 and keeps the rest.
    "compact_cnn": CPU_FORCED,
    # the same net with SiLU: the same tricks (its bf16 + channels_last step ran 6 % slower, measured in training)
    "compact_cnn_silu": CPU_FORCED,
}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX tiles), as oneDNN's bf16 kernels need."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def choose(device: torch.device, model: str, fast: bool | None = None, compile: bool | None = None,
           native_bf16: bool | None = None) -> FastPath:
    """The tricks of a run on ``device`` with ``model``: forced by ``fast`` / ``compile``, else measured defaults.

    On a CPU, bf16 needs native support (``native_bf16``; None: :func:`cpu_has_native_bf16`)."""
    cuda = device.type == "cuda"
    if fast is None:
        base = CUDA_DEFAULT if cuda else CPU_DEFAULTS.get(model, OFF)
    elif fast:
        base = CUDA_DEFAULT if cuda else CPU_FORCED
    else:
        base = OFF
    bf16 = base.bf16 and (cuda or (cpu_has_native_bf16() if native_bf16 is None else native_bf16))
    use_compile = base.compile if compile is None else bool(compile)
    return FastPath(bf16=bf16, channels_last=base.channels_last, fused_sgd=base.fused_sgd and cuda,
                    compile=use_compile, eval_folded=base.eval_folded)


def eval_module(model: torch.nn.Module, path: FastPath) -> torch.nn.Module:
    """The module evaluation runs: ``model`` itself, or (``eval_folded``) an eval-mode copy with every
    Conv2d -> BatchNorm2d pair folded into one convolution, in channels_last, fp32.

    Folding: y = gamma (W x + b - mu) / sqrt(var + eps) + beta is one convolution with weight
    W gamma / sqrt(var + eps) and bias (b - mu) gamma / sqrt(var + eps) + beta (torch.fx's fuse).
    A model that cannot be traced is evaluated as it is.
    """
    if not path.eval_folded:
        return model
    from torch.fx.experimental.optimization import fuse

    plain = copy.deepcopy(model).eval()
    try:
        folded = fuse(plain)
    except Exception:  # not traceable by torch.fx: evaluate the plain copy
        folded = plain
    return folded.to(memory_format=torch.channels_last).eval()


def folded_batchnorms(plain: torch.nn.Module, evaluated: torch.nn.Module) -> int:
    """How many BatchNorm layers of ``plain`` the module ``evaluated`` folded away (0: none, or not folded)."""
    def count(m):
        return sum(isinstance(x, torch.nn.modules.batchnorm._BatchNorm) for x in m.modules())

    return count(plain) - count(evaluated)
