"""Reading uploaded media before a job is queued: an MP4's length and frame size, a sound file's length, and what
kind of file an `input_reference` is, each decoded whole so that a damaged file is refused at once, not by a
failed job."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from duetto.app.core.errors import InvalidRequest, UnsupportedMediaType
from duetto.app.infra.uploads import is_mp4, require_mp4, sniff_audio, sniff_image

# Decoding stops past this many seconds: longer than any model makes, so the length check refuses it anyway.
DECODE_LIMIT_S = 60.0
SOUND_FORMATS = "WAV, MP3, M4A, OGG or FLAC"


def probe_upload(data: bytes) -> tuple[float, str]:
    """(seconds, "WxH") of an uploaded MP4 from its headers; 415 when it has no video stream, 400 when unreadable."""
    from duetto.media import probe_mp4  # PyAV only; no torch

    with tempfile.TemporaryDirectory(prefix="duetto-upload-") as folder:
        path = Path(folder) / "upload.mp4"
        path.write_bytes(data)
        try:
            info = probe_mp4(path)
        except Exception:  # PyAV raises many kinds for a damaged file
            # The person is told what to send; PyAV's exception name would mean nothing to them.
            raise InvalidRequest("video could not be read as an MP4; upload an MP4 file with H.264 video.",
                                 param="video") from None
    video = info.get("video")
    if not video:
        raise UnsupportedMediaType("video has no video stream; upload an MP4 with H.264 video.", param="video")
    seconds = video.get("duration") or info.get("duration") or video["frames"] / video["fps"]
    return float(seconds), f"{video['width']}x{video['height']}"


def probe_video_upload(data: bytes, *, param: str) -> tuple[float, str]:
    """(seconds, "WxH") of an uploaded MP4 whose frames all decode, its length counted from them: 415 when it is
    not an MP4 with a video stream, 400 when it does not decode."""
    from duetto.media.decode import video_seconds

    require_mp4(data, param=param)
    if not _has_video(data):
        raise UnsupportedMediaType(f"{param} has no video stream; upload an MP4 with H.264 video.", param=param)
    try:
        seconds, width, height = video_seconds(data, limit_seconds=DECODE_LIMIT_S)
    except ValueError as error:
        raise InvalidRequest(f"{param} could not be decoded ({error}); upload an undamaged MP4 with H.264 video.",
                             param=param) from None
    return seconds, f"{width}x{height}"


def probe_audio_upload(data: bytes, *, param: str) -> tuple[float, str]:
    """(seconds, media type) of an uploaded sound whose samples all decode: 415 when it is no sound format we
    take (judged by its bytes, not its name), 400 when it does not decode or has no sound."""
    from duetto.media.decode import audio_seconds

    # An MP4 that is not branded M4A may still be only sound; decoding tells.
    media_type = sniff_audio(data) or ("audio/mp4" if is_mp4(data) else None)
    if media_type is None:
        raise UnsupportedMediaType(f"{param} must be a {SOUND_FORMATS} sound; the uploaded file is none of these.",
                                   param=param)
    try:
        seconds = audio_seconds(data, limit_seconds=DECODE_LIMIT_S)
    except ValueError as error:
        raise InvalidRequest(f"{param} could not be decoded as sound ({error}); upload an undamaged "
                             f"{SOUND_FORMATS} file.", param=param) from None
    return seconds, media_type


def reference_kind(data: bytes, *, param: str) -> str:
    """What an uploaded `input_reference` is, by its bytes: "image" (a first frame), "video" (a video to make
    sound for) or "audio" (a sound to make a picture for); 415 for anything else."""
    if sniff_image(data) is not None:
        return "image"
    if is_mp4(data):
        return "video" if _has_video(data) else "audio"
    if sniff_audio(data) is not None:
        return "audio"
    raise UnsupportedMediaType(
        f"{param} must be a PNG, JPEG or WebP image, an MP4 video, or a {SOUND_FORMATS} sound; the uploaded file "
        "is none of these.", param=param)


def _has_video(data: bytes) -> bool:
    """Whether an ISO media file holds a video stream (one that cannot be opened counts as video, so that the
    video checks say what is wrong with it)."""
    import av

    try:
        with av.open(io.BytesIO(data), "r") as container:
            return bool(container.streams.video)
    except (av.FFmpegError, OSError):
        return True
