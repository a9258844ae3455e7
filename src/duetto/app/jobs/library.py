"""The background runner of library exports and imports: a small thread pool in the server process. Both are
storage and database work, not generation, so they do not wait behind videos in the generation queue."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.db import session_scope
from duetto.app.flows.library import transfers
from duetto.app.infra.storage import Storage

log = logging.getLogger(__name__)


class LibraryJobs:
    def __init__(self, *, sessions: sessionmaker[Session], storage: Storage, settings: Settings,
                 workers: int = 2) -> None:
        self.sessions, self.storage, self.settings = sessions, storage, settings
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="duetto-library")

    def start(self) -> None:
        """Fail what a dead server left in progress, expire old archives, and run what is still queued."""
        with session_scope(self.sessions) as session:
            transfers.sweep(session=session, storage=self.storage)
            queued = transfers.queued_ids(session=session)
        for transfer_id in queued:
            self.submit(transfer_id)

    def submit(self, transfer_id: str) -> None:
        self.pool.submit(self._run, transfer_id)

    def _run(self, transfer_id: str) -> None:
        try:
            transfers.run_transfer(sessions=self.sessions, storage=self.storage, settings=self.settings,
                                   transfer_id=transfer_id)
        except Exception:  # run_transfer records failures; this is only for a broken database
            log.exception("library transfer %s could not run", transfer_id)

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
