"""MP4 round trips through real H.264/AAC codecs: streams, timing, pixels, clicks, fast start, failures."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import duetto.media.mp4 as mp4_module
from duetto.clip import Clip
from duetto.media import (
    exact_rate,
    mp4_boxes,
    mp4_bytes,
    probe_mp4,
    read_mp4,
    write_mp4,
)
from tests.media.synth import CLICK_SECONDS, click_positions, psnr, synthetic_clip


@pytest.mark.parametrize("fps", [24.0, 30000 / 1001])
def test_round_trip_keeps_streams_timing_pixels_and_clicks(tmp_path: Path, fps: float) -> None:
    clip = synthetic_clip(fps=fps, num_frames=25)
    path = write_mp4(clip, tmp_path / "clip.mp4")

    info = probe_mp4(path)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    assert info["video"]["pix_fmt"] == "yuv420p"
    assert Fraction(info["video"]["fps_fraction"]) == exact_rate(fps)
    assert info["video"]["frames"] == 25
    assert abs(info["video"]["duration"] - 25 / fps) < 1e-6
    assert abs(info["audio"]["duration"] - info["video"]["duration"]) <= 1 / fps
    assert info["audio"]["sample_rate"] == 16000 and info["audio"]["channels"] == 1

    back = read_mp4(path)
    assert back.frames.shape == clip.frames.shape and back.frames.dtype == np.uint8
    assert exact_rate(back.fps) == exact_rate(fps)
    assert back.sample_rate == clip.sample_rate
    assert back.audio.dtype == np.float32 and back.audio.ndim == 1
    assert abs(back.audio_seconds - back.video_seconds) <= 1 / fps
    assert psnr(back.frames, clip.frames) >= 35
    expected = [t for t in CLICK_SECONDS if t < clip.audio_seconds]
    found = click_positions(back.audio, back.sample_rate, expected)
    assert np.max(np.abs(np.subtract(found, expected))) <= 0.002


def test_moov_box_comes_before_media_data(tmp_path: Path) -> None:
    path = write_mp4(synthetic_clip(num_frames=6), tmp_path / "fast.mp4")
    kinds = [kind for kind, _ in mp4_boxes(path)]
    assert kinds[0] == "ftyp"
    assert kinds.index("moov") < kinds.index("mdat")
    assert sum(size for _, size in mp4_boxes(path)) == path.stat().st_size
    assert probe_mp4(path)["faststart"] is True


def test_box_walker_reads_64_bit_sizes(tmp_path: Path) -> None:
    # ftyp (16 bytes), a 'free' box with a 64-bit size field (24 bytes), then mdat running to the end.
    data = struct.pack(">I4s8s", 16, b"ftyp", b"isom\0\0\0\0")
    data += struct.pack(">I4sQ", 1, b"free", 24) + b"\0" * 8
    data += struct.pack(">I4s", 0, b"mdat") + b"\1" * 5
    path = tmp_path / "boxes.bin"
    path.write_bytes(data)
    assert mp4_boxes(path) == [("ftyp", 16), ("free", 24), ("mdat", 13)]


def test_stereo_keeps_each_channel(tmp_path: Path) -> None:
    clip = synthetic_clip(channels=2, num_frames=24)
    back = read_mp4(write_mp4(clip, tmp_path / "stereo.mp4"))
    assert probe_mp4(tmp_path / "stereo.mp4")["audio"]["channels"] == 2
    assert back.audio.shape == (2, clip.num_samples)
    # Each decoded channel must match its own source (440 Hz left, 660 Hz right), not the other one.
    own = [np.corrcoef(back.audio[c], clip.audio[c])[0, 1] for c in range(2)]
    crossed = [np.corrcoef(back.audio[c], clip.audio[1 - c])[0, 1] for c in range(2)]
    assert min(own) > 0.95 and max(np.abs(crossed)) < 0.2


def test_odd_sizes_are_padded_by_repeating_the_edge(tmp_path: Path) -> None:
    clip = synthetic_clip(height=33, width=47, num_frames=8)
    back = read_mp4(write_mp4(clip, tmp_path / "odd.mp4"))
    assert back.frames.shape == (8, 34, 48, 3)
    assert psnr(back.frames[:, :33, :47], clip.frames) >= 35
    assert psnr(back.frames[:, 33, :47], clip.frames[:, 32]) >= 30
    assert psnr(back.frames[:, :33, 47], clip.frames[:, :, 46]) >= 30


def test_audio_is_fitted_to_the_video_length(tmp_path: Path) -> None:
    for seconds in (0.3, 2.5):  # shorter and longer than the 1 s of video
        clip = synthetic_clip(num_frames=24, audio_seconds=seconds)
        info = probe_mp4(write_mp4(clip, tmp_path / f"fit{seconds}.mp4"))
        assert abs(info["audio"]["duration"] - 1.0) <= 1 / 24


def test_rate_that_aac_lacks_is_resampled_to_48k(tmp_path: Path) -> None:
    clip = synthetic_clip(sample_rate=20000, num_frames=24)
    path = write_mp4(clip, tmp_path / "48k.mp4")
    assert probe_mp4(path)["audio"]["sample_rate"] == 48000
    back = read_mp4(path, sample_rate=20000)
    assert back.sample_rate == 20000 and back.num_samples == clip.num_samples
    found = click_positions(back.audio, 20000, list(CLICK_SECONDS))
    assert np.max(np.abs(np.subtract(found, CLICK_SECONDS))) <= 0.002


def test_audio_sample_rate_forces_the_aac_rate(tmp_path: Path) -> None:
    clip = synthetic_clip(num_frames=12)
    path = write_mp4(clip, tmp_path / "forced.mp4", audio_sample_rate=48000)
    assert probe_mp4(path)["audio"]["sample_rate"] == 48000
    assert read_mp4(path).sample_rate == 48000


def test_read_resamples_on_request(tmp_path: Path) -> None:
    path = write_mp4(synthetic_clip(num_frames=24), tmp_path / "clip.mp4")
    back = read_mp4(path, sample_rate=44100)
    assert back.sample_rate == 44100 and back.num_samples == 44100
    found = click_positions(back.audio, 44100, list(CLICK_SECONDS))
    assert np.max(np.abs(np.subtract(found, CLICK_SECONDS))) <= 0.002


def _foreign_mp4(path: Path, *, with_audio: bool) -> None:
    """An MP4 made without duetto: MPEG-4 Part 2 video at 25 fps, optionally MP3 stereo at 44.1 kHz."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("libmp3lame", rate=44100, layout="stereo") if with_audio else None
        for index in range(20):
            pixels = np.full((48, 64, 3), 10 * index, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            t = np.arange(44100 * 4 // 5) / 44100
            wave = np.stack([0.3 * np.sin(2 * np.pi * 300 * t)] * 2).astype(np.float32)
            for start in range(0, wave.shape[1], 1152):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, start:start + 1152]),
                                                   format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = 44100, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))


