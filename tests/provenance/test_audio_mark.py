"""The invisible audio mark: quiet enough, found after MP3/AAC, resampling and a cut anywhere."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.provenance import detect_audio_mark, embed_audio_mark
from duetto.provenance.attacks import audio_codec_available, reencode_audio
from tests.provenance.clips import KEY, snr, toybox

PAYLOAD = 0xA0D10
RATE = 16000


@pytest.fixture(scope="module", params=["rain", "hum"])
def marked(request):
    """A 4 s clip with broadband sound (rain) and one with four steady tones (hum), marked."""
    clip = toybox(21, seconds=4.0, ambience=request.param)
    return clip.audio, embed_audio_mark(clip.audio, RATE, PAYLOAD, KEY)


def test_mark_is_quiet_and_read_back_exactly(marked) -> None:
    clean, wave = marked
    assert wave.dtype == np.float32 and wave.shape == clean.shape
    assert snr(clean, wave) >= 30.0
    found = detect_audio_mark(wave, RATE, KEY)
    assert found.found and found.payload == PAYLOAD
    # The mark repeats every second, so the alignment found is the start modulo whole periods.
    assert found.details["offset_seconds"] % 1.0 < 1e-3 or found.details["offset_seconds"] % 1.0 > 1 - 1e-3


def test_other_keys_and_unmarked_sound_find_nothing(marked) -> None:
    clean, wave = marked
    assert not detect_audio_mark(wave, RATE, b"another instance").found
    assert not detect_audio_mark(clean, RATE, KEY).found


@pytest.mark.parametrize("codec", ["mp3", "aac"])
def test_lossy_reencoding_keeps_the_mark(marked, codec: str) -> None:
    if not audio_codec_available(codec):
        pytest.skip(f"this PyAV build cannot encode {codec}")
    _, wave = marked
    decoded = reencode_audio(wave, RATE, codec, 64000)
    assert decoded.size != wave.size or not np.allclose(decoded, wave)  # a real, unaligned re-encode
    found = detect_audio_mark(decoded, RATE, KEY)
    assert found.bit_accuracy_vs(PAYLOAD) >= 0.95 and found.payload == PAYLOAD


@pytest.mark.parametrize("start", [0, 7777, 16_000 - 3, 29_001])
def test_any_two_second_excerpt_is_enough(marked, start: int) -> None:
    _, wave = marked
    found = detect_audio_mark(wave[start:start + 2 * RATE], RATE, KEY)
    assert found.payload == PAYLOAD


def test_stereo_at_48khz_keeps_its_shape_and_mark() -> None:
    clip = toybox(22, seconds=3.0, ambience="wind")
    from scipy.signal import resample_poly

    left = resample_poly(clip.audio, 3, 1).astype(np.float32)
    stereo = np.stack([left, 0.5 * left])
    wave = embed_audio_mark(stereo, 48000, PAYLOAD, KEY)
    assert wave.shape == stereo.shape and snr(stereo, wave) >= 30.0
    assert detect_audio_mark(wave, 48000, KEY).payload == PAYLOAD
    # The detector measures at 16 kHz, so the rate of the copy does not matter.
    assert detect_audio_mark(resample_poly(wave.mean(axis=0), 1, 3), 16000, KEY).payload == PAYLOAD


@pytest.mark.parametrize("seconds", [3.5, 2.05])
def test_sound_past_a_whole_second_is_marked(seconds: float) -> None:
    # A tile or more past the last whole second raised a broadcasting error (60 against 70 tiles at 3.5 s).
    clip = toybox(23, seconds=seconds, ambience="rain")
    wave = embed_audio_mark(clip.audio, RATE, PAYLOAD, KEY)
    assert wave.shape == clip.audio.shape and snr(clip.audio, wave) >= 30.0
    assert detect_audio_mark(wave, RATE, KEY).payload == PAYLOAD


def test_silence_and_short_audio_come_back_unchanged() -> None:
    silent = np.zeros(3 * RATE, np.float32)
    assert np.array_equal(embed_audio_mark(silent, RATE, PAYLOAD, KEY), silent)
    short = toybox(23, seconds=0.8, ambience="rain").audio
    assert np.array_equal(embed_audio_mark(short, RATE, PAYLOAD, KEY), short)
    assert not detect_audio_mark(silent, RATE, KEY).found


@pytest.mark.slow
def test_no_false_detection_on_100_unmarked_clips() -> None:
    hits = [detect_audio_mark(toybox(2000 + i, size=16, seconds=2.5).audio, RATE, KEY).found for i in range(100)]
    assert sum(hits) == 0


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        embed_audio_mark(np.zeros(8000, np.float32), 8000, 1, KEY)
    with pytest.raises(ValueError, match="audio must be"):
        detect_audio_mark(np.zeros((2, 2, 10), np.float32), RATE, KEY)
