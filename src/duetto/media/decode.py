"""Reading media people bring, by decoding it whole with PyAV: any sound FFmpeg reads (WAV, MP3, M4A, OGG, FLAC,
or a video's sound track) as a waveform, a video's true length counted from its decoded frames, and a clip's
frames retimed to another frame rate."""

from __future__ import annotations

import io
import os

import av
import numpy as np

from duetto.clip import Clip
from duetto.media._audio import layout_for
from duetto.media.mp4 import frame_rate

Source = str | os.PathLike[str] | bytes


def _open(source: Source) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source), "r")
    except (av.FFmpegError, OSError) as error:
        raise ValueError(f"cannot read the file: {getattr(error, 'strerror', None) or error}") from None


def read_audio(source: Source) -> tuple[np.ndarray, int]:
    """The first sound track of a file as float32 audio, (samples,) for mono or (2, samples) (more channels are
    mixed down to two by libswresample), and its rate."""
    with _open(source) as container:
        if not container.streams.audio:
            raise ValueError("the file has no sound track")
        stream = container.streams.audio[0]
        pieces: list[np.ndarray] = []
        resampler: av.AudioResampler | None = None
        rate = None
        try:
            for frame in container.decode(stream):
                if resampler is None:
                    rate = frame.sample_rate
                    layout = layout_for(min(frame.layout.nb_channels, 2))
                    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
                pieces.extend(f.to_ndarray() for f in resampler.resample(frame))
            if resampler is not None:
                pieces.extend(f.to_ndarray() for f in resampler.resample(None))
        except av.FFmpegError as error:
            raise ValueError(f"cannot decode the sound: {error}") from None
    if not pieces or rate is None:
        raise ValueError("the sound track holds no decodable audio")
    audio = np.concatenate(pieces, axis=1).astype(np.float32, copy=False)
    return np.ascontiguousarray(audio[0] if audio.shape[0] == 1 else audio), int(rate)


def audio_seconds(source: Source, *, limit_seconds: float | None = None) -> float:
    """How long the first sound track lasts, from its decoded samples (proving it decodes), without keeping
    them; decoding stops once past `limit_seconds`, and the length so far is returned."""
    with _open(source) as container:
        if not container.streams.audio:
            raise ValueError("the file has no sound track")
        stream = container.streams.audio[0]
        samples, rate = 0, 0
        try:
            for frame in container.decode(stream):
                samples, rate = samples + frame.samples, frame.sample_rate
                if limit_seconds is not None and samples / rate > limit_seconds:
                    break
        except av.FFmpegError as error:
            raise ValueError(f"cannot decode the sound: {error}") from None
    if not samples:
        raise ValueError("the sound track holds no decodable audio")
    return samples / rate


def video_seconds(source: Source, *, limit_seconds: float | None = None) -> tuple[float, int, int]:
    """(seconds, width, height) of the first video track, its length counted from decoded frames (proving they
    decode); decoding stops once past `limit_seconds`, and the length so far is returned."""
    with _open(source) as container:
        if not container.streams.video:
            raise ValueError("the file has no video track")
        stream = container.streams.video[0]
        rate = frame_rate(stream)
        count, size = 0, (0, 0)
        try:
            for frame in container.decode(stream):
                count, size = count + 1, (frame.width, frame.height)
                if limit_seconds is not None and count / float(rate) > limit_seconds:
                    break
        except av.FFmpegError as error:
            raise ValueError(f"cannot decode the video: {error}") from None
    if not count:
        raise ValueError("the video track holds no decodable frames")
    return count / float(rate), *size


def retime(clip: Clip, fps: float) -> Clip:
    """The clip shown at `fps`: each new frame is the one on screen at its time (nearest earlier frame), so the
    picture keeps its timing and length; the sound is untouched."""
    if abs(clip.fps - fps) < 1e-6:
        return clip
    count = max(1, round(clip.num_frames * fps / clip.fps))
    index = np.minimum(np.floor(np.arange(count) * clip.fps / fps + 1e-6).astype(int), clip.num_frames - 1)
    return Clip(frames=clip.frames[index], audio=clip.audio, fps=fps, sample_rate=clip.sample_rate,
                metadata=dict(clip.metadata))
