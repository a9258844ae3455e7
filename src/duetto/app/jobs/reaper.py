"""Finding jobs whose worker died: retry each once, then fail it with a clear error, never leave it running."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.db import session_scope
from duetto.app.db.models import Video
from duetto.app.flows.stories import advance, stalled_stories
from duetto.app.infra.storage import Storage
from duetto.app.videos.catalog import ModelCatalog

log = logging.getLogger(__name__)

WORKER_LOST = "worker_lost"


def reap_stale_jobs(*, session: Session, settings: Settings, now: float | None = None) -> tuple[list[str], list[str]]:
    """Requeue or fail every running job whose heartbeat is older than the timeout.

    Each change is conditional on the row still being as it was read, so several API processes can
    reap at once without double-handling a job. Returns (requeued ids, failed ids); the caller
    enqueues the first and sends webhooks for the second.
    """
    now = time.time() if now is None else now
    cutoff = now - settings.heartbeat_timeout_s
    stale = session.execute(
        select(Video.id, Video.attempts, Video.worker_id, Video.deleted_at).where(
            Video.status == "in_progress", Video.heartbeat_at < cutoff
        )
    ).all()
    requeued, failed = [], []
    for video_id, attempts, worker_id, deleted_at in stale:
        unchanged = (
            Video.id == video_id,
            Video.status == "in_progress",
            Video.attempts == attempts,
            Video.worker_id == worker_id,
            Video.heartbeat_at < cutoff,
        )
        if deleted_at is not None:
            # Deleted while its worker was dying: nothing to retry, and no one to tell.
            session.execute(
                update(Video).where(*unchanged).values(status="failed", error_code="cancelled",
                                                       error_message="Cancelled by the user.", completed_at=now)
            )
            continue
        if attempts < settings.max_attempts:
            values = dict(status="queued", progress=0, worker_id=None, heartbeat_at=None)
            target = requeued
        else:
            values = dict(
                status="failed",
                error_code=WORKER_LOST,
                error_message=(
                    f"The worker running this job stopped responding {attempts} times; "
                    "the job was not retried again. Submit it again, or ask the operator to check the workers."
                ),
                completed_at=now,
            )
            target = failed
        if session.execute(update(Video).where(*unchanged).values(**values)).rowcount == 1:
            target.append(video_id)
    session.commit()
    for video_id in requeued:
        log.warning("video %s: worker lost; requeued", video_id)
    for video_id in failed:
        log.error("video %s: worker lost again; failed", video_id)
    return requeued, failed


class Reaper(threading.Thread):
    """Sweeps for stale jobs every `reaper_interval_s` in the API process."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        enqueue: Callable[[str], None],
        notify_failed: Callable[[str], None],
        storage: Storage,
        catalog: ModelCatalog,
    ) -> None:
        super().__init__(name="duetto-reaper", daemon=True)
        self.sessions, self.settings = sessions, settings
        self.enqueue, self.notify_failed = enqueue, notify_failed
        self.storage, self.catalog = storage, catalog
        self.stopped = threading.Event()

    def sweep(self) -> None:
        with session_scope(self.sessions) as session:
            requeued, failed = reap_stale_jobs(session=session, settings=self.settings)
        for video_id in requeued:
            self.enqueue(video_id)
        for video_id in failed:
            self.notify_failed(video_id)
        self.sweep_stories()

    def sweep_stories(self) -> None:
        """Stories left between two jobs (their worker died after one ended, before making the next) go on."""
        with session_scope(self.sessions) as session:
            stalled = stalled_stories(session=session, quiet_s=self.settings.heartbeat_timeout_s)
        for story_id in stalled:
            with session_scope(self.sessions) as session:
                next_ids = advance(session=session, settings=self.settings, catalog=self.catalog,
                                   storage=self.storage, story_id=story_id)
            for video_id in next_ids:
                log.warning("story %s was stalled; made its next job %s", story_id, video_id)
                self.enqueue(video_id)

    def run(self) -> None:
        while not self.stopped.wait(self.settings.reaper_interval_s):
            try:
                self.sweep()
            except Exception:  # the database may be briefly away; try again next sweep
                log.exception("reaper sweep failed")

    def stop(self) -> None:
        self.stopped.set()
