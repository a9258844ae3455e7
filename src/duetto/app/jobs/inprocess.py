"""The embedded default's worker: one thread in the server process running jobs one at a time."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.db import session_scope
from duetto.app.db.models import Video

log = logging.getLogger(__name__)

_STOP = object()


class InProcessQueue:
    """Feeds video IDs to `run` on a single worker thread; the database, not this queue, is the record."""

    def __init__(self, run: Callable[[str], object], *, sessions: sessionmaker[Session]) -> None:
        self.run = run
        self.sessions = sessions
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="duetto-worker", daemon=True)

    def start(self) -> None:
        # Jobs queued before a restart are still in the database; pick them up in order.
        with session_scope(self.sessions) as session:
            waiting = session.scalars(
                select(Video.id).where(Video.status == "queued", Video.deleted_at.is_(None)).order_by(Video.seq)
            ).all()
        for video_id in waiting:
            self._queue.put(video_id)
        self._thread.start()

    def enqueue(self, video_id: str) -> None:
        self._queue.put(video_id)

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.run(str(item))
            except Exception:  # run_video_job records failures itself; this is the last guard
                log.exception("job %s crashed the worker loop", item)
