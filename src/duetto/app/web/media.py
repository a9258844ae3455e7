"""Sending media to browsers: byte ranges (video elements seek with them) and stamped downloads."""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from duetto.app.core.config import Settings
from duetto.app.db.models import Video
from duetto.app.storage import Storage
from duetto.app.videos.service import asset_key

log = logging.getLogger(__name__)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def serve_bytes(request: Request, data: bytes, media_type: str, *, cache: str) -> Response:
    """The whole file, or the one byte range a `Range` header asks for (206), as browsers expect for video."""
    headers = {"accept-ranges": "bytes", "cache-control": cache}
    size = len(data)
    match = _RANGE.match(request.headers.get("range", "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        return Response(data, media_type=media_type, headers=headers)
    if match.group(1):
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    else:  # a suffix range: the last N bytes
        start, end = max(0, size - int(match.group(2))), size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={"content-range": f"bytes */{size}", **headers})
    headers["content-range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start:end + 1], status_code=206, media_type=media_type, headers=headers)


def download_key(video_id: str) -> str:
    # Beside the video's other files, so deleting the video deletes this too.
    return f"videos/{video_id}/download.mp4"


def stamped_download(*, storage: Storage, settings: Settings, video: Video, handle: str, instance: str) -> bytes:
    """The post's MP4 with the visible badge (instance · @handle) drawn in, C2PA-signed when the C2PA
    library is installed; made once and kept."""
    key = download_key(video.id)
    if storage.exists(key):
        return storage.get_bytes(key)
    from duetto.media import mp4_bytes, read_mp4
    from duetto.provenance import stamp_visible

    clip = stamp_visible(read_mp4(storage.get_bytes(asset_key(video.id, "video"))), instance=instance, handle=handle)
    data = mp4_bytes(clip, metadata={"comment": f"Made with Duetto on {instance} by @{handle}"})
    data = _sign(data, settings=settings, video=video, instance=instance, handle=handle) or data
    storage.put_bytes(key, data, "video/mp4")
    return data


def _sign(data: bytes, *, settings: Settings, video: Video, instance: str, handle: str) -> bytes | None:
    try:
        from duetto.provenance import ensure_signing_identity, sign_mp4
    except ImportError:  # the C2PA library is optional at runtime; the visible mark is not
        return None
    try:
        identity = ensure_signing_identity(Path(settings.data_dir) / "provenance", organisation=instance)
        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
            source.write_bytes(data)
            sign_mp4(source, target, identity=identity, clip_id=video.id, model=video.model, model_version="",
                     created=dt.datetime.fromtimestamp(video.completed_at or video.created_at, dt.UTC),
                     title=f"{video.id}.mp4", instance=instance, extra={"creator": f"@{handle}"})
            return target.read_bytes()
    except (ImportError, ValueError, OSError) as error:
        log.warning("download of %s left unsigned: %s", video.id, error)
        return None
