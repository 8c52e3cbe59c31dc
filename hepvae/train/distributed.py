"""Data-parallel training across processes (``torchrun``) with torch.distributed.

``torchrun --nproc_per_node K -m hepvae.cli train ...`` (or ``torchrun ... $(which hepvae)
train ...``) sets RANK, WORLD_SIZE and LOCAL_RANK; :func:`init` then joins the process group
(NCCL on CUDA, gloo on CPU). Every process reads the same data, takes its own share of each
epoch (see :func:`hepvae.train.data.epoch_indices`) and DDP averages the gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init(device_type: str) -> DistInfo:
    """Join the process group when launched by torchrun; a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local_rank)


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of ``value`` over processes (identity for one process)."""
    if info.enabled:
        value = value.clone()
        dist.all_reduce(value)
        value /= info.world
    return value


def all_reduce_min(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Minimum of ``value`` over processes (identity for one process)."""
    if info.enabled:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return value


def all_true(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True only if ``flag`` is true in every process."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0.5)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group once every process has arrived here.

    Without the barrier a process that finishes first tears down its gloo connections while a
    peer still uses them, and the peer aborts ("terminate called without an active exception").
    """
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
