"""The one job function: take a queued video, generate it, store its files, record the outcome.

It runs the same way under the embedded in-process queue and under a Celery worker. It takes a video ID
and opens its own sessions; the database row is the only record of the job's state.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.characters.jobs import apply_characters
from duetto.app.core.config import Settings
from duetto.app.core.db import session_scope
from duetto.app.db.models import User, Video
from duetto.app.flows.stories import advance
from duetto.app.infra.storage import Storage
from duetto.app.infra.webhooks import deliver, video_event
from duetto.app.provenance.marking import mark_clip, store_print, watermark_key
from duetto.app.videos import stages
from duetto.app.videos.catalog import ModelCatalog
from duetto.app.videos.files import VARIANTS, asset_key, purge_files
from duetto.app.videos.generation import GenerationError, GenerationRequest

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class JobProgress:
    """What a generator reports through: `progress(step, total)` for each denoising step, and
    `progress.stage(name)` as decoding, sound or marking begins (`videos.stages`), which the job's row
    records so that drafts can say what is happening. A generator that only calls it for steps works too."""

    def __init__(self, on_step: Progress, on_stage: Callable[[str], None]) -> None:
        self._on_step, self._on_stage = on_step, on_stage

    def __call__(self, step: int, total: int) -> None:
        self._on_step(step, total)

    def stage(self, name: str) -> None:
        self._on_stage(name)


class Generator(Protocol):
    def __call__(self, request: GenerationRequest, progress: Progress) -> Any: ...


class Renderer(Protocol):
    def __call__(self, clip: Any) -> dict[str, bytes]: ...


@dataclass
class JobContext:
    """What a worker process holds between jobs: settings, sessions, storage, and the engine."""

    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    generate: Generator
    render: Renderer  # clip -> {"video": mp4, "thumbnail": ..., "spritesheet": ...}
    models_dir: Path
    worker_id: str = ""
    # Hands a job to the workers; a story's next job goes this way. None: this worker runs it itself next
    # (a child process that gets its jobs from its parent has no way to hand one back).
    enqueue: Callable[[str], None] | None = None
    # The models a story's next job is checked against; one per worker, so each model folder is read once.
    catalog: ModelCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = ModelCatalog(self.models_dir, default=self.settings.default_model)
        if not self.worker_id:
            # The random part keeps ids unique when a restarted process reuses a pid.
            self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class JobStopped(Exception):
    """The job was cancelled (its video deleted) or taken over by the reaper while running."""


def _claim(ctx: JobContext, video_id: str) -> bool:
    now = time.time()
    with session_scope(ctx.sessions) as session:
        result = session.execute(
            update(Video)
            .where(Video.id == video_id, Video.status == "queued", Video.deleted_at.is_(None))
            .values(
                status="in_progress",
                progress=0,
                attempts=Video.attempts + 1,
                worker_id=ctx.worker_id,
                heartbeat_at=now,
                started_at=now,
            )
        )
        return result.rowcount == 1


def _touch(ctx: JobContext, video_id: str, **values: Any) -> None:
    """Record progress or a heartbeat; raises JobStopped when the job is no longer ours to run."""
    with session_scope(ctx.sessions) as session:
        result = session.execute(
            update(Video)
            .where(
                Video.id == video_id,
                Video.worker_id == ctx.worker_id,
                Video.status == "in_progress",
                Video.deleted_at.is_(None),
            )
            .values(heartbeat_at=time.time(), **values)
        )
        if result.rowcount != 1:
            raise JobStopped(video_id)


class _Heartbeat(threading.Thread):
    """Keeps the job's heartbeat fresh while long steps (model loading, encoding) run."""

    def __init__(self, ctx: JobContext, video_id: str) -> None:
        super().__init__(name=f"heartbeat-{video_id}", daemon=True)
        self.ctx, self.video_id = ctx, video_id
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        interval = max(self.ctx.settings.heartbeat_timeout_s / 4, 0.05)
        while not self.stopped.wait(interval):
            try:
                _touch(self.ctx, self.video_id)
            except JobStopped:
                self.lost.set()
                return
            except Exception:  # a transient database error must not kill the heartbeat
                log.exception("heartbeat for %s failed", self.video_id)


