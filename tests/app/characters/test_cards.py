"""Toy character cards: the still shows the chosen head colour and the voice sample has the chosen pitch."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from duetto.app.characters.cards import check_identity, render_card
from duetto.app.core.errors import InvalidRequest
from duetto.bench.sound import pitch_track
from duetto.world import vocab


def colour_share(png: bytes, colour: str) -> float:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    distance = np.linalg.norm(pixels - np.array(vocab.COLOURS[colour], dtype=float), axis=-1)
    return float((distance < 30).mean())


@pytest.mark.parametrize("head, hat", [("green", "none"), ("red", "white"), ("yellow", "purple")])
def test_the_still_shows_the_chosen_head_colour(head: str, hat: str) -> None:
    card = render_card(check_identity({"head_colour": head, "hat": hat, "eyes": "dots", "pitch": "mid",
                                       "timbre": "soft"}))
    assert Image.open(io.BytesIO(card.still_png)).format == "PNG"
    # The head is a disc of radius 0.16 H: about 8% of a square canvas, less the eyes and mouth.
    assert colour_share(card.still_png, head) > 0.05
    others = [c for c in vocab.COLOURS if c not in (head, hat)]
    assert all(colour_share(card.still_png, c) < 0.005 for c in others)


@pytest.mark.parametrize("pitch", ["low", "mid", "high"])
def test_the_voice_sample_lasts_two_seconds_at_the_chosen_pitch(pitch: str) -> None:
    card = render_card(check_identity({"head_colour": "blue", "hat": "none", "eyes": "wide", "pitch": pitch,
                                       "timbre": "buzzy"}))
    audio, rate = sf.read(io.BytesIO(card.voice_wav), dtype="float32")
    assert rate == 16000 and len(audio) == pytest.approx(2 * rate, abs=rate // 50)
    f0, _ = pitch_track(audio)
    voiced = f0[~np.isnan(f0)]
    assert len(voiced) > 20
    assert np.median(voiced) == pytest.approx(vocab.PITCHES[pitch], rel=0.08)


def test_an_identity_outside_the_vocabulary_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidRequest, match="Unknown head colour 'pink'; use one of: red"):
        check_identity({"head_colour": "pink", "hat": "none", "eyes": "dots", "pitch": "low", "timbre": "soft"})
    with pytest.raises(InvalidRequest, match="hat must differ from its red head"):
        check_identity({"head_colour": "red", "hat": "red", "eyes": "dots", "pitch": "low", "timbre": "soft"})
    with pytest.raises(InvalidRequest, match="Choose the toy's eyes"):
        check_identity({"head_colour": "red", "hat": "none", "pitch": "low", "timbre": "soft"})
