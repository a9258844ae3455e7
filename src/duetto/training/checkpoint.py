"""Resumable training state: models, optimisers, EMA, step and RNG states in one file, written atomically."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(folder: Path, state: dict[str, Any]) -> Path:
    """Write `state` (plus RNG states) to folder/checkpoint.pt via a temp file and a rename.

    A crash mid-write leaves the previous checkpoint intact: `os.replace` is atomic on one filesystem.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT
    temp = path.with_name(f"{CHECKPOINT}.tmp-{os.getpid()}")
    try:
        torch.save({**state, "rng": rng_state()}, temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def load_checkpoint(folder: Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The saved state of a stage, or None when it has none; restores the RNG states."""
    path = folder / CHECKPOINT
    if not path.is_file():
        return None
    # Our own file: optimiser states and RNG tuples need the full unpickler.
    state = torch.load(path, map_location=map_location, weights_only=False)
    set_rng_state(state["rng"])
    return state


def check_fresh_or_resume(folder: Path, resume: bool) -> None:
    """Refuse to overwrite a run by accident: an existing checkpoint needs --resume (or another --out)."""
    if not resume and (folder / CHECKPOINT).is_file():
        raise ValueError(
            f"{folder} already holds a checkpoint; pass --resume to continue it or choose another --out"
        )
