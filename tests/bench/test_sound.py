"""Background and voice measures on synthetic signals: ambience class, pitch, envelope, syllable nuclei."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.bench.sound import (
    ambience_features,
    classify_ambience,
    pitch_track,
    syllable_nuclei,
    voice_band_envelope,
)
from tests.bench.synth import SR, ambience, impact, place, vowel_speech


@pytest.mark.parametrize("kind", ["quiet", "rain", "wind", "hum"])
def test_ambience_is_classified_even_with_knocks_on_top(kind: str) -> None:
    rng = np.random.default_rng(4)
    x = ambience(kind, 4.0, rng)
    for t in (0.5, 1.3, 2.2):
        place(x, impact("metal", 0.8, rng), t)
    assert classify_ambience(ambience_features(x)) == kind


def test_ambience_levels_follow_the_signal() -> None:
    rng = np.random.default_rng(5)
    loud = ambience_features(ambience("rain", 4.0, rng))
    soft = ambience_features(0.1 * ambience("rain", 4.0, rng))
    assert loud.level == pytest.approx(-30.0, abs=3.0)
    assert loud.level - soft.level == pytest.approx(20.0, abs=1.5)


@pytest.mark.parametrize("f0", [110.0, 170.0, 260.0])
def test_pitch_track_finds_the_voice_f0_under_wind(f0: float) -> None:
    rng = np.random.default_rng(6)
    voice, _ = vowel_speech([(0.5, 1.5), (2.0, 3.0)], f0, 4.0, rng)
    x = voice + ambience("wind", 4.0, rng)
    pitch, times = pitch_track(x)
    inside = ((times > 0.7) & (times < 1.3)) | ((times > 2.2) & (times < 2.8))
    assert np.mean(np.isfinite(pitch[inside])) > 0.8
    assert np.nanmedian(pitch[inside]) == pytest.approx(f0, rel=0.03)
    assert np.mean(np.isfinite(pitch[times > 3.2])) < 0.1  # wind alone is not voiced


def test_voice_envelope_follows_syllables_and_ignores_rumble_band() -> None:
    rng = np.random.default_rng(7)
    voice, amp = vowel_speech([(0.5, 0.7), (1.0, 1.3)], 170.0, 2.0, rng)
    low = np.sin(2 * np.pi * 150 * np.arange(2 * SR) / SR) * 0.3  # under the voice band
    envelope, times = voice_band_envelope(voice + low)
    reference = np.interp(times, np.arange(2 * SR) / SR, amp)
    assert np.corrcoef(envelope, reference)[0, 1] > 0.9


def test_syllable_nuclei_counts_separated_syllables() -> None:
    rng = np.random.default_rng(8)
    syllables = [(0.3, 0.52), (0.52, 0.74), (0.95, 1.15), (1.4, 1.62), (1.62, 1.85)]
    voice, _ = vowel_speech(syllables, 140.0, 2.5, rng)
    envelope, times = voice_band_envelope(voice, 0.005)
    pitch, pitch_times = pitch_track(voice)
    voiced = np.interp(times, pitch_times, np.isfinite(pitch).astype(float)) > 0.5
    usable = np.ones(len(times), bool)
    nuclei = syllable_nuclei(envelope, times, voiced, usable)
    assert len(nuclei) == len(syllables)
    masked = syllable_nuclei(envelope, times, voiced, times > 0.9)
    assert len(masked) == 3
