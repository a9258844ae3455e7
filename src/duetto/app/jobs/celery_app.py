"""Celery for the scale-out set: a Redis broker, late acks, one job at a time per (GPU) worker process."""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery

from duetto.app.core.config import Settings

TASK_NAME = "duetto.videos.run"


def make_celery(settings: Settings) -> Celery:
    app = Celery("duetto", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        # A job is acknowledged only after it ran, and a worker holds one job at a time, so a dead
        # worker loses at most the job it was running (which the reaper then retries).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_default_queue=settings.celery_queue,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 6 * 3600},
        worker_hijack_root_logger=False,
    )

    @app.task(name=TASK_NAME)
    def run_video(video_id: str) -> str | None:
        from duetto.app.jobs.runner import run_video_job

        context = worker_context(settings)
        if context.enqueue is None:
            # A story's next job goes back through the broker, to whichever worker is free.
            context.enqueue = lambda next_id: app.send_task(TASK_NAME, args=[next_id], queue=settings.celery_queue)
        return run_video_job(video_id, context)

    return app


_context: Any = None
_context_lock = threading.Lock()


def worker_context(settings: Settings) -> Any:
    """The worker process's JobContext, built on its first job and kept, so models stay loaded."""
    global _context
    with _context_lock:
        if _context is None:
            from duetto.app.jobs.context import build_context

            _context = build_context(settings)
        return _context


class CeleryQueue:
    """The API side: sends job IDs to the workers through the broker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = make_celery(settings)

    def start(self) -> None:
        pass

    def enqueue(self, video_id: str) -> None:
        self.app.send_task(TASK_NAME, args=[video_id], queue=self.settings.celery_queue)

    def stop(self) -> None:
        self.app.close()
