"""The videos service: check, record, read, list and delete video jobs for one user at a time. It knows nothing
of characters: `flows.videos.request_video` puts the steps together with them."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duetto.app import moderation
from duetto.app.core.config import Settings
from duetto.app.core.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from duetto.app.core.security import new_id
from duetto.app.db.models import IdempotencyKey, User, Video
from duetto.app.infra.limits import check_quota, generation_cost
from duetto.app.infra.storage import Storage
from duetto.app.infra.uploads import AUDIO_TYPES, IMAGE_TYPES
from duetto.app.infra.webhooks import PrivateTarget, resolve_target
from duetto.app.moderation.holds import require_not_held
from duetto.app.videos import prompt_format
from duetto.app.videos.catalog import ModelCatalog, ModelInfo
from duetto.app.videos.files import VARIANTS, asset_key, input_file_key, purge_files
from duetto.app.videos.probe import probe_audio_upload, probe_video_upload

ACTIVE = ("queued", "in_progress")


@dataclass
class NewVideo:
    """A validated-shape request to make a video; `flows.videos.request_video` checks it and makes the job."""

    kind: str  # create | remix | extend | edit | sound (for an uploaded video) | picture (for an uploaded sound)
    prompt: str
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    webhook_url: str | None = None
    image: tuple[bytes, str] | None = None  # (bytes, media type)
    source: Video | None = None  # a completed video of the same user
    source_upload: tuple[bytes, float, str] | None = None  # (mp4 bytes, seconds, "WxH")
    sound_upload: tuple[bytes, float, str] | None = None  # (sound file bytes, seconds, media type)
    upload_param: str = "input_video"  # the field the video or sound came in, for messages about it
    characters: list[str] = field(default_factory=list)  # ids of characters the prompt names as @name
    surface: str = "api_prompt"  # where the prompt was typed, for the moderation log

    def fingerprint(self) -> str:
        """A hash of everything that shapes the result, so a reused idempotency key can be checked."""
        digest = hashlib.sha256()
        fields = [self.kind, self.prompt, self.model, self.seconds, self.size, self.params, self.webhook_url,
                  self.characters]
        digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
        digest.update(self.source.id.encode() if self.source else b"-")
        for blob in (self.image[0] if self.image else b"", self.source_upload[0] if self.source_upload else b"",
                     self.sound_upload[0] if self.sound_upload else b""):
            digest.update(hashlib.sha256(blob).digest())
        return digest.hexdigest()


def made_for_upload(data: bytes, *, track: str, param: str) -> dict[str, Any]:
    """NewVideo fields for a video made for an uploaded track, decoded whole now so that a damaged file is refused
    at once: `track` "video" keeps the upload's picture and makes its sound (kind "sound"), "audio" keeps the
    upload's sound and makes its picture (kind "picture")."""
    if track == "video":
        seconds, size = probe_video_upload(data, param=param)
        return {"kind": "sound", "source_upload": (data, seconds, size), "upload_param": param}
    seconds, media_type = probe_audio_upload(data, param=param)
    return {"kind": "picture", "sound_upload": (data, seconds, media_type), "upload_param": param}


def replay(*, session: Session, user: User, key: str, fingerprint: str) -> Video | None:
    """The video an earlier request with this idempotency key made, or None; Conflict when the key was used
    with different parameters."""
    record = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with different parameters; use a new key for a new request.",
            code="idempotency_key_reused",
        )
    return session.scalar(select(Video).where(Video.id == record.video_id))


def check_prompt(*, session: Session, settings: Settings, user: User, new: NewVideo) -> None:
    """The prompt's presence and length, and the moderation lists (which log the decision)."""
    if not new.prompt.strip():
        # Whitespace alone would be queued and fail in the worker ("the prompt is empty").
        raise InvalidRequest("prompt is empty; describe the video and its sound.", param="prompt")
    if len(new.prompt) > settings.max_prompt_chars:
        raise InvalidRequest(f"prompt is too long: at most {settings.max_prompt_chars} characters.", param="prompt")
    # The sound description is generated too, so it is checked with the picture's.
    described = "\n".join(p for p in (new.prompt, new.params.get("audio_prompt")) if p)
    moderation.require_allowed(session=session, text=described, surface=new.surface, user_id=user.id,
                               param="prompt")


def stored_prompt(new: NewVideo) -> str:
    """The prompt as the job stores it and the engine reads it: the sound after the picture."""
    return prompt_format.compose(new.prompt, new.params.get("audio_prompt"))


@dataclass(frozen=True)
class JobShape:
    """What the model and the user's limits allow a request to make, and what it costs."""

    model: str
    size: str
    seconds: str  # what the API reports; an extension's stitched total
    generate_seconds: float  # what the engine makes
    cost: float


