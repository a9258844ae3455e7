"""Colour tracks and motion reading on drawn frames: attributes, sub-frame impacts, wall stops, motion classes."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.bench.motion import classify_motion, floor_motion, wall_stop
from duetto.bench.vision import UNLABELLED, blob_shape, label_pixels, scene_palette, track_colour
from duetto.world import vocab
from tests.bench.synth import canvas, degrade, draw

FPS, G = 24.0, vocab.GRAVITY


def bounce_heights(t: np.ndarray, drop: float, e: float) -> tuple[np.ndarray, list[float]]:
    """Height of the lowest point above the floor for a drop from rest at t=0, and the contact times."""
    t_hit = np.sqrt(2 * drop / G)
    h = np.where(t < t_hit, drop - 0.5 * G * t**2, 0.0)
    contacts, v = [t_hit], G * t_hit
    while (e * v) ** 2 / (2 * G) >= vocab.MIN_BOUNCE_HEIGHT:
        v = e * v
        following = t_hit + 2 * v / G
        arc = (t >= t_hit) & (t < following)
        tau = t[arc] - t_hit
        h[arc] = v * tau - 0.5 * G * tau**2
        t_hit = following
        contacts.append(t_hit)
    return np.maximum(h, 0.0), contacts


def test_labels_survive_blur_noise_and_colour_shift() -> None:
    frames = canvas(2)
    draw(frames, 0, "ball", 0.3, 0.5, 0.09, vocab.COLOURS["blue"])
    draw(frames, 0, "box", 0.7, 0.5, 0.09, vocab.COLOURS["purple"])
    labels = label_pixels(degrade(frames, np.random.default_rng(0)), scene_palette("room"))
    palette = scene_palette("room")
    assert labels[0, 64, 38] == palette.index("blue")
    assert labels[0, 64, 90] == palette.index("purple")
    assert labels[0, 10, 10] == palette.index("wall")
    assert labels[0, 120, 10] == palette.index("floor")
    odd = np.full((1, 4, 4, 3), (0, 255, 255), np.uint8)  # cyan is nowhere in the palette
    assert np.all(label_pixels(odd, palette) == UNLABELLED)


@pytest.mark.parametrize("shape,size", [("ball", "small"), ("ball", "big"), ("box", "small"), ("box", "big")])
def test_blob_shape_reads_shape_and_size_from_degraded_frames(shape: str, size: str) -> None:
    frames = canvas(3)
    for k in range(3):
        draw(frames, k, shape, 0.3 + 0.1 * k, 0.5, vocab.SIZES[size], vocab.COLOURS["red"])
    palette = scene_palette("room")
    track = track_colour(label_pixels(degrade(frames, np.random.default_rng(1)), palette), palette.index("red"))
    look = blob_shape(track, 128)
    assert (look.shape, look.size) == (shape, size)
    assert look.radius == pytest.approx(vocab.SIZES[size], rel=0.15)
    assert track.cx[2] - track.cx[0] == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize("shape,drop,e", [("ball", 0.35, 0.75), ("box", 0.5, 0.55), ("ball", 0.2, 0.45)])
def test_floor_contacts_are_found_to_a_few_ms_from_pixels(shape: str, drop: float, e: float) -> None:
    t = np.arange(96) / FPS
    r = 0.05
    h, contacts = bounce_heights(t, drop, e)
    frames = canvas(len(t))
    for k in range(len(t)):
        draw(frames, k, shape, 0.5, vocab.FLOOR_Y - r - h[k], r, vocab.COLOURS["green"])
    palette = scene_palette("stage")
    track = track_colour(label_pixels(frames, palette), palette.index("green"))
    look = blob_shape(track, 128)
    found = floor_motion(t, vocab.FLOOR_Y - (track.cy + look.radius))
    times = np.array([c.time for c in found.contacts])
    expected = np.array([c for c in contacts if c < t[-1]])
    assert len(times) == len(expected)
    errors = np.abs(times - expected)
    assert np.median(errors) < 0.004 and np.max(errors) < 1 / FPS
    assert [c.rebounds for c in found.contacts][:-1] == [True] * (len(expected) - 1)
    assert found.arc_residual is not None and found.arc_residual < 0.003
    assert np.all(np.diff(found.apex_heights) < 0)


def test_wall_stop_is_timed_from_the_decelerating_approach() -> None:
    t = np.arange(96) / FPS
    x0, v0, decel, wall = 0.6, 0.6, 0.2, 0.95
    stop = (v0 - np.sqrt(v0**2 - 2 * decel * (wall - x0))) / decel
    tt = np.minimum(t, stop)
    edge = x0 + v0 * tt - 0.5 * decel * tt**2
    edge = np.round(edge * 128) / 128  # pixel-quantised like a flat-coloured render
    found = wall_stop(t, edge)
    assert found is not None
    assert found[0] == pytest.approx(stop, abs=0.01)
    assert found[1] == pytest.approx(v0 - decel * stop, rel=0.2)


def test_motion_classes() -> None:
    t = np.arange(96) / FPS
    rest = np.zeros_like(t)
    h, _ = bounce_heights(t, 0.3, 0.6)
    fall = np.maximum(0.3 - 0.5 * G * t**2, 0.0)
    roll_x = 0.2 + 0.3 * t
    slide_x = 0.3 + 0.5 * np.minimum(t, 1.2) - 0.1 * np.minimum(t, 1.2) ** 2  # stops at a wall at 1.2 s
    assert classify_motion(t, np.full_like(t, 0.5), h) == "bounces"
    assert classify_motion(t, np.full_like(t, 0.5), fall) == "falls"
    assert classify_motion(t, roll_x, rest) == "rolls"
    assert classify_motion(t, slide_x, rest) == "slides"
    assert classify_motion(t, np.full_like(t, 0.5), rest) == "rests"
    assert classify_motion(t, np.full_like(t, np.nan), rest) == "unseen"
