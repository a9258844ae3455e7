"""The file people take away (a web download or the API's content download): the clip enlarged if small,
the moving visible badge with both invisible marks written over it, and, when the C2PA library is
installed, a signed manifest whose ingredients carry the lineage (remixes and extensions). Made once per
video and kept beside its other files."""

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
# How a clip was made from its parents, as its credentials say (a remix or an edit: the default).
MADE_FROM = {
    "extend": "extension generated from the end of the parent clip",
    "shot": "story shot generated from the end of the shot before",
    "story": "story stitched from its shots, the first as parent",
}
# Videos made for an upload keep one of its tracks as it was: which one, by the video's kind.
KEPT_TRACK = {"sound": "video", "picture": "audio"}


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


def _parents(*, session: Session, video: Video) -> list[Video]:
    """The videos this one was made from: a story's shots in order, else the one it remixes or continues."""
    if video.kind == "story":
        parent_ids = list((video.params or {}).get("shots", []))
    else:
        parent_ids = [p for p in (video.remixed_from_video_id or video.source_video_id,) if p]
    found = {v.id: v for v in session.scalars(select(Video).where(Video.id.in_(parent_ids),
                                                                   Video.deleted_at.is_(None),
                                                                   Video.status == "completed"))}
    return [found[p] for p in parent_ids if p in found]


def export_mp4(*, session: Session, storage: Storage, settings: Settings, video: Video, instance: str,
               _depth: int = 0) -> bytes:
    """The stamped, signed MP4 of a completed video; a remix's parent is exported first and becomes the
    parentOf ingredient, so a remix of a remix carries both ancestors (a story's shots are its ingredients,
    the first as its parent, each with the shots it continued)."""
    key = download_key(video.id)
    if storage.exists(key):
        return storage.get_bytes(key)
    from duetto.media import mp4_bytes, read_mp4
    from duetto.provenance import download_rendition

    handle = creator_handle(session=session, video=video)
    parents = _parents(session=session, video=video) if _depth < MAX_LINEAGE else []
    parent_mp4s = [export_mp4(session=session, storage=storage, settings=settings, video=parent, instance=instance,
                              _depth=_depth + 1)
                   for parent in parents if storage.exists(asset_key(parent.id, "video"))]
    clip = download_rendition(read_mp4(storage.get_bytes(asset_key(video.id, "video"))), instance=instance,
                              handle=handle, payload=video.seq & PAYLOAD_MASK, key=watermark_key(settings))
    data = mp4_bytes(clip, metadata={"comment": f"Made with Duetto on {instance} by @{handle}"})
    data = _sign(data, settings=settings, video=video, instance=instance, handle=handle,
                 parent_mp4s=parent_mp4s) or data
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
          parent_mp4s: list[bytes]) -> bytes | None:
    try:
        from duetto.provenance import ensure_signing_identity, sign_mp4
    except ImportError:  # the C2PA library is optional at runtime; the visible mark is not
        return None
    extra = {"creator": f"@{handle}"}
    if video.remixed_from_video_id:
        extra["remixed_from"] = video.remixed_from_video_id  # kept even when the parent's file is gone
    if video.kind == "story":
        extra["story_shots"] = list((video.params or {}).get("shots", []))  # its takes, in order
    if video.kind == "extend" and video.source_video_id:
        # An extension's parent is the clip it continues; like a remix's, it is also the parentOf ingredient.
        extra["extended_from"] = video.source_video_id
    if video.kind in KEPT_TRACK:
        # Half of such a clip was not generated: the credentials say which track came from the maker.
        extra["kept_from_upload"] = KEPT_TRACK[video.kind]
    try:
        identity = ensure_signing_identity(Path(settings.data_dir) / "provenance", organisation=instance)
        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
            source.write_bytes(data)
            parents = []
            for i, parent_mp4 in enumerate(parent_mp4s):
                parents.append(Path(tmp) / f"parent{i}.mp4")
                parents[-1].write_bytes(parent_mp4)
            sign_mp4(source, target, identity=identity, clip_id=video.id, model=video.model,
                     description=MADE_FROM.get(video.kind),
                     model_version=model_version(settings, video.model),
                     created=dt.datetime.fromtimestamp(video.completed_at or video.created_at, dt.UTC),
                     parents=parents, title=f"{video.id}.mp4", instance=instance, extra=extra)
            return target.read_bytes()
    except (ImportError, ValueError, OSError) as error:
        log.warning("download of %s left unsigned: %s", video.id, error)
        return None