def test_reads_files_made_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "foreign.mp4"
    _foreign_mp4(path, with_audio=True)
    back = read_mp4(path, sample_rate=16000)
    assert back.frames.shape == (20, 48, 64, 3) and back.fps == 25.0
    assert back.sample_rate == 16000 and back.audio.shape == (2, round(20 / 25 * 16000))
    assert 0.15 < np.sqrt(np.mean(back.audio[:, 1000:-1000] ** 2)) < 0.25  # a 0.3-amplitude sine survives
    # Grey levels step by 10 per frame; the decoder must return them in order.
    assert np.all(np.diff(back.frames.mean(axis=(1, 2, 3))) > 5)


def test_file_without_audio_reads_as_silence(tmp_path: Path) -> None:
    path = tmp_path / "mute.mp4"
    _foreign_mp4(path, with_audio=False)
    assert probe_mp4(path)["audio"] is None
    back = read_mp4(path)
    assert back.num_frames == 20 and back.sample_rate == 16000
    assert back.audio.shape == (round(20 / 25 * 16000),) and not back.audio.any()
    assert read_mp4(path, sample_rate=22050).num_samples == round(20 / 25 * 22050)


def test_tags_round_trip_and_unknown_tags_are_refused(tmp_path: Path) -> None:
    path = write_mp4(synthetic_clip(num_frames=4), tmp_path / "tagged.mp4",
                     metadata={"title": "A duet", "comment": "seed 7"})
    assert read_mp4(path).metadata == {"title": "A duet", "comment": "seed 7"}
    assert probe_mp4(path)["tags"]["title"] == "A duet"
    with pytest.raises(ValueError, match="not supported"):
        write_mp4(synthetic_clip(num_frames=4), tmp_path / "bad.mp4", metadata={"prompt": "x"})


