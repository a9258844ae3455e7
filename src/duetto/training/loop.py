"""Pieces every stage's loop shares: per-step seeding, the learning-rate schedule, autocast and a metrics log."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from duetto.training.config import OptimConfig
from duetto.training.ddp import Dist

logger = logging.getLogger("duetto.training")


def step_seed(seed: int, step: int, rank: int = 0, stream: int = 0) -> int:
    """A seed for one step of one rank. Deriving every draw from (seed, step, rank) instead of carrying RNG
    state forward is what makes a resumed run repeat the uninterrupted one bit for bit."""
    return int(np.random.SeedSequence([seed, step, rank, stream]).generate_state(1, np.uint64)[0] % (2**63))


def step_generator(
    seed: int, step: int, rank: int = 0, stream: int = 0, device: str | torch.device = "cpu"
) -> torch.Generator:
    return torch.Generator(device).manual_seed(step_seed(seed, step, rank, stream))


def seed_everything_for_step(seed: int, step: int, rank: int) -> None:
    """Global RNGs too (dropout inside library models draws from them)."""
    torch.manual_seed(step_seed(seed, step, rank, stream=99))


def lr_at(step: int, cfg: OptimConfig, base_lr: float | None = None) -> float:
    """Linear warmup, then cosine decay to lr × min_lr_ratio at the last step."""
    lr = cfg.lr if base_lr is None else base_lr
    if step < cfg.warmup_steps:
        return lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer: torch.optim.Optimizer, step: int, cfg: OptimConfig) -> None:
    """Scale every group's own base rate (groups may differ, e.g. the audio VAE's per-fan-in rates)."""
    factor = lr_at(step, cfg, 1.0)
    for group in optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])
        group["lr"] = group["base_lr"] * factor


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on GPUs when asked; CPUs compute in fp32 (bf16 there is slow and not what we ship)."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class MetricsLog:
    """Per-step losses kept in memory (tests read them) and appended to metrics.jsonl on the main rank."""

    folder: Path
    dist: Dist
    every: int
    losses: list[float] = field(default_factory=list)
    _t0: float = field(default_factory=time.perf_counter)
    _cpu0: float = field(default_factory=time.process_time)
    _last_step: int = 0

    def record(self, step: int, loss: float, **parts: float) -> None:
        if not self.losses:  # a resumed run starts counting at its first step, not at zero
            self._last_step = step
        self.losses.append(loss)
        if not self.dist.is_main or ((step + 1) % self.every and step != 0):
            return
        now, cpu = time.perf_counter(), time.process_time()
        steps = max(1, step + 1 - self._last_step)
        # CPU seconds per step too: on a shared machine they measure the work, wall seconds the waiting.
        per_step, cpu_per_step = (now - self._t0) / steps, (cpu - self._cpu0) / steps
        self._t0, self._cpu0, self._last_step = now, cpu, step + 1
        row = {"step": step + 1, "loss": loss, "s_per_step": round(per_step, 4),
               "cpu_s_per_step": round(cpu_per_step, 4), **parts}  # fmt: skip
        with (self.folder / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        logger.info(
            "%s step %d loss %.5f (%.3f s/step) %s",
            self.folder.name,
            step + 1,
            loss,
            per_step,
            " ".join(f"{k} {v:.4g}" for k, v in parts.items()),
        )


@dataclass
class StageResult:
    """What a stage's run leaves in this process: its per-step losses (averaged over ranks) and the trained
    modules as they are on this rank (tests compare them across ranks and runs)."""

    losses: list[float]
    modules: dict[str, torch.nn.Module]


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Put modules in eval mode for a block and restore their previous modes."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)
