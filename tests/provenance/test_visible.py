"""The visible badge: drawn where `visible_mark_region` says, translucent, and touring all four corners."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.clip import Clip
from duetto.provenance import stamp_visible, visible_mark_region
from duetto.provenance.visible import DWELL_SECONDS, GLIDE_SECONDS
from tests.provenance.clips import toybox


def flat_clip(height: int = 240, width: int = 320, seconds: float = 8.0, fps: float = 24.0) -> Clip:
    frames = np.full((round(seconds * fps), height, width, 3), (90, 140, 200), np.uint8)
    return Clip(frames=frames, audio=np.zeros(16000, np.float32), fps=fps, sample_rate=16000)


def test_badge_changes_its_region_and_nothing_else() -> None:
    clip = flat_clip()
    stamped = stamp_visible(clip, instance="duetto.example", handle="alice")
    for index in (0, 40, 50, 100, 150):
        x, y, w, h = visible_mark_region(clip.frames.shape, index, fps=clip.fps)
        changed = np.any(stamped.frames[index] != clip.frames[index], axis=-1)
        inside = np.zeros_like(changed)
        inside[y:y + h, x:x + w] = True
        assert not changed[~inside].any()
        assert changed[inside].mean() > 0.5  # the backing darkens the whole box
        region = stamped.frames[index, y:y + h, x:x + w].astype(int)
        # Translucent: the backdrop still shows through, and the text is lighter than the backing.
        assert (region.max(axis=(0, 1)) > 200).any() and region.min() > 20
    assert np.array_equal(stamped.audio, clip.audio) and stamped.metadata["visible_mark"] == "duetto.example · @alice"


def test_badge_tours_all_four_corners_within_the_frame() -> None:
    shape = (400, 360, 640, 3)
    fps = 24.0
    leg = round((DWELL_SECONDS + GLIDE_SECONDS) * fps)
    spots = [visible_mark_region(shape, k * leg + 1, fps=fps) for k in range(4)]
    xs, ys = {x for x, *_ in spots}, {y for _, y, *_ in spots}
    assert len(xs) == 2 and len(ys) == 2 and len(set(spots)) == 4
    for index in range(shape[0]):
        x, y, w, h = visible_mark_region(shape, index, fps=fps)
        assert 0 <= x and x + w <= shape[2] and 0 <= y and y + h <= shape[1]
    # It moves smoothly: never more than a small step between frames.
    path = np.array([visible_mark_region(shape, i, fps=fps)[:2] for i in range(shape[0])])
    assert np.abs(np.diff(path, axis=0)).max() <= 0.1 * shape[2]


def test_no_crop_to_a_quadrant_removes_it_for_the_whole_clip() -> None:
    shape, fps = (200, 256, 256, 3), 24.0
    boxes = [visible_mark_region(shape, i, fps=fps) for i in range(shape[0])]
    for left, top in ((0, 0), (128, 0), (0, 128), (128, 128)):
        # Some frames put at least half of the badge inside whichever quarter of the picture is kept.
        def overlap(box: tuple[int, int, int, int], left: int = left, top: int = top) -> float:
            x, y, w, h = box
            ox = max(0, min(x + w, left + 128) - max(x, left))
            oy = max(0, min(y + h, top + 128) - max(y, top))
            return ox * oy / (w * h)
        assert max(overlap(box) for box in boxes) >= 0.5


def test_small_frames_and_long_names_still_fit() -> None:
    clip = toybox(1, size=64, seconds=1.0)
    stamped = stamp_visible(clip, instance="a-very-long-instance-name.example.org", handle="@someone_with_a_long_handle")
    x, y, w, h = visible_mark_region(clip.frames.shape, 0, fps=clip.fps)
    assert w <= 64 and h >= 10
    assert not np.array_equal(stamped.frames[0, y:y + h, x:x + w], clip.frames[0, y:y + h, x:x + w])


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="instance"):
        stamp_visible(flat_clip(seconds=0.5), instance=" ", handle="x")
    with pytest.raises(ValueError, match="16x16"):
        visible_mark_region((1, 8, 8, 3), 0)
    with pytest.raises(ValueError, match="fps"):
        visible_mark_region((1, 64, 64, 3), 0, fps=0)
