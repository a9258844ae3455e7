"""Toy speech: timing within the spec's ranges, the voice's pitch and brightness, and the mouth following the sound."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.world import draw, vocab
from duetto.world.facts import SceneFacts, ToyFacts
from duetto.world.render import render


def _toy_scene(words, pitch="mid", timbre="soft", eyes="dots", ambience="quiet", **kw) -> SceneFacts:
    return SceneFacts(
        "room", ambience, toys=[ToyFacts("red", "none", eyes, pitch, timbre, "center", words, **kw)]
    )


def _envelope_per_frame(audio: np.ndarray, rate: int, fps: float, n: int) -> np.ndarray:
    hop = rate / fps
    return np.array(
        [
            np.sqrt(np.mean(audio[max(0, int((i - 0.5) * hop)) : max(1, int((i + 0.5) * hop))] ** 2))
            for i in range(n)
        ]
    )


def test_syllable_timing_follows_the_spec():
    result = render(_toy_scene(["bado", "lu", "mitena"]), width=32, height=32, seed=5)
    (toy,) = result.truth["toys"]
    syllables = toy["syllables"]
    assert [s["text"] for s in syllables] == ["ba", "do", "lu", "mi", "te", "na"]
    for s in syllables:
        assert 0.180 <= s["end"] - s["start"] <= 0.260
        assert 0.030 <= s["vowel_start"] - s["start"] <= 0.060
    pauses = [syllables[2]["start"] - syllables[1]["end"], syllables[3]["start"] - syllables[2]["end"]]
    assert all(0.060 <= p <= 0.200 for p in pauses)
    assert syllables[1]["start"] == pytest.approx(syllables[0]["end"])  # no gap inside a word
    onsets = [e for e in result.truth["events"] if e["kind"] == "speech_onset"]
    assert [e["time"] for e in onsets] == [s["start"] for s in syllables]


def test_mouth_follows_the_speech_envelope_and_closes_in_silence():
    fps, rate = 25.0, 16000
    result = render(
        _toy_scene(["pamo", "li", "bedu"]), width=64, height=64, fps=fps, sample_rate=rate, seed=2
    )
    mouth = result.tracks["mouth"][0]
    env = _envelope_per_frame(result.clip.audio, rate, fps, len(mouth))
    assert np.corrcoef(mouth, env)[0, 1] > 0.85
    syl = result.truth["toys"][0]["syllables"]
    silent = (np.arange(len(mouth)) / fps < syl[0]["start"] - 0.05) | (
        np.arange(len(mouth)) / fps > syl[-1]["end"] + 0.05
    )
    assert silent.sum() > 20 and np.all(mouth[silent] == 0)
    assert mouth.max() > 0.5
    np.testing.assert_allclose(result.truth["toys"][0]["mouth"], mouth, atol=1e-4)


def test_drawn_mouth_opens_with_the_truth_track():
    result = render(_toy_scene(["lamano", "pa"]), width=128, height=128, seed=1)
    mouth_px = np.all(result.clip.frames == np.array(draw.MOUTH, dtype=np.uint8), axis=-1).sum(axis=(1, 2))
    assert np.corrcoef(mouth_px, result.tracks["mouth"][0])[0, 1] > 0.95


def test_vowels_open_the_mouth_by_their_scale():
    peaks = {}
    for vowel in vocab.VOWELS:
        result = render(_toy_scene([f"l{vowel}"]), width=16, height=16, seconds=1.0, seed=0)
        peaks[vowel] = result.tracks["mouth_audio"][0].max()
    ratios = {v: peaks[v] / peaks["a"] for v in vocab.VOWELS}
    for vowel, scale in vocab.MOUTH_OPENING.items():
        assert ratios[vowel] == pytest.approx(
            scale, rel=0.3
        )  # same syllable gain range, so close to the scale


def _f0(audio: np.ndarray, rate: int) -> float:
    """Median autocorrelation pitch over voiced 40 ms windows."""
    win = int(0.04 * rate)
    estimates = []
    for start in range(0, len(audio) - win, win):
        x = audio[start : start + win]
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        x = x - x.mean()
        ac = np.correlate(x, x, "full")[win - 1 :]
        lo, hi = int(rate / 400), int(rate / 80)
        estimates.append(rate / (lo + np.argmax(ac[lo:hi])))
    return float(np.median(estimates))


@pytest.mark.parametrize("pitch", list(vocab.PITCHES))
def test_voice_pitch_matches_f0(pitch):
    result = render(_toy_scene(["lanamo", "lalo"], pitch=pitch), width=16, height=16, seed=3)
    assert _f0(result.clip.audio, 16000) == pytest.approx(vocab.PITCHES[pitch], rel=0.1)


def test_buzzy_voices_are_brighter_than_soft_ones():
    def high_share(timbre):
        audio = render(_toy_scene(["mamama"], timbre=timbre), width=16, height=16, seed=1).clip.audio
        spectrum = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1 / 16000)
        return spectrum[freqs > 1000].sum() / spectrum.sum()

    assert high_share("buzzy") > 1.5 * high_share("soft")


def test_toys_speak_in_turn():
    toys = [
        ToyFacts("red", "none", "dots", "low", "soft", "left", ["bala", "mo"]),
        ToyFacts("blue", "yellow", "sleepy", "high", "buzzy", "right", ["nitu"]),
    ]
    result = render(SceneFacts("stage", "quiet", toys=toys), width=64, height=36, seed=0)
    first, second = (t["syllables"] for t in result.truth["toys"])
    assert second[0]["start"] >= first[-1]["end"] + 0.3
    mouths = result.tracks["mouth"]
    assert not np.any((mouths[0] > 0) & (mouths[1] > 0))  # never both talking


@pytest.mark.parametrize("rate", [8000, 44100])
def test_speech_at_other_sample_rates(rate):
    result = render(_toy_scene(["dipu"]), width=16, height=16, seconds=1.5, sample_rate=rate, seed=0)
    audio = result.clip.audio
    assert np.isfinite(audio).all() and 0.05 < np.abs(audio).max() <= 1.0
    mouth = result.tracks["mouth"][0]
    env = _envelope_per_frame(audio, rate, 24.0, len(mouth))
    assert np.corrcoef(mouth, env)[0, 1] > 0.8


def test_character_card_shows_the_toy_and_carries_its_voice():
    from duetto.world.cards import character_card

    toy = ToyFacts("blue", "yellow", "sleepy", "high", "buzzy", "left")
    card = character_card(toy, width=96, height=96, seed=3)
    assert card.image.shape == (96, 96, 3) and card.audio.shape == (32000,)
    colours = {tuple(int(v) for v in px) for px in card.image.reshape(-1, 3)}
    assert vocab.COLOURS["blue"] in colours and vocab.COLOURS["yellow"] in colours
    assert np.abs(card.audio).max() > 0.05 and card.toy.position == "center" and card.toy.words
    assert _f0(card.audio, 16000) == pytest.approx(vocab.PITCHES["high"], rel=0.15)
    again = character_card(toy, width=96, height=96, seed=3)
    assert np.array_equal(again.audio, card.audio) and np.array_equal(again.image, card.image)
