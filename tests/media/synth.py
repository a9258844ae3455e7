"""Synthetic clips for the media tests: a coloured square sliding over a gradient, a sine with clicks."""

from __future__ import annotations

import numpy as np
from scipy import signal

from duetto.clip import Clip

CLICK_SECONDS = (0.2, 0.55, 0.8)


def synthetic_clip(
    *,
    fps: float = 24.0,
    num_frames: int = 24,
    height: int = 64,
    width: int = 96,
    sample_rate: int = 16000,
    channels: int = 1,
    audio_seconds: float | None = None,
) -> Clip:
    """A moving square over a gradient and, per channel, a quiet sine plus loud one-sample clicks."""
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack([40 + xx * 1.5, 60 + yy * 1.5, np.full_like(xx, 120.0)], axis=-1)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    # Square edges on the 2x2 chroma grid: a saturated edge inside a chroma block costs ~30 dB in any
    # 4:2:0 codec, which would hide the H.264 error these tests are after.
    side = max(2, min(height, width) // 3 // 2 * 2)
    top = height // 4 // 2 * 2
    for index in range(num_frames):
        frame = background.copy()
        left = (2 * index) % max(1, width - side)
        frame[top: top + side, left: left + side] = (230, 60, 40)
        frames[index] = np.clip(frame, 0, 255).astype(np.uint8)
    seconds = num_frames / fps if audio_seconds is None else audio_seconds
    samples = round(seconds * sample_rate)
    t = np.arange(samples) / sample_rate
    tracks = []
    for channel in range(channels):
        track = 0.2 * np.sin(2 * np.pi * (440 + 220 * channel) * t)
        for click in CLICK_SECONDS:
            if click < seconds:
                track[round(click * sample_rate)] = 0.9
        tracks.append(track)
    audio = np.asarray(tracks, np.float32)
    return Clip(frames=frames, audio=audio[0] if channels == 1 else audio, fps=fps, sample_rate=sample_rate)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def click_positions(audio: np.ndarray, sample_rate: int, expected: list[float], window: float = 0.05) -> list[float]:
    """Where each click landed (seconds): the loudest high-passed sample within `window` of where it should be."""
    sos = signal.butter(4, 3000, "highpass", fs=sample_rate, output="sos")
    envelope = np.abs(signal.sosfiltfilt(sos, audio.astype(np.float64)))
    found = []
    for seconds in expected:
        lo = max(0, round((seconds - window) * sample_rate))
        hi = round((seconds + window) * sample_rate)
        found.append((lo + int(np.argmax(envelope[lo:hi]))) / sample_rate)
    return found
