"""The files a clip leaves as: enlarged by a whole factor when small, and a download's marks written after its badge."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.clip import Clip
from duetto.provenance import (
    MIN_SHARED_SIDE,
    detect_audio_mark,
    detect_video_mark,
    download_rendition,
    embed_marks,
    enlarge_for_sharing,
    stamp_visible,
)
from duetto.provenance.sharing import sharing_scale
from tests.provenance.clips import KEY, toybox


def test_small_clips_grow_by_a_whole_factor_and_large_ones_stay_as_they_are() -> None:
    assert [sharing_scale(h, w) for h, w in [(128, 128), (64, 96), (72, 128), (256, 256), (720, 1280)]] == [
        2, 4, 4, 1, 1]
    clip = toybox(1, size=64, seconds=1.0)
    big = enlarge_for_sharing(clip)
    assert big.frames.shape == (clip.num_frames, 256, 256, 3) and big.metadata["enlarged_from"] == "64x64"
    assert big.audio is clip.audio and big.fps == clip.fps
    # Lanczos keeps the picture: shrunk back, it is within a few levels of the original.
    from PIL import Image

    back = np.asarray(Image.fromarray(big.frames[0]).resize((64, 64), Image.Resampling.BOX))
    assert np.abs(back.astype(int) - clip.frames[0]).mean() < 3
    large = toybox(1, size=MIN_SHARED_SIDE, seconds=1.0)
    assert enlarge_for_sharing(large) is large
    with pytest.raises(ValueError, match="frame size must be positive"):
        sharing_scale(0, 10)


def test_a_badge_drawn_over_a_mark_erases_it_and_the_download_writes_it_again() -> None:
    clip = toybox(3, size=128, seconds=3.0, noise=1.0)
    stored = embed_marks(enlarge_for_sharing(clip), 1234567, KEY)
    assert detect_video_mark(stored.frames, KEY).payload == 1234567
    # Why the download marks last: the badge alone moves the low frequencies the mark lives in.
    badged = stamp_visible(stored, instance="duetto.example", handle="a_creator")
    assert not detect_video_mark(badged.frames, KEY).found
    download = download_rendition(stored, instance="duetto.example", handle="a_creator", payload=1234567, key=KEY)
    assert download.metadata["visible_mark"] == "duetto.example · @a_creator"
    assert detect_video_mark(download.frames, KEY).payload == 1234567
    assert detect_audio_mark(download.audio, download.sample_rate, KEY).payload == 1234567
    unmarked = download_rendition(clip, instance="duetto.example", handle="a_creator")
    assert unmarked.height == MIN_SHARED_SIDE and not detect_video_mark(unmarked.frames, KEY).found


def test_marks_skip_tracks_that_cannot_hold_them() -> None:
    silent = Clip(frames=np.full((24, 8, 8, 3), 90, np.uint8), audio=np.zeros(16000, np.float32), fps=24.0,
                  sample_rate=16000)
    marked = embed_marks(silent, 5, KEY)
    assert np.array_equal(marked.frames, np.full((24, 8, 8, 3), 90, np.uint8)) and not marked.audio.any()
