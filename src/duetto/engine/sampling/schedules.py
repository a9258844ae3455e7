"""Pure functions that build the flow-matching noise schedule (sigmas) and the network timesteps from it."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def shift_sigmas(sigmas: np.ndarray | Tensor, shift: float) -> np.ndarray | Tensor:
    """Warp sigmas towards the noisy end: σ' = s·σ / (1 + (s − 1)·σ).

    A shift above 1 spends more of the steps at high noise, where large latents (many tokens) still need
    their coarse structure decided. Works on numpy arrays and tensors alike; shift 1 is the identity.
    """
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow_sigmas(num_steps: int, shift: float = 5.0, num_train_timesteps: int = 1000) -> Tensor:
    """The N+1 sigmas of an N-step sampling run, from nearly pure noise down to a final 0.

    Built as Ovi's (and Wan2.2's) flow UniPC scheduler builds them, so that the values agree to the bit:
    the training table runs σ = 1 − α with α = linspace(1, 1/T, T), so σ_max is 1 − 1/T taken at float32
    precision and σ_min is 0; N values are spaced evenly between them in float64 (the endpoint dropped),
    shifted, and 0 is appended before the cast to float32.

    Returns:
        float32 tensor (num_steps + 1,), decreasing, the last value exactly 0.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    if num_train_timesteps < 2:
        raise ValueError(f"num_train_timesteps must be at least 2, got {num_train_timesteps}")
    # The reference keeps its training table in float32 and reads σ_max back as a Python float; taking
    # 0.999 in float64 instead moves some sigmas by one float32 ulp.
    sigma_max = float(np.float32(1.0 - 1.0 / num_train_timesteps))
    sigma_min = 0.0
    sigmas = np.linspace(sigma_max, sigma_min, num_steps + 1)[:-1]
    sigmas = shift_sigmas(sigmas, shift)
    return torch.from_numpy(np.concatenate([sigmas, [0.0]]).astype(np.float32))


def timesteps_from_sigmas(sigmas: Tensor, num_train_timesteps: int = 1000) -> Tensor:
    """The integer timesteps the network sees at each step: σ·T truncated towards zero.

    Takes the N+1 sigmas of `flow_sigmas` (the final 0 is the end of the last step, not a step of its own)
    and returns int64 (N,). The product is taken in float64: the reference truncates its float64 sigmas,
    and float64 products of the float32-rounded sigmas truncate to the same integers, whereas float32
    products occasionally land one below.
    """
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError(
            f"sigmas must be a 1-D schedule of at least 2 values, got shape {tuple(sigmas.shape)}"
        )
    return (sigmas[:-1].to(torch.float64) * num_train_timesteps).to(torch.int64)
