"""Toybox clips for the provenance tests, and the transformations they are checked against."""

from __future__ import annotations

import functools

import numpy as np

from duetto.clip import Clip
from duetto.world import random_scene, render

KEY = b"test instance secret"


@functools.lru_cache(maxsize=64)
def _render(seed: int, size: int, seconds: float, noise: float, ambience: str | None) -> Clip:
    rng = np.random.default_rng(seed)
    scene = random_scene(rng)
    while ambience is not None and scene.ambience != ambience:
        scene = random_scene(rng)
    return render(scene, width=size, height=size, seconds=seconds, seed=seed, noise=noise).clip


def toybox(seed: int, *, size: int = 128, seconds: float = 3.0, noise: float = 0.0,
           ambience: str | None = None) -> Clip:
    """A random Toybox clip (a fresh copy each call); `ambience` picks the first scene with that sound."""
    clip = _render(seed, size, seconds, noise, ambience)
    return Clip(frames=clip.frames.copy(), audio=clip.audio.copy(), fps=clip.fps, sample_rate=clip.sample_rate)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def snr(clean: np.ndarray, marked: np.ndarray) -> float:
    clean = clean.astype(np.float64)
    return float(10 * np.log10(np.sum(clean**2) / np.sum((marked - clean) ** 2)))
