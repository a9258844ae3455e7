"""verify_clip: every signal together, for a file made here and for one that was not."""

from __future__ import annotations

import json
from pathlib import Path

from duetto.clip import Clip
from duetto.media import mp4_bytes, write_mp4
from duetto.provenance import (
    FingerprintIndex,
    embed_audio_mark,
    embed_video_mark,
    ensure_signing_identity,
    fingerprint,
    sign_mp4,
    stamp_visible,
    verify_clip,
)
from duetto.provenance.attacks import h264_crf, scale_frames
from tests.provenance.clips import KEY, toybox


def make_here(seed: int, clip_number: int, path: Path) -> Clip:
    """The export path: visible badge first, then both invisible marks, then the MP4 and its credentials."""
    clip = stamp_visible(toybox(seed, seconds=4.0, ambience="wind"), instance="duetto.example", handle="ann")
    clip = Clip(frames=embed_video_mark(clip.frames, clip_number, KEY),
                audio=embed_audio_mark(clip.audio, clip.sample_rate, clip_number, KEY), fps=clip.fps,
                sample_rate=clip.sample_rate)
    write_mp4(clip, path)
    return clip


def test_a_signed_marked_export_is_recognised_on_every_count(tmp_path: Path) -> None:
    identity = ensure_signing_identity(tmp_path / "pki")
    clip = make_here(31, 9001, tmp_path / "clip.mp4")
    sign_mp4(tmp_path / "clip.mp4", tmp_path / "clip.mp4", identity=identity, clip_id="vid_9001",
             model="toybox-v1", model_version="1.0")
    index = FingerprintIndex()
    index.add("vid_9001", fingerprint(clip))
    index.add("vid_other", fingerprint(toybox(32, seconds=4.0)))
    result = verify_clip(tmp_path / "clip.mp4", key=KEY, index=index, trust=identity.root)
    assert result.made_here and result.signed_here
    assert result.video.payload == 9001 and result.audio.payload == 9001
    assert result.match[0] == "vid_9001"
    report = json.loads(json.dumps(result.to_dict()))
    assert report["credentials"]["manifest"]["clip"]["clip_id"] == "vid_9001"
    assert report["video_mark"]["payload"] == 9001 and report["match"]["key"] == "vid_9001"


def test_a_stripped_reencoded_copy_is_still_traced(tmp_path: Path) -> None:
    clip = make_here(33, 77, tmp_path / "clip.mp4")
    copy = Clip(frames=h264_crf(scale_frames(clip.frames, 0.5), clip.fps, 20), audio=clip.audio, fps=clip.fps,
                sample_rate=clip.sample_rate)
    index = FingerprintIndex()
    index.add("vid_77", fingerprint(clip))
    result = verify_clip(mp4_bytes(copy), key=KEY, index=index)
    assert result.credentials is None and not result.signed_here  # re-encoding dropped the manifest
    assert result.made_here and result.audio.payload == 77 and result.match[0] == "vid_77"
    # Two more encodes at 64x64 weaken the video mark: its bits still decode, CRC and all, as a lead.
    assert result.video.crc_ok and result.video.guess == 77 and result.video.bit_accuracy_vs(77) == 1.0
    assert result.to_dict()["video_mark"]["guess"] == 77


def test_a_clip_from_elsewhere_is_not_claimed(tmp_path: Path) -> None:
    index = FingerprintIndex()
    index.add("vid_1", fingerprint(toybox(34, seconds=3.0)))
    result = verify_clip(toybox(35, seconds=3.0), key=KEY, index=index)
    assert not result.made_here and result.match is None
    assert not result.video.found and not result.audio.found and result.credentials is None