def _load_inputs(ctx: JobContext, video: Video) -> GenerationRequest:
    image = source = sound = None
    if video.input_key:
        data = ctx.storage.get_bytes(video.input_key)
        # A picture's job keeps the sound file it was asked for, whatever its format's suffix.
        if video.kind == "picture":
            sound = data
        elif video.input_key.endswith("source.mp4"):
            source = data
        else:
            image = data
    if video.source_video_id:
        source = ctx.storage.get_bytes(asset_key(video.source_video_id, "video"))
    return GenerationRequest(
        kind=video.kind,
        model_path=ctx.models_dir / video.model,
        prompt=video.prompt,
        seconds=video.generate_seconds,
        size=video.size,
        params=dict(video.params or {}),
        image=image,
        source_mp4=source,
        source_audio=sound,
    )


def _progress(ctx: JobContext, video_id: str) -> int:
    with session_scope(ctx.sessions) as session:
        return int(session.scalar(select(Video.progress).where(Video.id == video_id)) or 0)


def _finish(ctx: JobContext, video_id: str, **values: Any) -> bool:
    with session_scope(ctx.sessions) as session:
        result = session.execute(
            update(Video)
            .where(
                Video.id == video_id,
                Video.worker_id == ctx.worker_id,
                Video.status == "in_progress",
                Video.deleted_at.is_(None),
            )
            .values(**values)
        )
        return result.rowcount == 1


def run_video_job(video_id: str, ctx: JobContext) -> str | None:
    """Run one job to its end; returns the final status, or None when there was nothing to run."""
    if not _claim(ctx, video_id):
        log.info("video %s is not queued (taken, finished or deleted); skipping", video_id)
        return None
    with session_scope(ctx.sessions) as session:
        video = session.scalar(select(Video).where(Video.id == video_id))
        assert video is not None
        session.expunge(video)
    heartbeat = _Heartbeat(ctx, video_id)
    heartbeat.start()
    log.info("video %s: started (attempt %d) on %s", video_id, video.attempts, ctx.worker_id)
    try:
        def step(done: int, total: int) -> None:
            if heartbeat.lost.is_set():
                raise JobStopped(video_id)
            _touch(ctx, video_id, progress=stages.denoise_progress(done, total))

        def stage(name: str) -> None:
            if heartbeat.lost.is_set():
                raise JobStopped(video_id)
            # Never backwards: a stage reported twice, or out of order, leaves the later one standing.
            _touch(ctx, video_id, progress=max(stages.STAGE_PROGRESS[name], _progress(ctx, video_id)))

        if video.kind == "story":
            clip = _stitch_story(ctx, video)
        else:
            # Characters are checked again here: their owner may have revoked the maker since the request.
            request = apply_characters(ctx.sessions, ctx.storage, video, _load_inputs(ctx, video))
            clip = ctx.generate(request, JobProgress(step, stage))
        stage("marking")
        # The invisible marks go in before encoding: the video mark is computed from the exact pixels stored.
        clip, print_bytes = mark_clip(clip, video.seq, watermark_key(ctx.settings))
        assets = ctx.render(clip)
        for variant, data in assets.items():
            ctx.storage.put_bytes(asset_key(video_id, variant), data, VARIANTS[variant][1])
        if print_bytes is not None:
            store_print(ctx.sessions, video_id=video_id, seq=video.seq, user_id=video.user_id, data=print_bytes)
        now = time.time()
        done = _finish(
            ctx,
            video_id,
            status="completed",
            progress=100,
            completed_at=now,
            expires_at=now + ctx.settings.retention_days * 86400,
            heartbeat_at=now,
            params=_with_overlap(video.params, clip),
        )
        if not done:
            raise JobStopped(video_id)
        status = "completed"
    except JobStopped:
        log.info("video %s: stopped (deleted or taken over)", video_id)
        _cleanup_if_deleted(ctx, video_id)
        return None
    except Exception as exc:
        code, message = _describe_failure(exc)
        log.exception("video %s failed: %s", video_id, message)
        if not _finish(ctx, video_id, status="failed", error_code=code, error_message=message, completed_at=time.time()):
            _cleanup_if_deleted(ctx, video_id)
            return None
        status = "failed"
    finally:
        heartbeat.stopped.set()
    send_webhook(ctx.sessions, ctx.settings, video_id)
    if (video.params or {}).get("story_id"):
        _advance_story(ctx, video.params["story_id"])
    return status