def test_bytes_match_a_readable_file() -> None:
    data = mp4_bytes(synthetic_clip(num_frames=6))
    assert data[4:8] == b"ftyp"
    assert read_mp4(data).num_frames == 6


def _assert_one_line(error: pytest.ExceptionInfo[ValueError]) -> None:
    message = str(error.value)
    assert message and "\n" not in message


def test_unwritable_path_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    clip = synthetic_clip(num_frames=4)
    with pytest.raises(ValueError, match="cannot write") as error:
        write_mp4(clip, tmp_path / "missing" / "clip.mp4")
    _assert_one_line(error)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="cannot write"):
        write_mp4(clip, blocker / "clip.mp4")
    with pytest.raises(ValueError, match="folder"):
        write_mp4(clip, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


class _BrokenFrames:
    """Frames that fail halfway through encoding, as a crash mid-write would."""

    def __init__(self, frames: np.ndarray) -> None:
        self.frames, self.shape = frames, frames.shape

    def __iter__(self):
        yield from self.frames[:3]
        raise RuntimeError("disk on fire")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"previous version")
    monkeypatch.setattr(mp4_module, "_even_frames", _BrokenFrames)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_mp4(synthetic_clip(num_frames=8), target)
    assert target.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_unreadable_inputs_raise_one_line_value_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all" * 10)
    for source in (junk, tmp_path / "absent.mp4", b"\0\1\2 garbage"):
        with pytest.raises(ValueError, match="cannot read") as error:
            read_mp4(source)
        _assert_one_line(error)
    with pytest.raises(ValueError, match="cannot read"):
        probe_mp4(junk)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    clip = synthetic_clip(num_frames=4)
    with pytest.raises(ValueError, match="crf"):
        write_mp4(clip, tmp_path / "x.mp4", crf=60)
    with pytest.raises(ValueError, match="audio_bitrate"):
        write_mp4(clip, tmp_path / "x.mp4", audio_bitrate="loud")
    with pytest.raises(ValueError, match="AAC rate"):
        write_mp4(clip, tmp_path / "x.mp4", audio_sample_rate=12345)
    empty = Clip(clip.frames[:0], clip.audio, clip.fps, clip.sample_rate)
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(empty, tmp_path / "x.mp4")
    surround = Clip(clip.frames, np.zeros((6, clip.num_samples), np.float32), clip.fps, clip.sample_rate)
    with pytest.raises(ValueError, match="mono or stereo"):
        write_mp4(surround, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fps", "expected"),
    [(24.0, Fraction(24)), (30000 / 1001, Fraction(30000, 1001)), (24000 / 1001, Fraction(24000, 1001)),
     (12.5, Fraction(25, 2)), (Fraction(60000, 1001), Fraction(60000, 1001))],
)
def test_exact_rate_recovers_common_fractions(fps: float, expected: Fraction) -> None:
    assert exact_rate(fps) == expected
