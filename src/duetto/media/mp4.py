"""Clip to MP4 (H.264 + AAC, fast start) and back, plus a probe of what an MP4 holds.

Choices, so that every caller gets the same file:

- Video is H.264 (libx264), yuv420p, BT.709 limited range, tagged as such. 4:2:0 needs even sizes, so an
  odd width or height is padded by repeating the last column/row; `read_mp4` returns the padded size.
- The frame rate is stored exactly: a float fps is turned into the nearest simple fraction (24 -> 24/1,
  29.97002997 -> 30000/1001) and frames get pts 0, 1, 2, ... in a time base of 1/fps.
- The audio is padded with silence or trimmed to exactly frames/fps seconds before encoding, so both
  tracks last the same. AAC's encoder delay (1024 priming samples) is recorded in the MP4 edit list by
  the muxer, and decoders that honour it (FFmpeg, browsers) start at the first real sample.
- AAC keeps the clip's sample rate when AAC allows it (16 kHz plays in every major browser); other rates
  are resampled to 48 kHz. The bitrate is capped at AAC's ceiling for the rate (6 bits per sample per
  channel), so "128k" at 16 kHz mono becomes 96 kb/s.
- Files are written to a temporary name in the target folder and renamed, so a failure never leaves a
  half-written MP4 behind; `+faststart` puts the moov box before the media data for streaming.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tempfile
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from duetto.clip import Clip
from duetto.media._audio import as_channels, fit_length, layout_for, resample

#: Sample rates an AAC stream can carry (ISO 14496-3 sampling frequency table).
AAC_SAMPLE_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
#: Rate used when a clip's own rate is not an AAC rate.
FALLBACK_SAMPLE_RATE = 48000
#: Rate of the silent track `read_mp4` returns for a file without audio, unless asked otherwise.
DEFAULT_SAMPLE_RATE = 16000
#: Tags the MP4 muxer writes as iTunes-style atoms; anything else would be silently dropped.
MP4_TAGS = frozenset(
    {"title", "comment", "description", "synopsis", "artist", "album", "album_artist", "composer",
     "date", "genre", "copyright", "keywords", "grouping", "lyrics"}
)

_AAC_FRAME = 1024
_BT709 = 1  # the ISO/IEC 23091-4 code for BT.709 primaries, transfer and matrix


def exact_rate(fps: float | Fraction) -> Fraction:
    """The frame rate as an exact fraction: 24.0 -> 24, 29.97002997 -> 30000/1001, 12.5 -> 25/2."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        rate = Fraction(fps).limit_denominator(1001)
        if abs(float(rate) - float(fps)) > 1e-6 * float(fps):
            rate = Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


def _parse_bitrate(bitrate: str | int) -> int:
    text = str(bitrate).strip().lower()
    scale = 1000 if text.endswith("k") else 1_000_000 if text.endswith("m") else 1
    try:
        value = int(float(text.rstrip("km")) * scale)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"audio_bitrate must look like '128k' or 128000, got {bitrate!r}")
    return value


