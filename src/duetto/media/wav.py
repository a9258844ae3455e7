"""A clip's sound (or any waveform) to a WAV file and back, with soundfile."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from duetto.clip import Clip
from duetto.media._audio import as_channels, resample

#: WAV sample encodings accepted by `write_wav` and `wav_bytes`.
WAV_SUBTYPES = frozenset({"PCM_16", "PCM_24", "PCM_32", "FLOAT"})


def _prepare(
    clip_or_audio: Clip | np.ndarray, sample_rate: int | None, subtype: str, *, caller: str
) -> tuple[np.ndarray, int]:
    """The audio to write as float32 (channels, samples) clipped to [-1, 1], and its rate; checks both."""
    if isinstance(clip_or_audio, Clip):
        audio = as_channels(clip_or_audio.audio)
        if sample_rate is not None and sample_rate != clip_or_audio.sample_rate:
            audio = resample(audio, clip_or_audio.sample_rate, sample_rate)
        rate = sample_rate or clip_or_audio.sample_rate
    else:
        if sample_rate is None:
            raise ValueError(f"{caller} needs sample_rate when given a bare array; pass sample_rate=...")
        audio, rate = as_channels(clip_or_audio), sample_rate
    if rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {rate}")
    if subtype not in WAV_SUBTYPES:
        raise ValueError(f"subtype {subtype!r} is not supported; use one of {sorted(WAV_SUBTYPES)}")
    return audio, rate


def write_wav(
    clip_or_audio: Clip | np.ndarray,
    path: str | os.PathLike[str],
    sample_rate: int | None = None,
    *,
    subtype: str = "PCM_16",
) -> Path:
    """Write a Clip's audio, or a (samples,) / (channels, samples) array, as a WAV file atomically.

    For a Clip, `sample_rate` defaults to the clip's own and resamples when it differs; for an array
    it is required. `subtype` is "PCM_16" (most compatible), "PCM_24", "PCM_32" or "FLOAT" (lossless
    for float32). Samples are clipped to [-1, 1].
    """
    audio, rate = _prepare(clip_or_audio, sample_rate, subtype, caller="write_wav")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a folder; give a file name ending in .wav")
    try:
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as error:
        raise ValueError(f"cannot write {path}: {error.strerror or error}; choose a writable folder") from None
    os.close(handle)
    temp = Path(temp_name)
    try:
        sf.write(temp, audio.T, rate, subtype=subtype, format="WAV")
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def wav_bytes(
    clip_or_audio: Clip | np.ndarray, sample_rate: int | None = None, *, subtype: str = "PCM_16"
) -> bytes:
    """The WAV file that `write_wav` would write, as bytes (same arguments, no file)."""
    audio, rate = _prepare(clip_or_audio, sample_rate, subtype, caller="wav_bytes")
    buffer = io.BytesIO()
    sf.write(buffer, audio.T, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a sound file as float32 audio, (samples,) for mono or (channels, samples), and its rate."""
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise ValueError(f"cannot read {path} as audio: {error}") from None
    audio = data.T
    return np.ascontiguousarray(audio[0] if audio.shape[0] == 1 else audio), int(rate)
