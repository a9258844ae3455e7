"""Data-parallel training: one process per device under `torchrun`, NCCL on GPUs and gloo on CPUs."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Dist:
    """This process's place in the job; a plain run is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    """`auto` is the local GPU when there is one, else the CPU."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device is 'cuda' but no GPU is visible; use device=cpu or auto")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device: str = "auto") -> Dist:
    """Join the process group when started by `torchrun` (it sets WORLD_SIZE, RANK, LOCAL_RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world > 1 and not torch_dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch_dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Dist(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def wrap(module: nn.Module, dist: Dist) -> nn.Module:
    """DDP around `module` when running on several processes (it broadcasts rank 0's weights first)."""
    if not dist.enabled:
        return module
    ids = [dist.device.index] if dist.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def barrier(dist: Dist) -> None:
    if dist.enabled:
        torch_dist.barrier()


def mean_over_ranks(value: torch.Tensor, dist: Dist) -> torch.Tensor:
    """The mean of a scalar over all processes (for logging; gradients are averaged by DDP itself)."""
    if not dist.enabled:
        return value
    value = value.detach().clone()
    torch_dist.all_reduce(value)
    return value / dist.world_size


def shutdown(dist: Dist) -> None:
    if dist.enabled and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
