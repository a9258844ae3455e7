"""Onset detection on synthetic knocks: found, placed to the millisecond, and told apart from droplets."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.bench.onsets import SAMPLE_RATE, detect_onsets, measure_onset, prepare_audio
from tests.bench.synth import SR, ambience, impact, place


def _knocks(material: str, kind: str, times: list[float], peaks: list[float], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = ambience(kind, 4.0, rng)
    for t, peak in zip(times, peaks, strict=True):
        place(x, impact(material, peak, rng), t)
    return x


@pytest.mark.parametrize("material", ["rubber", "wood", "metal", "glass"])
@pytest.mark.parametrize("kind", ["quiet", "hum", "wind"])
def test_knocks_are_found_to_the_millisecond(material: str, kind: str) -> None:
    times = [0.4123, 1.2057, 2.0031, 3.1999]
    x = _knocks(material, kind, times, [0.8, 0.5, 0.3, 0.2])
    found = np.array([o.time for o in detect_onsets(x) if o.is_event])
    assert len(found) == len(times)
    errors = np.abs(found - times)
    assert np.median(errors) < 0.002 and np.max(errors) < 0.003


def test_knocks_in_rain_are_found_and_droplets_are_not_events() -> None:
    times = [0.5, 1.5, 2.5]
    x = _knocks("wood", "rain", times, [0.7, 0.5, 0.4], seed=3)
    onsets = detect_onsets(x)
    events = np.array([o.time for o in onsets if o.is_event])
    assert len(events) == len(times)
    assert np.max(np.abs(events - times)) < 0.003


def test_silence_and_steady_hum_have_no_events() -> None:
    rng = np.random.default_rng(1)
    assert [o for o in detect_onsets(np.zeros(4 * SR)) if o.is_event] == []
    assert [o for o in detect_onsets(ambience("hum", 4.0, rng)) if o.time > 0.1 and o.is_event] == []


def test_measure_onset_recovers_a_known_start_from_a_rough_guess() -> None:
    rng = np.random.default_rng(2)
    x = np.zeros(2 * SR)
    place(x, impact("glass", 0.5, rng), 1.0)
    for guess in (0.992, 1.0, 1.009):
        t, energy, snr = measure_onset(x, guess)
        assert abs(t - 1.0) < 0.0015
        assert energy > 1e-4 and snr > 10


def test_prepare_audio_mixes_down_and_resamples_to_16k() -> None:
    t = np.arange(48000) / 48000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)])
    y = prepare_audio(stereo, 48000)
    assert len(y) == SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(y) - 440) < 2
    with pytest.raises(ValueError):
        prepare_audio(np.zeros((2, 2, 2)), 16000)
