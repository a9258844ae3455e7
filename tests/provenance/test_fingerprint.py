"""Fingerprints: the same clip matches after re-encoding, rescaling and trimming; different clips do not."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.clip import Clip
from duetto.media import mp4_bytes, read_mp4
from duetto.provenance import MATCH_THRESHOLD, Fingerprint, FingerprintIndex, fingerprint, match
from duetto.provenance.attacks import h264_crf, reencode_audio, scale_frames, trim_clip
from duetto.provenance.fingerprint import match_details
from tests.provenance.clips import toybox


def copy_found_elsewhere(clip: Clip, start: float, seconds: float) -> Clip:
    """What a re-upload looks like: exported, re-encoded smaller at half size, audio as MP3, cut."""
    export = read_mp4(mp4_bytes(clip, metadata={"title": "original"}))
    frames = h264_crf(scale_frames(export.frames, 0.5), export.fps, 30)
    audio = reencode_audio(export.mono, export.sample_rate, "mp3", 64000)[:export.num_samples]
    copy = Clip(frames=frames, audio=audio, fps=export.fps, sample_rate=export.sample_rate)
    return trim_clip(copy, start, seconds)


@pytest.mark.parametrize("seed", [3, 11, 12])
def test_a_reencoded_rescaled_trimmed_copy_matches(seed: int) -> None:
    clip = toybox(seed, seconds=4.0)
    stored = fingerprint(clip)
    whole = copy_found_elsewhere(clip, 0.0, 4.0)
    excerpt = copy_found_elsewhere(clip, 1.13, 2.0)
    assert match(stored, fingerprint(whole, phases=4)) >= MATCH_THRESHOLD
    details = match_details(stored, fingerprint(excerpt, phases=4))
    assert details["score"] >= MATCH_THRESHOLD and details["video_distance"] < 3.5
    assert match(stored, stored) == pytest.approx(1.0)


@pytest.mark.slow
def test_100_different_clips_do_not_match_each_other() -> None:
    prints = [fingerprint(toybox(500 + i, seconds=3.0)) for i in range(100)]
    worst = max(match(prints[i], prints[j]) for i in range(100) for j in range(i + 1, 100))
    assert worst < MATCH_THRESHOLD


def test_bytes_and_json_round_trip_exactly() -> None:
    fp = fingerprint(toybox(4, seconds=2.0), phases=2)
    again = Fingerprint.from_bytes(fp.to_bytes())
    assert np.array_equal(again.video, fp.video) and np.array_equal(again.audio, fp.audio)
    assert np.array_equal(again.loud, fp.loud) and again.video.shape[0] == 2
    assert np.array_equal(Fingerprint.from_json(fp.to_json()).video, fp.video)
    assert len(fp.to_bytes()) < 6000  # 2 s, two phases: a few kilobytes
    with pytest.raises(ValueError, match="fingerprint"):
        Fingerprint.from_bytes(fp.to_bytes()[:-3])
    with pytest.raises(ValueError, match="fingerprint"):
        Fingerprint.from_bytes(b"JUNK" + fp.to_bytes()[4:])


def test_index_finds_the_original_among_many_and_survives_serialisation() -> None:
    index = FingerprintIndex()
    clips = {f"vid_{i}": toybox(300 + i, seconds=3.0) for i in range(30)}
    for key, clip in clips.items():
        index.add(key, fingerprint(clip))
    query = fingerprint(copy_found_elsewhere(clips["vid_17"], 0.6, 2.0), phases=4)
    restored = FingerprintIndex.from_bytes(index.to_bytes())
    for idx in (index, restored):
        hits = idx.search(query, top=3)
        assert hits[0][0] == "vid_17" and hits[0][1] >= MATCH_THRESHOLD
        assert all(score < MATCH_THRESHOLD for _, score in hits[1:])
        assert idx.best(query) == hits[0]
    index.remove("vid_17")
    assert "vid_17" not in index and len(index) == 29
    assert index.best(query) is None


def test_silent_clips_match_on_video_and_bad_keys_are_refused() -> None:
    clip = toybox(6, seconds=3.0)
    silent = Clip(frames=clip.frames, audio=np.zeros_like(clip.audio), fps=clip.fps, sample_rate=clip.sample_rate)
    details = match_details(fingerprint(silent), fingerprint(silent, phases=4))
    assert details["audio"] is None and details["score"] >= MATCH_THRESHOLD
    with pytest.raises(ValueError, match="key"):
        FingerprintIndex().add("", fingerprint(silent))
