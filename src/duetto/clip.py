"""The one currency between layers: a clip's frames, its waveform, their rates and its metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Clip:
    """A short video with its sound.

    Attributes:
        frames: uint8 array (T, H, W, 3), RGB.
        audio: float32 array (samples,) for mono or (channels, samples), values in [-1, 1].
        fps: video frame rate in frames per second.
        sample_rate: audio sample rate in Hz.
        metadata: free-form facts about the clip (prompt, seed, model, timings, ...).
    """

    frames: np.ndarray
    audio: np.ndarray
    fps: float
    sample_rate: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(f"frames must be (T, H, W, 3), got {tuple(self.frames.shape)}")
        if self.frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, got {self.frames.dtype}")
        if self.audio.ndim not in (1, 2):
            raise ValueError(f"audio must be (samples,) or (channels, samples), got {tuple(self.audio.shape)}")
        if self.fps <= 0 or self.sample_rate <= 0:
            raise ValueError("fps and sample_rate must be positive")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[-1])

    @property
    def video_seconds(self) -> float:
        return self.num_frames / self.fps

    @property
    def audio_seconds(self) -> float:
        return self.num_samples / self.sample_rate

    @property
    def mono(self) -> np.ndarray:
        """The waveform as one channel (the mean of the channels when stereo)."""
        return self.audio if self.audio.ndim == 1 else self.audio.mean(axis=0)


def parse_size(size: str) -> tuple[int, int]:
    """'WxH' (e.g. '128x128') → (width, height); `ValueError` with an example otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", size)
    if not match:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 128x128), got {size!r}")
    return int(match.group(1)), int(match.group(2))
