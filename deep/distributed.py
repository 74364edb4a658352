"""Multi-process training under torchrun: DistributedDataParallel, NCCL on GPUs, gloo on CPUs.

``torchrun --nproc_per_node=N -m frl train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; the loop
then shards every global batch over the processes (the global batch size stays
``--batch-size``), sums class-wise evaluation counts and loss totals across processes before
using them (so FRL's multipliers see the whole validation split), and lets only rank 0
write files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Dist", "setup", "unwrap_ddp"]


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum a tensor over processes (identity in a single process)."""
        if not self.enabled:
            return t
        out = t.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out


def setup(device: str) -> tuple[Dist, str]:
    """Join the process group torchrun describes (if any); returns the Dist and this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Dist(rank, world, local), device


def unwrap_ddp(model):
    """The module inside DistributedDataParallel (attacks run on it: input gradients need no reducer)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
