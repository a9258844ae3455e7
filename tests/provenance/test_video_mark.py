"""The invisible video mark: invisible enough, found after export, rescaling, trimming and heavy re-encoding."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.media import mp4_bytes, read_mp4
from duetto.provenance import detect_video_mark, embed_video_mark
from duetto.provenance.attacks import h264_crf, h264_fraction, scale_frames, trim_clip
from tests.provenance.clips import KEY, psnr, toybox

PAYLOAD = 0x5EED1234


@pytest.fixture(scope="module")
def marked():
    clip = toybox(3, seconds=4.0)
    clip.frames = embed_video_mark(clip.frames, PAYLOAD, KEY)
    return clip


def test_mark_is_invisible_by_psnr_and_read_back_exactly(marked) -> None:
    original = toybox(3, seconds=4.0).frames
    assert psnr(marked.frames, original) >= 38.0
    assert np.abs(marked.frames.astype(int) - original).max() <= 12  # smooth, small changes only
    found = detect_video_mark(marked.frames, KEY)
    assert found.found and found.payload == PAYLOAD and found.false_alarm < 1e-12


def test_other_keys_and_unmarked_frames_find_nothing(marked) -> None:
    assert not detect_video_mark(marked.frames, b"another instance").found
    unmarked = detect_video_mark(toybox(3, seconds=4.0).frames, KEY)
    assert not unmarked.found and unmarked.payload is None


def test_export_then_half_size_then_trim_keep_the_mark(marked) -> None:
    export = read_mp4(mp4_bytes(marked))
    assert detect_video_mark(export.frames, KEY).payload == PAYLOAD
    half = scale_frames(export.frames, 0.5)
    assert half.shape[1:3] == (64, 64)
    assert detect_video_mark(half, KEY).payload == PAYLOAD
    for start in (0.0, 0.77, 1.9):
        excerpt = trim_clip(export, start, 2.0)
        assert detect_video_mark(excerpt.frames, KEY).payload == PAYLOAD


def test_heavier_h264_keeps_most_bits(marked) -> None:
    found = detect_video_mark(h264_crf(marked.frames, marked.fps, 30), KEY)
    assert found.bit_accuracy_vs(PAYLOAD) >= 0.95


def test_quarter_bitrate_reencode_at_256px() -> None:
    # At 128x128 a quarter of the export's bitrate is below x264's floor (headers dominate); see the docs.
    clip = toybox(5, size=256, seconds=2.0, noise=1.0)
    frames = embed_video_mark(clip.frames, PAYLOAD, KEY)
    attacked, info = h264_fraction(frames, clip.fps, 0.25)
    assert info["reached"] and info["bps"] <= 0.25 * info["source_bps"]
    assert detect_video_mark(attacked, KEY).bit_accuracy_vs(PAYLOAD) >= 0.95


def test_frames_near_black_and_white_still_carry_the_mark() -> None:
    clip = toybox(8, seconds=1.0)
    frames = clip.frames.copy()
    frames[:, :, :64] = 255  # half the picture saturated: the mark must go elsewhere
    frames[:, :32] = 0
    marked = embed_video_mark(frames, PAYLOAD, KEY)
    assert detect_video_mark(marked, KEY).payload == PAYLOAD


@pytest.mark.slow
def test_no_false_detection_on_100_unmarked_clips() -> None:
    hits = [detect_video_mark(toybox(1000 + i, size=64, seconds=1.0, noise=1.0).frames, KEY).found for i in range(100)]
    assert sum(hits) == 0


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="uint8"):
        embed_video_mark(np.zeros((2, 32, 32, 3), np.float32), 1, KEY)
    with pytest.raises(ValueError, match="at least"):
        detect_video_mark(np.zeros((2, 8, 8, 3), np.uint8), KEY)
    with pytest.raises(ValueError, match="payload"):
        embed_video_mark(np.zeros((2, 32, 32, 3), np.uint8), -5, KEY)