def _check_tags(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    if not metadata:
        return {}
    unknown = sorted(set(metadata) - MP4_TAGS)
    if unknown:
        raise ValueError(f"MP4 tags {unknown} are not supported; use some of {sorted(MP4_TAGS)}")
    return {key: str(value) for key, value in metadata.items() if value is not None}


def _even_frames(frames: np.ndarray) -> np.ndarray:
    """Pad odd heights/widths by repeating the edge, since 4:2:0 chroma needs even sizes."""
    _, height, width, _ = frames.shape
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def _audio_for_mp4(clip: Clip, rate: Fraction, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """The clip's waveform at the AAC rate, exactly as long as the video."""
    audio = as_channels(clip.audio)
    layout_for(audio.shape[0])
    target = sample_rate or (clip.sample_rate if clip.sample_rate in AAC_SAMPLE_RATES else FALLBACK_SAMPLE_RATE)
    if target not in AAC_SAMPLE_RATES:
        raise ValueError(f"audio_sample_rate {target} is not an AAC rate; use one of {sorted(AAC_SAMPLE_RATES)}")
    # Fit at the source rate first so resampling never sees samples that would be thrown away.
    audio = fit_length(audio, round(clip.num_frames * clip.sample_rate / rate))
    audio = resample(audio, clip.sample_rate, target)
    return fit_length(audio, round(clip.num_frames * target / rate)), target


def _temp_beside(path: Path) -> Path:
    """Create an empty temporary file next to `path`, or say in one line why that folder is unusable."""
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a folder; give a file name ending in .mp4")
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"cannot write {path}: {reason}; choose a writable folder") from None
    os.close(handle)
    return Path(temp)


def _muxer_options(rate: Fraction, audio_rate: int) -> dict[str, str]:
    """Fast start, plus timescales in which every frame, sample and edit-list duration is a whole tick.

    The muxer's default movie timescale is 1000, so edit lists (which carry the AAC priming and the
    B-frame delay) round track lengths to milliseconds: 25 frames at 30000/1001 would last 0.834 s.
    """
    options = {"movflags": "+faststart"}
    # A multiple of the rate's numerator gives whole ticks per frame; of the audio rate, per sample.
    ticks = math.lcm(rate.numerator, audio_rate)
    if ticks <= 2**31 - 1:
        options["video_track_timescale"] = options["movie_timescale"] = str(ticks)
    return options


def _encode(clip: Clip, target: str, crf: int, audio_bitrate: int, sample_rate: int | None,
            tags: dict[str, str]) -> None:
    rate = exact_rate(clip.fps)
    frames = _even_frames(clip.frames)
    audio, audio_rate = _audio_for_mp4(clip, rate, sample_rate)
    channels = audio.shape[0]
    layout = layout_for(channels)

    with av.open(target, "w", format="mp4", options=_muxer_options(rate, audio_rate)) as container:
        container.metadata.update(tags)
        video = container.add_stream("libx264", rate=rate, options={"crf": str(crf)})
        video.width, video.height = frames.shape[2], frames.shape[1]
        video.pix_fmt = "yuv420p"
        video.time_base = 1 / rate
        context = video.codec_context
        context.color_range = ColorRange.MPEG
        context.colorspace = context.color_primaries = context.color_trc = _BT709

        sound = container.add_stream("aac", rate=audio_rate, layout=layout)
        sound.bit_rate = min(audio_bitrate, 6 * audio_rate * channels)
        sound.time_base = Fraction(1, audio_rate)

        def audio_chunks() -> Iterator[av.AudioFrame]:
            for start in range(0, audio.shape[1], _AAC_FRAME):
                chunk = np.ascontiguousarray(audio[:, start:start + _AAC_FRAME])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                frame.sample_rate, frame.pts = audio_rate, start
                yield frame

        # Feed both encoders in time order so the muxer can interleave without buffering everything.
        pending = audio_chunks()
        next_audio = next(pending, None)
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
            frame.pts = index
            container.mux(video.encode(frame))
            frame_end = (index + 1) / rate
            while next_audio is not None and next_audio.pts < frame_end * audio_rate:
                container.mux(sound.encode(next_audio))
                next_audio = next(pending, None)
        while next_audio is not None:
            container.mux(sound.encode(next_audio))
            next_audio = next(pending, None)
        container.mux(video.encode(None))
        container.mux(sound.encode(None))


def write_mp4(
    clip: Clip,
    path: str | os.PathLike[str],
    *,
    crf: int = 18,
    audio_bitrate: str | int = "128k",
    audio_sample_rate: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write `clip` as an H.264 + AAC MP4 with fast start, atomically; returns the path written.

    `crf` is x264's constant rate factor (0 lossless .. 51 worst, 18 is visually lossless);
    `audio_sample_rate` forces an AAC rate (default: the clip's, or 48 kHz if AAC lacks it);
    `metadata` holds MP4 tags such as title and comment (see `MP4_TAGS`).
    """
    if clip.num_frames == 0:
        raise ValueError("cannot write an MP4 with no frames; the clip needs at least one frame")
    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must be between 0 and 51, got {crf}")
    bitrate = _parse_bitrate(audio_bitrate)
    tags = _check_tags(metadata)
    path = Path(path)
    temp = _temp_beside(path)
    try:
        _encode(clip, str(temp), int(crf), bitrate, audio_sample_rate, tags)
        os.chmod(temp, 0o644)  # mkstemp makes files private; a finished video is for serving
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def mp4_bytes(
    clip: Clip,
    *,
    crf: int = 18,
    audio_bitrate: str | int = "128k",
    audio_sample_rate: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> bytes:
    """The MP4 that `write_mp4` would write, as bytes (fast start needs a real file, so one is used)."""
    with tempfile.TemporaryDirectory(prefix="duetto-mp4-") as folder:
        target = write_mp4(clip, Path(folder) / "clip.mp4", crf=crf, audio_bitrate=audio_bitrate,
                           audio_sample_rate=audio_sample_rate, metadata=metadata)
        return target.read_bytes()


def _open(source: str | os.PathLike[str] | bytes) -> av.container.InputContainer:
    name = "<bytes>" if isinstance(source, bytes | bytearray) else str(source)
    try:
        target = io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source)
        return av.open(target, "r")
    except (av.FFmpegError, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(f"cannot read {name} as a video: {reason}") from None


def frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    """A video stream's frame rate: its average, else the guessed or base one; a one-line error when it has none."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    raise ValueError("the video stream has no frame rate; re-encode it with a constant frame rate")


def _rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    # The frame's own colour tags pick the matrix and range; untagged streams fall back to BT.601.
    range_ = frame.color_range or None
    return frame.to_ndarray(format="rgb24", width=width, height=height, src_color_range=range_)


def read_mp4(path: str | os.PathLike[str] | bytes, *, sample_rate: int | None = None) -> Clip:
    """Decode a video file (or its bytes) into a Clip: RGB uint8 frames and float32 audio.

    The audio is placed on the video's timeline (silence where it starts late, cut where it runs past
    the last frame) and resampled with libswresample when `sample_rate` is given. A file without audio
    gives a silent mono track at `sample_rate` (default 16 kHz). Tags such as title and comment land
    in `metadata`.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise ValueError(f"{path if not isinstance(path, bytes) else '<bytes>'} has no video stream")
        video = container.streams.video[0]
        audio_stream = container.streams.audio[0] if container.streams.audio else None
        video.thread_type = "AUTO"
        rate = frame_rate(video)
        tags = {key: value for key, value in container.metadata.items() if key in MP4_TAGS}

        frames: list[np.ndarray] = []
        size: tuple[int, int] | None = None
        video_start: float | None = None
        pieces: list[np.ndarray] = []
        audio_start: float | None = None
        resampler: av.AudioResampler | None = None
        out_rate = sample_rate
        streams = [video] + ([audio_stream] if audio_stream is not None else [])
        try:
            for packet in container.demux(streams):
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        if size is None:
                            size = (frame.width, frame.height)
                            video_start = float(frame.time) if frame.time is not None else 0.0
                        frames.append(_rgb(frame, *size))
                    else:
                        if resampler is None:
                            channels = min(frame.layout.nb_channels, 2)
                            out_rate = sample_rate or frame.sample_rate
                            resampler = av.AudioResampler(format="fltp", layout=layout_for(channels), rate=out_rate)
                            audio_start = float(frame.time) if frame.time is not None else 0.0
                        pieces.extend(f.to_ndarray() for f in resampler.resample(frame))
            if resampler is not None:
                pieces.extend(f.to_ndarray() for f in resampler.resample(None))
        except av.FFmpegError as error:
            raise ValueError(f"cannot decode {path if not isinstance(path, bytes) else '<bytes>'}: {error}") from None

    if not frames:
        raise ValueError("the video stream holds no decodable frames")
    out_rate = out_rate or sample_rate or DEFAULT_SAMPLE_RATE
    length = round(len(frames) * out_rate / rate)
    if pieces:
        audio = np.concatenate(pieces, axis=1).astype(np.float32, copy=False)
        offset = round(((audio_start or 0.0) - (video_start or 0.0)) * out_rate)
        if offset > 0:
            audio = np.pad(audio, ((0, 0), (offset, 0)))
        elif offset < 0:
            audio = audio[:, -offset:]
        audio = fit_length(audio, length)
    else:
        audio = np.zeros((1, length), np.float32)
    waveform = audio[0] if audio.shape[0] == 1 else audio
    return Clip(frames=np.stack(frames), audio=np.ascontiguousarray(waveform), fps=float(rate),
                sample_rate=int(out_rate), metadata=tags)


def mp4_boxes(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """The top-level ISO-BMFF boxes of a file in order, as (type, size) pairs."""
    boxes: list[tuple[str, int]] = []
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        offset = 0
        while offset + 8 <= total:
            handle.seek(offset)
            size, kind = struct.unpack(">I4s", handle.read(8))
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
            elif size == 0:
                size = total - offset
            if size < 8:
                break  # a corrupt header; stop rather than loop forever
            boxes.append((kind.decode("latin-1"), size))
            offset += size
    return boxes


def probe_mp4(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a video file holds: container, tags, fast start, and per-stream codec, rate and duration."""
    with _open(path) as container:
        info: dict[str, Any] = {
            "format": container.format.name,
            "duration": container.duration / av.time_base if container.duration else None,
            "size_bytes": os.path.getsize(path),
            "tags": dict(container.metadata),
            "video": None,
            "audio": None,
        }
        for stream in container.streams:
            seconds = float(stream.duration * stream.time_base) if stream.duration else None
            if stream.type == "video" and info["video"] is None:
                rate = frame_rate(stream)
                count = stream.frames or sum(1 for p in container.demux(stream) if p.size)
                info["video"] = {
                    "codec": stream.codec_context.name, "profile": stream.codec_context.profile,
                    "width": stream.codec_context.width, "height": stream.codec_context.height,
                    "pix_fmt": stream.codec_context.pix_fmt, "fps": float(rate),
                    "fps_fraction": f"{rate.numerator}/{rate.denominator}", "frames": count,
                    "duration": seconds, "bit_rate": stream.codec_context.bit_rate,
                }
            elif stream.type == "audio" and info["audio"] is None:
                context = stream.codec_context
                info["audio"] = {
                    "codec": context.name, "sample_rate": context.sample_rate, "channels": context.channels,
                    "layout": context.layout.name, "duration": seconds, "bit_rate": context.bit_rate,
                }
    boxes = [kind for kind, _ in mp4_boxes(path)]
    info["faststart"] = "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
    return info