def shape_job(*, session: Session, settings: Settings, catalog: ModelCatalog, user: User, new: NewVideo) -> JobShape:
    """Check the request's model, size and length against the model, its webhook address, and the day's
    quota; a remix or edit keeps its source's size and length unless asked otherwise."""
    source = new.source
    info = catalog.get(new.model or (source.model if source else None))
    uploaded_size = catalog.fit_size(info, new.source_upload[2]) if new.source_upload and not new.size else None
    size = catalog.check_size(info, new.size or (source.size if source else None) or uploaded_size)
    if new.kind in ("sound", "picture"):
        seconds, generate_seconds = _upload_length(catalog, info, new)
    elif new.kind == "extend":
        extension = catalog.check_extend_seconds(info, new.seconds)
        generate_seconds = float(extension)
        base = float(source.seconds) if source else new.source_upload[1] if new.source_upload else 0.0
        # OpenAI reports the stitched total as whole seconds.
        seconds = str(round(base + generate_seconds))
    elif new.kind in ("remix", "edit") and new.seconds is None and (source or new.source_upload):
        base = float(source.seconds) if source else new.source_upload[1]  # type: ignore[index]
        seconds = catalog.check_seconds(info, f"{round(base):d}")
        generate_seconds = float(seconds)
    else:
        seconds = catalog.check_seconds(info, new.seconds)
        generate_seconds = float(seconds)
    if new.webhook_url:
        check_webhook_url(new.webhook_url, allow_private=settings.webhook_allow_private)
    cost = generation_cost(seconds=generate_seconds, size=size, settings=settings)
    check_quota(session=session, user=user, cost=cost, settings=settings)
    return JobShape(model=info.name, size=size, seconds=seconds, generate_seconds=generate_seconds, cost=cost)


def _upload_length(catalog: ModelCatalog, info: ModelInfo, new: NewVideo) -> tuple[str, float]:
    """A video made for an uploaded video or sound is as long as the upload: (seconds as the API reports them,
    whole; the exact length the engine makes). An upload the model cannot make whole is refused, not trimmed,
    so the track that is kept is always all of it."""
    upload = new.source_upload if new.kind == "sound" else new.sound_upload
    if upload is None:
        what = "an MP4 video" if new.kind == "sound" else "a sound file"
        raise InvalidRequest(f"{new.upload_param} is required: upload {what}.", param=new.upload_param)
    length = upload[1]
    catalog.check_upload_seconds(info, length, param=new.upload_param)
    seconds = f"{round(length):d}"
    if new.seconds is not None and new.seconds != seconds:
        raise InvalidRequest(f"seconds comes from {new.upload_param}, which is {length:.2f} s long; leave seconds "
                             "out (or send the upload's length).", param="seconds")
    return seconds, length


def add_job(*, session: Session, storage: Storage, user: User, new: NewVideo, shape: JobShape,
            fingerprint: str, idempotency_key: str | None) -> Video:
    """Store the request's inputs and add its queued job (not committed: the caller links what else belongs
    to it, then calls `commit_job`)."""
    now = time.time()
    video_id = new_id("video")
    params = {k: v for k, v in new.params.items() if v is not None}
    params.pop("audio_prompt", None)  # it lives in the stored prompt, after the picture
    input_key = None
    if new.image is not None:
        input_key = input_file_key(video_id, f"reference{IMAGE_TYPES[new.image[1]]}")
        storage.put_bytes(input_key, new.image[0], new.image[1])
    source_video_id = new.source.id if new.source else None
    if new.source_upload is not None:
        input_key = input_file_key(video_id, "source.mp4")
        storage.put_bytes(input_key, new.source_upload[0], "video/mp4")
    if new.sound_upload is not None:
        input_key = input_file_key(video_id, f"sound{AUDIO_TYPES[new.sound_upload[2]]}")
        storage.put_bytes(input_key, new.sound_upload[0], new.sound_upload[2])
    video = Video(
        id=video_id, user_id=user.id, kind=new.kind, model=shape.model, status="queued", progress=0,
        prompt=stored_prompt(new), size=shape.size, seconds=shape.seconds, generate_seconds=shape.generate_seconds,
        params=params, source_video_id=source_video_id,
        remixed_from_video_id=source_video_id if new.kind == "remix" else None,
        input_key=input_key, webhook_url=new.webhook_url, cost=shape.cost, attempts=0, created_at=now,
    )
    session.add(video)
    if idempotency_key:
        session.add(IdempotencyKey(user_id=user.id, key=idempotency_key, request_hash=fingerprint,
                                   video_id=video_id, created_at=now))
    return video