def _with_overlap(params: dict[str, Any] | None, clip: Any) -> dict[str, Any]:
    """The job's params, with how many first frames repeat the shot before (a story's shot), for stitching."""
    params = dict(params or {})
    overlap = (getattr(clip, "metadata", None) or {}).get("overlap_frames")
    if overlap is not None:
        params["overlap_frames"] = int(overlap)
    return params


def _stitch_story(ctx: JobContext, video: Video) -> Any:
    """A story's video: its shots' takes, joined with the sound continuous across each cut."""
    from duetto.media import read_mp4
    from duetto.media.stitch import stitch

    takes = video.params["shots"]
    with session_scope(ctx.sessions) as session:
        rows = {v.id: (v.params or {}, v.deleted_at) for v in session.scalars(select(Video).where(Video.id.in_(takes)))}
    clips, overlaps = [], []
    for position, take in enumerate(takes):
        params, deleted_at = rows.get(take, ({}, time.time()))
        if deleted_at is not None or not ctx.storage.exists(asset_key(take, "video")):
            raise GenerationError("shot_missing", f"Shot {position + 1}'s video was deleted; regenerate that shot.")
        clips.append(read_mp4(ctx.storage.get_bytes(asset_key(take, "video"))))
        overlaps.append(int(params.get("overlap_frames", 0)) if position else 0)
    try:
        clip = stitch(clips, overlaps)
    except ValueError as error:
        raise GenerationError("invalid_request", f"The shots could not be joined: {error}.") from None
    clip.metadata.update(model=video.model, prompt=video.prompt, mode="story")
    return clip


def _advance_story(ctx: JobContext, story_id: str) -> None:
    """Make the story's next job, now that one of its jobs ended, and hand it on (or run it here)."""
    try:
        with session_scope(ctx.sessions) as session:
            next_ids = advance(session=session, settings=ctx.settings, catalog=ctx.catalog, storage=ctx.storage,
                               story_id=story_id)
    except Exception:  # the reaper's sweep advances stalled stories; this worker goes on
        log.exception("story %s: could not make its next job", story_id)
        return
    for next_id in next_ids:
        if ctx.enqueue is not None:
            ctx.enqueue(next_id)
        else:
            run_video_job(next_id, ctx)


def _describe_failure(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, GenerationError):
        return exc.code, exc.message
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
    if isinstance(exc, ValueError):
        # The engine raises ValueError for inputs it cannot use (a size, a length, an image).
        return "invalid_request", first_line
    return "generation_failed", f"Generation failed: {type(exc).__name__}: {first_line}"


def _cleanup_if_deleted(ctx: JobContext, video_id: str) -> None:
    with session_scope(ctx.sessions) as session:
        deleted = session.scalar(select(Video.deleted_at).where(Video.id == video_id))
        if deleted is not None:
            # A cancelled job ends as failed/cancelled, so nothing (the reaper included) sees it running.
            session.execute(
                update(Video)
                .where(Video.id == video_id, Video.status == "in_progress")
                .values(status="failed", error_code="cancelled", error_message="Cancelled by the user.",
                        completed_at=time.time())
            )
    if deleted is not None:
        purge_files(ctx.storage, video_id)


def send_webhook(sessions: sessionmaker[Session], settings: Settings, video_id: str) -> None:
    """Tell the video's webhook URL, if any, that the job finished, and record how that went."""
    with session_scope(sessions) as session:
        row = session.execute(
            select(Video.webhook_url, Video.status, User.webhook_secret)
            .join(User, User.id == Video.user_id)
            .where(Video.id == video_id)
        ).one_or_none()
    if row is None or not row.webhook_url or row.status not in ("completed", "failed"):
        return
    event_id, body = video_event(video_id=video_id, status=row.status)
    outcome = deliver(
        url=row.webhook_url,
        secret=row.webhook_secret,
        event_id=event_id,
        body=body,
        attempts=settings.webhook_attempts,
        timeout_s=settings.webhook_timeout_s,
        allow_private=settings.webhook_allow_private,
    )
    with session_scope(sessions) as session:
        session.execute(update(Video).where(Video.id == video_id).values(webhook_status=outcome))
