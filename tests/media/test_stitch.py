"""Stitching shots: the length is the sum less the overlaps, the picture cuts where the later shot's own time
starts, and the sound has no step at any cut, with or without an overlap."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.clip import Clip
from duetto.media.stitch import stitch, stitched_frames

FPS, RATE = 24.0, 16000


def tone(frames: int, freq: float, phase: float, *, level: int) -> Clip:
    t = np.arange(round(frames / FPS * RATE)) / RATE
    picture = np.full((frames, 8, 8, 3), level, np.uint8)
    return Clip(frames=picture, audio=(0.5 * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32), fps=FPS,
                sample_rate=RATE)


def largest_jump_near(audio: np.ndarray, cut: int, window_s: float = 0.1) -> tuple[float, float]:
    """(the jump across the cut, the largest jump within `window_s` around it, the cut's own left out)."""
    jumps = np.abs(np.diff(audio))
    half = round(window_s / 2 * RATE)
    around = np.concatenate([jumps[cut - half:cut - 1], jumps[cut:cut + half]])
    return float(jumps[cut - 1]), float(around.max())


def test_overlapping_shots_join_without_a_step_and_last_the_sum_less_the_overlaps() -> None:
    # Shots 2 and 3 start with 25 frames standing for the end of the shot before, with a sound that is not the
    # same wave (a different phase and pitch): a plain butt join would step by up to a whole amplitude.
    shots = [tone(49, 220, 0.0, level=10), tone(73, 330, 1.3, level=20), tone(73, 440, 2.1, level=30)]
    overlaps = [0, 25, 25]
    joined = stitch(shots, overlaps)
    assert joined.num_frames == stitched_frames([49, 73, 73], overlaps) == 49 + 48 + 48
    assert joined.num_samples == round(joined.num_frames / FPS * RATE)
    # The picture: each shot up to the cut, then the next one's own frames.
    assert (joined.frames[:49] == 10).all() and (joined.frames[49:97] == 20).all() and (joined.frames[97:] == 30).all()
    for cut_frame in (49, 97):
        cut = round(cut_frame / FPS * RATE)
        at_cut, nearby = largest_jump_near(joined.audio, cut)
        assert at_cut <= nearby, (cut_frame, at_cut, nearby)
    # After the cut the sound is the later shot's own.
    cut = round(49 / FPS * RATE)
    own = shots[1].audio[round(25 / FPS * RATE):]
    np.testing.assert_allclose(joined.audio[cut:cut + 1000], own[:1000], atol=1e-6)


def test_a_fresh_start_fades_instead_of_clicking() -> None:
    shots = [tone(48, 220, 0.4, level=10), tone(48, 300, 2.0, level=20)]
    joined = stitch(shots, [0, 0])
    assert joined.num_frames == 96
    at_cut, nearby = largest_jump_near(joined.audio, round(48 / FPS * RATE))
    assert at_cut <= nearby


def test_mismatched_shots_are_refused_with_what_to_do() -> None:
    small = tone(24, 220, 0, level=1)
    other = Clip(frames=np.zeros((24, 4, 4, 3), np.uint8), audio=small.audio, fps=FPS, sample_rate=RATE)
    with pytest.raises(ValueError, match="make every shot the same way"):
        stitch([small, other], [0, 0])
    with pytest.raises(ValueError, match="shorter than"):
        stitch([small, small], [0, 24])