def commit_job(*, session: Session, storage: Storage, user: User, video: Video, fingerprint: str,
               idempotency_key: str | None) -> tuple[Video, bool]:
    """Commit a job `add_job` made; returns it and True, or the earlier job and False when another request
    with the same idempotency key won the race (this one's inputs are then removed)."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        purge_files(storage, video.id)
        if idempotency_key:
            earlier = replay(session=session, user=user, key=idempotency_key, fingerprint=fingerprint)
            if earlier is not None:
                return earlier, False
        if session.scalar(select(User.id).where(User.id == user.id)) is None:
            # The account was deleted while this request was on its way: its key no longer counts.
            raise Unauthorized("This API key's account was deleted; sign up again or use another key.") from None
        raise
    return video, True


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """InvalidRequest for a webhook URL the server would not send to (see webhooks.resolve_target)."""
    try:
        resolve_target(url, allow_private=allow_private)
    except PrivateTarget as refused:
        raise InvalidRequest(f"{refused}; give a public address (the operator can allow private ones with "
                             "DUETTO_WEBHOOK_ALLOW_PRIVATE=true).", param="webhook_url") from None
    except ValueError as error:
        raise InvalidRequest(f"{error}; give a URL this server can reach.", param="webhook_url") from None


def get_video(*, session: Session, user: User, video_id: str) -> Video:
    """The user's video; someone else's or a deleted one is as unknown as one that never existed."""
    video = session.scalar(
        select(Video).where(Video.id == video_id, Video.user_id == user.id, Video.deleted_at.is_(None))
    )
    if video is None:
        raise NotFound(f"No video found with id {video_id!r}.", param="video_id")
    return video


def get_completed_video(*, session: Session, user: User, video_id: str, param: str = "video_id") -> Video:
    """A finished video of the user to remix, extend or edit; a held one is refused like a missing one."""
    video = get_video(session=session, user=user, video_id=video_id)
    require_not_held(session=session, video_id=video.id, param=param)
    if video.status != "completed":
        raise InvalidRequest(
            f"Video {video_id} is {video.status}, not completed; wait for it to complete first.", param=param
        )
    return video


def list_videos(
    *, session: Session, user: User, after: str | None, limit: int, order: str
) -> tuple[list[Video], bool]:
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100.", param="limit")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
    query = select(Video).where(Video.user_id == user.id, Video.deleted_at.is_(None))
    if after:
        cursor = session.scalar(select(Video.seq).where(Video.id == after, Video.user_id == user.id))
        if cursor is None:
            raise InvalidRequest(f"after: no video with id {after!r}.", param="after")
        query = query.where(Video.seq > cursor if order == "asc" else Video.seq < cursor)
    query = query.order_by(Video.seq.asc() if order == "asc" else Video.seq.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def delete_video(*, session: Session, storage: Storage, user: User, video_id: str) -> Video:
    """Delete a video and its files; a queued or running job is cancelled (its worker stops at the next step)."""
    video = get_video(session=session, user=user, video_id=video_id)
    now = time.time()
    session.execute(update(Video).where(Video.id == video.id).values(deleted_at=now))
    session.execute(
        update(Video)
        .where(Video.id == video.id, Video.status == "queued")
        .values(status="failed", error_code="cancelled", error_message="Cancelled by the user.", completed_at=now)
    )
    session.commit()
    # A running job's worker removes its files when it notices; anything else is removed here.
    if session.scalar(select(Video.status).where(Video.id == video.id)) != "in_progress":
        purge_files(storage, video.id)
    return video


def live_video_ids(*, session: Session, video_ids: list[str]) -> list[str]:
    """Which of these videos are not deleted."""
    return list(session.scalars(select(Video.id).where(Video.id.in_(video_ids), Video.deleted_at.is_(None))))


def mark_deleted(*, session: Session, video_ids: list[str]) -> None:
    """Mark videos deleted (not committed); `files.purge_files` removes their files once that is committed."""
    session.execute(update(Video).where(Video.id.in_(video_ids)).values(deleted_at=time.time()))


def content_key(*, session: Session, storage: Storage, video: Video, variant: str,
                moderator: bool = False) -> tuple[str, str]:
    """The storage key and media type of a completed video's asset; NotFound for a held video (the owner
    included) unless a moderator asks."""
    if variant not in VARIANTS:
        raise InvalidRequest(f"Invalid variant {variant!r}; allowed: {', '.join(VARIANTS)}.", param="variant")
    if video.status != "completed":
        raise NotFound(f"Video {video.id} is {video.status}; its content exists once it is completed.", param="video_id")
    require_not_held(session=session, video_id=video.id, moderator=moderator)
    key = asset_key(video.id, variant)
    if not storage.exists(key):
        raise NotFound(f"Video {video.id} has no {variant}.", param="variant")
    return key, VARIANTS[variant][1]
