"""Frames follow the spec's conventions: exact colours, the floor line, round objects at any aspect, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from duetto.world import draw, vocab
from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts
from duetto.world.render import render
from duetto.world.sample import random_scene


def _ball(colour="red", motion="rests", position="center", size="big", **kw) -> ObjectFacts:
    return ObjectFacts("ball", colour, size, "rubber", motion, position, **kw)


def _mask(frame: np.ndarray, rgb) -> np.ndarray:
    return np.all(frame == np.array(rgb, dtype=np.uint8), axis=-1)


@pytest.mark.parametrize("height", [128, 90, 37, 240])
def test_floor_line_at_080_of_height(height):
    for setting, backdrop in vocab.SETTINGS.items():
        frame = render(SceneFacts(setting, "quiet"), width=40, height=height, seconds=0.1).clip.frames[0]
        first_floor_row = math.ceil(0.80 * height - 0.5)  # first row whose centre lies at or below y = 0.80
        assert np.all(frame[:first_floor_row] == backdrop.wall)
        assert np.all(frame[first_floor_row:] == backdrop.floor)


def test_objects_have_their_exact_colours_and_sit_on_the_floor():
    objects = [_ball(c, position=p) for c, p in zip(["red", "blue", "yellow"], vocab.POSITIONS, strict=True)]
    result = render(SceneFacts("room", "quiet", objects), width=200, height=100, seconds=0.2)
    frame = result.clip.frames[0]
    allowed = {vocab.SETTINGS["room"].wall, vocab.SETTINGS["room"].floor} | {
        vocab.COLOURS[o.colour] for o in objects
    }
    assert {tuple(int(v) for v in px) for px in frame.reshape(-1, 3)} == allowed
    for obj, truth in zip(result.scene.facts.objects, result.truth["objects"], strict=True):
        rows, cols = np.nonzero(_mask(frame, vocab.COLOURS[obj.colour]))
        # The lowest row of the ball is the last row above the floor line.
        assert rows.max() == math.ceil(0.80 * 100 - 0.5) - 1
        assert abs((cols.mean() + 0.5) / 200 - truth["start_x"]) < 1.0 / 200
        assert abs(truth["start_x"] - vocab.POSITIONS[obj.position]) <= vocab.POSITION_JITTER


@pytest.mark.parametrize(("width", "height"), [(128, 128), (320, 180), (90, 160), (64, 200)])
def test_balls_stay_round_and_sizes_scale_with_height(width, height):
    for size, radius in vocab.SIZES.items():
        frame = render(
            SceneFacts("stage", "quiet", [_ball(size=size)]), width=width, height=height, seconds=0.1
        ).clip.frames[0]
        rows, cols = np.nonzero(_mask(frame, vocab.COLOURS["red"]))
        diameter = 2 * radius * height
        assert abs((rows.max() - rows.min() + 1) - diameter) <= 1.5
        assert abs((cols.max() - cols.min() + 1) - diameter) <= 1.5
        assert abs(len(rows) - math.pi * (diameter / 2) ** 2) / len(rows) < 0.15


def test_boxes_are_squares():
    box = ObjectFacts("box", "green", "big", "wood", "rests", "left")
    frame = render(SceneFacts("night", "quiet", [box]), width=300, height=150, seconds=0.1).clip.frames[0]
    rows, cols = np.nonzero(_mask(frame, vocab.COLOURS["green"]))
    side = 2 * 0.09 * 150
    assert abs((rows.max() - rows.min() + 1) - side) <= 1 and abs((cols.max() - cols.min() + 1) - side) <= 1
    assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


def test_toy_parts_have_their_colours():
    toy = ToyFacts("yellow", "purple", "wide", "mid", "soft", "center", ["ba"])
    result = render(SceneFacts("room", "quiet", toys=[toy]), width=160, height=160, seconds=1.0)
    frames = result.clip.frames
    head = _mask(frames[0], vocab.COLOURS["yellow"])
    rows, cols = np.nonzero(head)
    assert rows.max() == math.ceil(0.80 * 160 - 0.5) - 1  # the head stands on the floor
    assert abs((cols.max() - cols.min() + 1) - 2 * vocab.TOY_HEAD_RADIUS * 160) <= 1.5
    hat_rows = np.nonzero(_mask(frames[0], vocab.COLOURS["purple"]))[0]
    assert hat_rows.max() < rows.min() + 0.05 * 160  # the hat sits on top of the head
    assert _mask(frames[0], draw.EYE_WHITE).sum() > 0  # wide eyes have whites
    mouth_px = _mask(frames, draw.MOUTH).sum(axis=(1, 2))
    assert mouth_px.min() > 0  # a closed mouth still shows as a line
    assert mouth_px.max() > 4 * mouth_px.min()  # and opens when the toy speaks


def test_same_seed_same_clip_bit_for_bit_and_other_seeds_differ():
    facts = random_scene(np.random.default_rng(2))
    a = render(facts, seed=4, width=64, height=48, seconds=1.5)
    b = render(facts, seed=4, width=64, height=48, seconds=1.5)
    c = render(facts, seed=5, width=64, height=48, seconds=1.5)
    assert a.clip.frames.tobytes() == b.clip.frames.tobytes()
    assert a.clip.audio.tobytes() == b.clip.audio.tobytes()
    assert a.truth == b.truth
    assert a.clip.audio.tobytes() != c.clip.audio.tobytes()


@pytest.mark.parametrize(
    ("width", "height", "fps", "seconds", "rate"),
    [
        (128, 128, 24.0, 4.0, 16000),
        (320, 180, 30.0, 2.0, 44100),
        (90, 160, 12.5, 1.3, 8000),
        (48, 48, 60.0, 0.5, 22050),
    ],
)
def test_any_size_frame_rate_duration_and_sample_rate(width, height, fps, seconds, rate):
    result = render(
        random_scene(np.random.default_rng(7)),
        width=width,
        height=height,
        fps=fps,
        seconds=seconds,
        sample_rate=rate,
    )
    clip = result.clip
    assert clip.frames.shape == (round(seconds * fps), height, width, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (round(seconds * rate),) and clip.audio.dtype == np.float32
    assert clip.fps == fps and clip.sample_rate == rate
    assert np.abs(clip.audio).max() <= 1.0
    assert all(0 <= e["time"] < seconds for e in result.truth["events"])


def test_sensor_noise_is_bounded_and_off_by_default():
    facts = SceneFacts("field", "quiet", [_ball("red")])
    clean = render(facts, width=64, height=64, seconds=0.5).clip.frames.astype(int)
    noisy = render(facts, width=64, height=64, seconds=0.5, noise=3.0).clip.frames.astype(int)
    diff = noisy - clean
    assert 2.0 < diff.std() < 3.5
    with pytest.raises(ValueError, match="noise"):
        render(facts, noise=10)


@pytest.mark.parametrize("bad", [{"width": 2}, {"fps": 0}, {"seconds": -1}, {"sample_rate": 100}])
def test_bad_render_parameters_raise_value_error(bad):
    with pytest.raises(ValueError):
        render(SceneFacts("room", "quiet"), **bad)


def test_object_track_matches_the_frames():
    facts = SceneFacts("room", "quiet", [_ball("blue", "bounces", size="small")])
    result = render(facts, width=100, height=200, fps=50, seconds=2.0)
    track = result.tracks["object_xy"][0]
    for i in range(0, 100, 7):
        rows, cols = np.nonzero(_mask(result.clip.frames[i], vocab.COLOURS["blue"]))
        assert abs((rows.mean() + 0.5) / 200 - track[i, 1]) < 1.0 / 200
        assert abs((cols.mean() + 0.5) / 100 - track[i, 0]) < 1.0 / 100
