"""The file people take away (a web download or the API's content download): the clip enlarged if small,
the moving visible badge with both invisible marks written over it, and, when the C2PA library is
installed, a signed manifest whose ingredients carry the remix lineage. Made once per video and kept
beside its other files."""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.config import Settings
from duetto.app.db.models import Account, User, Video
from duetto.app.infra.storage import Storage
from duetto.app.provenance.marking import PAYLOAD_MASK, watermark_key
from duetto.app.videos.service import asset_key

log = logging.getLogger(__name__)

# Lineage deeper than this is cut (the signed chain grows with every generation).
MAX_LINEAGE = 32


def download_key(video_id: str) -> str:
    # Beside the video's other files, so deleting the video deletes this too.
    return f"videos/{video_id}/download.mp4"


def instance_label(settings: Settings, host: str) -> str:
    """The instance name a badge and credentials show: the configured one, else the host asked."""
    return settings.instance_name or host


def creator_handle(*, session: Session, video: Video) -> str:
    """The name the badge shows: the web handle, or the API user's name for users without an account."""
    account = session.get(Account, video.user_id)
    if account is not None:
        return account.handle
    user = session.get(User, video.user_id)
    return user.name if user is not None else "unknown"


def _parent(*, session: Session, video: Video) -> Video | None:
    parent_id = video.remixed_from_video_id or video.source_video_id
    if not parent_id:
        return None
    return session.scalar(select(Video).where(Video.id == parent_id, Video.deleted_at.is_(None),
                                              Video.status == "completed"))


def export_mp4(*, session: Session, storage: Storage, settings: Settings, video: Video, instance: str,
               _depth: int = 0) -> bytes:
    """The stamped, signed MP4 of a completed video; a remix's parent is exported first and becomes the
    parentOf ingredient, so a remix of a remix carries both ancestors."""
    key = download_key(video.id)
    if storage.exists(key):
        return storage.get_bytes(key)
    from duetto.media import mp4_bytes, read_mp4
    from duetto.provenance import download_rendition

    handle = creator_handle(session=session, video=video)
    parent = _parent(session=session, video=video) if _depth < MAX_LINEAGE else None
    parent_mp4 = None
    if parent is not None and storage.exists(asset_key(parent.id, "video")):
        parent_mp4 = export_mp4(session=session, storage=storage, settings=settings, video=parent, instance=instance,
                                _depth=_depth + 1)
    clip = download_rendition(read_mp4(storage.get_bytes(asset_key(video.id, "video"))), instance=instance,
                              handle=handle, payload=video.seq & PAYLOAD_MASK, key=watermark_key(settings))
    data = mp4_bytes(clip, metadata={"comment": f"Made with Duetto on {instance} by @{handle}"})
    data = _sign(data, settings=settings, video=video, instance=instance, handle=handle, parent_mp4=parent_mp4) or data
    storage.put_bytes(key, data, "video/mp4")
    return data


def model_version(settings: Settings, model: str) -> str:
    """The version a model folder declares (`version` in its model_index.json, else the Duetto version that
    wrote it); empty when the folder is gone."""
    try:
        index = json.loads((Path(settings.models_dir) / model / "model_index.json").read_text())
    except (OSError, ValueError):
        return ""
    return str(index.get("version") or index.get("_duetto_version") or "")


def _sign(data: bytes, *, settings: Settings, video: Video, instance: str, handle: str,
          parent_mp4: bytes | None) -> bytes | None:
    try:
        from duetto.provenance import ensure_signing_identity, sign_mp4
    except ImportError:  # the C2PA library is optional at runtime; the visible mark is not
        return None
    extra = {"creator": f"@{handle}"}
    if video.remixed_from_video_id:
        extra["remixed_from"] = video.remixed_from_video_id  # kept even when the parent's file is gone
    try:
        identity = ensure_signing_identity(Path(settings.data_dir) / "provenance", organisation=instance)
        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
            source.write_bytes(data)
            parents = []
            if parent_mp4 is not None:
                parents.append(Path(tmp) / "parent.mp4")
                parents[0].write_bytes(parent_mp4)
            sign_mp4(source, target, identity=identity, clip_id=video.id, model=video.model,
                     model_version=model_version(settings, video.model),
                     created=dt.datetime.fromtimestamp(video.completed_at or video.created_at, dt.UTC),
                     parents=parents, title=f"{video.id}.mp4", instance=instance, extra=extra)
            return target.read_bytes()
    except (ImportError, ValueError, OSError) as error:
        log.warning("download of %s left unsigned: %s", video.id, error)
        return None
