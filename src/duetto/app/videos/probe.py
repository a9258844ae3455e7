"""Reading an uploaded MP4's length and frame size, to validate edits and extensions before queueing them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from duetto.app.core.errors import InvalidRequest, UnsupportedMediaType


def probe_upload(data: bytes) -> tuple[float, str]:
    """(seconds, "WxH") of an uploaded MP4; 415 when it has no video stream, 400 when unreadable."""
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
