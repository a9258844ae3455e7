"""The embedded default's worker as a child process of `duetto serve`, so generation never holds the
API's GIL; jobs arrive by ID over a pipe and the database stays the record."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.db import session_scope
from duetto.app.db.models import Video

log = logging.getLogger(__name__)


def _exit_with_parent(parent_pid: int) -> None:
    # A killed server must not leave its worker running the job: the reaper has to see it as lost.
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def _worker_main(settings_data: dict[str, Any], jobs: Any, parent_pid: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    try:
        os.nice(10)  # the API in the parent answers first when both want the CPU
    except OSError:
        pass
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from duetto.app.jobs.context import build_context
    from duetto.app.jobs.runner import run_video_job

    ctx = build_context(Settings(**settings_data))
    while (video_id := jobs.get()) is not None:
        try:
            run_video_job(video_id, ctx)
        except Exception:  # run_video_job records failures itself; this is the last guard
            log.exception("job %s crashed the worker loop", video_id)


class ProcessQueue:
    """One spawned worker process (never forked: torch must not start in a forked parent), restarted if it
    dies; a job it was running is then retried by the reaper, and the jobs it had not started are re-sent."""

    def __init__(self, settings: Settings, *, sessions: sessionmaker[Session], check_every_s: float = 2.0) -> None:
        self.settings = settings
        self.sessions = sessions
        self.check_every_s = check_every_s
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._process: Any = None
        self._jobs: Any = None
        self._monitor = threading.Thread(target=self._watch, name="duetto-worker-monitor", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _spawn(self) -> None:
        self._jobs = self._context.SimpleQueue()
        self._process = self._context.Process(
            target=_worker_main,
            args=(self.settings.model_dump(), self._jobs, os.getpid()),
            name="duetto-worker",
            daemon=True,
        )
        self._process.start()
        # Whatever waits in the database goes to the new process; a job sent twice is claimed once.
        with session_scope(self.sessions) as session:
            waiting = session.scalars(
                select(Video.id).where(Video.status == "queued", Video.deleted_at.is_(None)).order_by(Video.seq)
            ).all()
        for video_id in waiting:
            self._jobs.put(video_id)

    def start(self) -> None:
        with self._lock:
            self._spawn()
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stopped.wait(self.check_every_s):
            with self._lock:
                if self._stopped.is_set() or self._process.is_alive():
                    continue
                log.error("the worker process exited (code %s); starting a new one", self._process.exitcode)
                try:
                    self._spawn()
                except Exception:  # try again on the next check
                    log.exception("could not restart the worker process")

    def enqueue(self, video_id: str) -> None:
        with self._lock:
            if self._jobs is None:
                # Not started: the job waits in the database, and start() sends every queued job.
                return
            self._jobs.put(video_id)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        with self._lock:
            if self._process.is_alive():
                self._jobs.put(None)
                self._process.join(timeout)
            if self._process.is_alive():
                # A job still running is abandoned; its heartbeat stops and the reaper retries it.
                self._process.terminate()
                self._process.join(timeout)
