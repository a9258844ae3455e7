"""WAV round trips through soundfile: exact for float, within one step for 16-bit PCM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from duetto.media import read_wav, wav_bytes, write_wav
from tests.media.synth import CLICK_SECONDS, click_positions, synthetic_clip


def _noise(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)


def test_float_wav_round_trip_is_exact(tmp_path: Path) -> None:
    audio = _noise((2, 3000))
    write_wav(audio, tmp_path / "f.wav", 22050, subtype="FLOAT")
    back, rate = read_wav(tmp_path / "f.wav")
    assert rate == 22050 and back.dtype == np.float32
    np.testing.assert_array_equal(back, audio)


def test_pcm16_round_trip_is_within_one_step(tmp_path: Path) -> None:
    audio = _noise((4000,))
    write_wav(audio, tmp_path / "p.wav", 16000)
    back, rate = read_wav(tmp_path / "p.wav")
    assert rate == 16000 and back.shape == (4000,)
    assert np.max(np.abs(back - audio)) <= 1 / 32768
    assert np.max(np.abs(back - audio)) > 0  # it really was quantised, i.e. written as PCM16


def test_wav_bytes_are_the_file_write_wav_writes(tmp_path: Path) -> None:
    audio = _noise((2, 3000)) * 1.5  # some samples out of range: both clip them
    for subtype in ("PCM_16", "FLOAT"):
        path = write_wav(audio, tmp_path / f"{subtype}.wav", 22050, subtype=subtype)
        assert wav_bytes(audio, 22050, subtype=subtype) == path.read_bytes()
    with pytest.raises(ValueError, match="wav_bytes needs sample_rate"):
        wav_bytes(audio)


def test_clip_is_written_at_its_rate_or_resampled(tmp_path: Path) -> None:
    clip = synthetic_clip(num_frames=24)
    write_wav(clip, tmp_path / "own.wav")
    back, rate = read_wav(tmp_path / "own.wav")
    assert rate == clip.sample_rate and back.shape == clip.audio.shape
    write_wav(clip, tmp_path / "up.wav", 48000)
    up, rate = read_wav(tmp_path / "up.wav")
    assert rate == 48000 and up.shape == (48000,)
    found = click_positions(up, 48000, list(CLICK_SECONDS))
    assert np.max(np.abs(np.subtract(found, CLICK_SECONDS))) <= 0.001


def test_out_of_range_samples_are_clipped(tmp_path: Path) -> None:
    write_wav(np.array([2.0, -3.0, np.nan, 0.5], np.float32), tmp_path / "c.wav", 8000, subtype="FLOAT")
    back, _ = read_wav(tmp_path / "c.wav")
    np.testing.assert_array_equal(back, [1.0, -1.0, 0.0, 0.5])


def test_wav_errors_are_one_line_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        write_wav(np.zeros(10, np.float32), tmp_path / "x.wav")
    with pytest.raises(ValueError, match="subtype"):
        write_wav(np.zeros(10, np.float32), tmp_path / "x.wav", 8000, subtype="MP3")
    with pytest.raises(ValueError, match="cannot write"):
        write_wav(np.zeros(10, np.float32), tmp_path / "nowhere" / "x.wav", 8000)
    assert list(tmp_path.iterdir()) == []
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF but not really")
    with pytest.raises(ValueError, match="cannot read") as error:
        read_wav(junk)
    assert "\n" not in str(error.value)
