"""Reading a drawn toy: head found by colour, hat and eyes named, mouth opening tracked frame by frame."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.bench.faces import read_face
from duetto.bench.vision import EYE_BLACK, EYE_WHITE, MOUTH, label_pixels, scene_palette
from duetto.world import vocab
from duetto.world.facts import ToyFacts
from tests.bench.synth import canvas, degrade


def _ellipse(frame: np.ndarray, cx: float, cy: float, rx: float, ry: float, colour) -> None:
    size = frame.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    inside = (((xx + 0.5) / size - cx) / rx) ** 2 + (((yy + 0.5) / size - cy) / ry) ** 2 <= 1
    frame[inside] = colour


def draw_toy(frames: np.ndarray, toy: ToyFacts, opening: np.ndarray) -> None:
    x, r = vocab.POSITIONS[toy.position], vocab.TOY_HEAD_RADIUS
    y = vocab.FLOOR_Y - r
    for k, frame in enumerate(frames):
        _ellipse(frame, x, y, r, r, vocab.COLOURS[toy.head_colour])
        if toy.hat != "none":
            frame[int((y - r - 0.08) * 128) : int((y - r + 0.02) * 128), int((x - 0.1) * 128) : int((x + 0.1) * 128)] = (
                vocab.COLOURS[toy.hat])
        for side in (-1, 1):
            if toy.eyes == "wide":
                _ellipse(frame, x + side * 0.06, y - 0.04, 0.038, 0.038, EYE_WHITE)
                _ellipse(frame, x + side * 0.06, y - 0.04, 0.016, 0.016, EYE_BLACK)
            elif toy.eyes == "dots":
                _ellipse(frame, x + side * 0.06, y - 0.04, 0.018, 0.018, EYE_BLACK)
            else:
                _ellipse(frame, x + side * 0.06, y - 0.04, 0.035, 0.006, EYE_BLACK)
        _ellipse(frame, x, y + 0.06, 0.055, max(0.045 * opening[k], 0.004), MOUTH)


@pytest.mark.parametrize("hat,eyes", [("yellow", "wide"), ("none", "dots"), ("blue", "sleepy")])
def test_face_hat_eyes_and_mouth_are_read(hat: str, eyes: str) -> None:
    toy = ToyFacts("red", hat, eyes, "mid", "soft", "center", ["ba"])
    opening = np.clip(np.sin(np.linspace(0, 6 * np.pi, 48)), 0, 1)
    frames = canvas(48, wall=vocab.SETTINGS["room"].wall, floor=vocab.SETTINGS["room"].floor)
    draw_toy(frames, toy, opening)
    palette = scene_palette("room")
    # Thin features (a 1.5-pixel eyelid) do not survive a blur, so the face gets shifted, noisy colours only.
    frames = degrade(frames, np.random.default_rng(0), shift=10, noise=3.0, blur=False)
    face = read_face(label_pixels(frames, palette), palette, toy)
    assert face.found
    assert face.radius == pytest.approx(vocab.TOY_HEAD_RADIUS, rel=0.1)
    assert face.hat == hat
    assert face.eyes == eyes
    assert np.corrcoef(face.mouth, opening)[0, 1] > 0.95
    assert np.mean(face.speaking() == (opening > 0.3)) > 0.85


def test_a_missing_toy_is_not_found() -> None:
    toy = ToyFacts("green", "none", "dots", "low", "buzzy", "left", ["ma"])
    palette = scene_palette("night")
    face = read_face(label_pixels(canvas(4, wall=vocab.SETTINGS["night"].wall), palette), palette, toy)
    assert not face.found and face.mouth is None
