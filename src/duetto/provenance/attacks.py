"""Everyday transformations a shared clip goes through, to measure how well the marks and fingerprints survive.

They stand in for what platforms and people do to a downloaded video: re-encode it smaller, shrink it,
cut an excerpt, or re-encode its sound. Each takes and returns plain arrays or Clips.
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from duetto.clip import Clip
from duetto.media import exact_rate

#: x264's constant rate factor for the reference export (what `duetto.media.write_mp4` uses).
EXPORT_CRF = 18


def _encode_h264(frames: np.ndarray, fps: float, crf: int) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=exact_rate(fps), options={"crf": str(crf)})
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _decode_h264(data: bytes) -> tuple[np.ndarray, float]:
    """Frames of the first video stream, and its bits per second of compressed video."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames, size = [], 0
        for packet in container.demux(stream):
            size += packet.size
            frames.extend(frame.to_ndarray(format="rgb24") for frame in packet.decode())
        rate = float(stream.average_rate or 24)
    return np.stack(frames), 8.0 * size * rate / max(1, len(frames))


def _even(frames: np.ndarray) -> np.ndarray:
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge") if pad_h or pad_w else frames


def h264_crf(frames: np.ndarray, fps: float, crf: int) -> np.ndarray:
    """Frames after one H.264 encode at the given constant rate factor (0 best .. 51 worst)."""
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be between 0 and 51, got {crf}")
    return _decode_h264(_encode_h264(_even(frames), fps, crf))[0]


def h264_fraction(frames: np.ndarray, fps: float, fraction: float = 0.25) -> tuple[np.ndarray, dict[str, float]]:
    """Export at CRF 18, then re-encode the download at `fraction` of its video bitrate.

    The re-encode uses the lowest CRF whose bitrate is at most the target (found by bisection), as a
    transcoder would; one-pass ABR at such rates starts its first frame at the worst quantiser and
    wrecks the picture, which no platform ships. Tiny flat clips can sit below x264's floor (headers
    and skipped frames alone cost more than a quarter); they get CRF 51 and `reached` is False.
    Returns the frames and facts: source and result bitrates, the CRF used, whether the target was met.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    download, source_rate = _decode_h264(_encode_h264(_even(frames), fps, EXPORT_CRF))
    target = fraction * source_rate
    low, high, best = EXPORT_CRF, 51, None
    while low <= high:
        crf = (low + high) // 2
        result, rate = _decode_h264(_encode_h264(download, fps, crf))
        if rate <= target:
            best, high = (crf, result, rate), crf - 1
        else:
            low = crf + 1
    reached = best is not None
    if best is None:
        result, rate = _decode_h264(_encode_h264(download, fps, 51))
        best = (51, result, rate)
    crf, result, rate = best
    return result, {"source_bps": source_rate, "bps": rate, "crf": crf, "reached": float(reached)}


def scale_frames(frames: np.ndarray, factor: float) -> np.ndarray:
    """Frames resized by `factor` with Pillow's bilinear filter (which low-passes when shrinking)."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    height, width = frames.shape[1:3]
    size = (max(2, round(width * factor)), max(2, round(height * factor)))
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames])


def trim_clip(clip: Clip, start: float, seconds: float) -> Clip:
    """The excerpt of `clip` from `start` seconds, `seconds` long (cut at any sample, not on frames)."""
    if start < 0 or seconds <= 0:
        raise ValueError(f"start must be >= 0 and seconds > 0, got {start}, {seconds}")
    first, count = round(start * clip.fps), max(1, round(seconds * clip.fps))
    begin = round(start * clip.sample_rate)
    audio = clip.audio[..., begin:begin + round(seconds * clip.sample_rate)]
    return Clip(frames=clip.frames[first:first + count], audio=np.ascontiguousarray(audio), fps=clip.fps,
                sample_rate=clip.sample_rate, metadata=dict(clip.metadata))


_AUDIO_CODECS = {"mp3": ("libmp3lame", "mp3"), "aac": ("aac", "adts")}


def audio_codec_available(codec: str) -> bool:
    """Whether this PyAV build can encode `codec` ("mp3" needs libmp3lame)."""
    try:
        av.codec.Codec(_AUDIO_CODECS[codec][0], "w")
    except (KeyError, av.FFmpegError, ValueError):
        return False
    return True


def reencode_audio(wave: np.ndarray, sample_rate: int, codec: str = "mp3", bitrate: int = 64000) -> np.ndarray:
    """Mono `wave` after a lossy encode ("mp3" or "aac") and decode at the same rate.

    The decoder's output keeps the codec's start delay (priming samples): the result is not aligned
    with the input, exactly as a file from elsewhere would not be.
    """
    if codec not in _AUDIO_CODECS:
        raise ValueError(f"codec must be one of {sorted(_AUDIO_CODECS)}, got {codec!r}")
    encoder, container_format = _AUDIO_CODECS[codec]
    samples = np.asarray(wave, np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=0)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(encoder, rate=sample_rate, layout="mono")
        stream.bit_rate = bitrate
        size = stream.codec_context.frame_size or 1152
        for start in range(0, samples.size, size):
            chunk = samples[start:start + size]
            if chunk.size < size:
                chunk = np.pad(chunk, (0, size - chunk.size))
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    pieces = []
    with av.open(io.BytesIO(buffer.getvalue())) as container:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=sample_rate)
        for frame in container.decode(audio=0):
            pieces.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
        pieces.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
