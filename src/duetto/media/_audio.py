"""Waveform helpers shared by the MP4 and WAV code: shape checks, length fitting and resampling."""

from __future__ import annotations

import av
import numpy as np


def as_channels(audio: np.ndarray) -> np.ndarray:
    """The waveform as float32 (channels, samples), clipped to [-1, 1] with NaN/inf made silent."""
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"audio must be (samples,) or (channels, samples), got shape {array.shape}")
    # A single bad sample would otherwise make the AAC encoder emit noise for a whole frame.
    array = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(array, -1.0, 1.0)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Trim or zero-pad (samples,) or (channels, samples) audio at the end to exactly `samples` samples."""
    have = audio.shape[-1]
    if have >= samples:
        return audio[..., :samples]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, samples - have)])


def layout_for(channels: int) -> str:
    if channels == 1:
        return "mono"
    if channels == 2:
        return "stereo"
    raise ValueError(f"audio must be mono or stereo, got {channels} channels; mix it down first")


def resample(audio: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Resample (channels, samples) float32 audio with libswresample; the first sample stays at t=0."""
    if rate == new_rate:
        return audio
    layout = layout_for(audio.shape[0])
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio, dtype=np.float32), format="fltp", layout=layout)
    frame.sample_rate = rate
    frame.pts = 0
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=new_rate)
    pieces = [f.to_ndarray() for f in resampler.resample(frame) + resampler.resample(None)]
    out = np.concatenate(pieces, axis=1) if pieces else np.zeros((audio.shape[0], 0), np.float32)
    # swresample may return a sample more or less than the ideal length; the caller's timeline wins.
    return fit_length(out.astype(np.float32, copy=False), round(audio.shape[-1] * new_rate / rate))
