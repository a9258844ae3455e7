"""Library exports and imports as background jobs: starting one (one at a time per user, a few a day), running
it with progress, reading it back (private to its owner), and expiring what was left behind."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.db import session_scope
from duetto.app.core.errors import Conflict, DomainError, Gone, InvalidRequest, LimitExceeded, NotFound
from duetto.app.core.security import new_id
from duetto.app.db.models import LibraryTransfer
from duetto.app.flows.library.export import write_archive
from duetto.app.flows.library.importer import check_archive, import_archive
from duetto.app.infra.storage import Storage

log = logging.getLogger(__name__)

ACTIVE = ("queued", "in_progress")
DAY_S = 24 * 3600
# A job in progress writes its heartbeat as it goes (every clip); one silent this long lost its server.
STALE_S = 600.0
POST_MODES = ("drafts", "posted")


def archive_key(transfer_id: str) -> str:
    return f"library/{transfer_id}/archive.zip"


def _active(*, session: Session, user_id: str, direction: str) -> LibraryTransfer | None:
    return session.scalar(select(LibraryTransfer).where(
        LibraryTransfer.user_id == user_id, LibraryTransfer.direction == direction,
        LibraryTransfer.status.in_(ACTIVE)))


def _check_can_start(*, session: Session, settings: Settings, user_id: str, direction: str) -> None:
    running = _active(session=session, user_id=user_id, direction=direction)
    if running is not None and not _stale(running):
        raise Conflict(f"An {direction} of your library is already running ({running.id}); wait for it to finish.",
                       code=f"{direction}_in_progress")
    since = time.time() - DAY_S
    recent = session.scalars(select(LibraryTransfer.created_at).where(
        LibraryTransfer.user_id == user_id, LibraryTransfer.direction == direction,
        LibraryTransfer.created_at > since).order_by(LibraryTransfer.created_at)).all()
    if len(recent) >= settings.exports_per_day:
        wait = int(recent[0] + DAY_S - time.time()) + 1
        raise LimitExceeded(f"At most {settings.exports_per_day} library {direction}s a day; try again in "
                            f"{wait // 3600} h {wait % 3600 // 60} min.", retry_after=wait, code=f"{direction}_limit")


def start_export(*, session: Session, settings: Settings, user_id: str, instance: str) -> LibraryTransfer:
    """A queued export of the user's whole library (committed); the caller hands its id to the worker."""
    _check_can_start(session=session, settings=settings, user_id=user_id, direction="export")
    transfer = LibraryTransfer(id=new_id("export"), user_id=user_id, direction="export", status="queued", progress=0,
                               options={"instance": instance}, report={}, created_at=time.time())
    session.add(transfer)
    session.commit()
    return transfer


def start_import(*, session: Session, storage: Storage, settings: Settings, user_id: str, archive: Path,
                 posts: str) -> LibraryTransfer:
    """A queued import of an uploaded archive (stored until the import is done); checked when it runs."""
    if posts not in POST_MODES:
        raise InvalidRequest(f"posts must be one of: {', '.join(POST_MODES)} (what imported posts become).",
                             param="posts")
    size = archive.stat().st_size
    if size == 0:
        raise InvalidRequest("The archive is empty; upload the .zip a Duetto export made.", param="archive")
    if size > settings.max_import_bytes:
        raise InvalidRequest(f"The archive is larger than this server's {settings.max_import_bytes} byte import "
                             "limit; ask the operator to raise DUETTO_MAX_IMPORT_BYTES.", param="archive",
                             code="archive_too_large")
    _check_can_start(session=session, settings=settings, user_id=user_id, direction="import")
    transfer = LibraryTransfer(id=new_id("import"), user_id=user_id, direction="import", status="queued",
                               progress=0, options={"posts": posts}, report={}, created_at=time.time(),
                               archive_bytes=size)
    storage.put_file(archive_key(transfer.id), archive, "application/zip")
    transfer.archive_key = archive_key(transfer.id)
    session.add(transfer)
    session.commit()
    return transfer


def _stale(transfer: LibraryTransfer) -> bool:
    beat = transfer.heartbeat_at or transfer.created_at
    return transfer.status == "in_progress" and beat < time.time() - STALE_S


def get_transfer(*, session: Session, user_id: str, transfer_id: str, direction: str) -> LibraryTransfer:
    """The user's transfer; someone else's is as unknown as one that never existed. A job whose server died is
    shown failed."""
    transfer = session.get(LibraryTransfer, transfer_id)
    if transfer is None or transfer.user_id != user_id or transfer.direction != direction:
        raise NotFound(f"No {direction} found with id {transfer_id!r}.", param=f"{direction}_id")
    if _stale(transfer):
        _fail(transfer, "server_lost", "The server stopped while this ran; start it again.")
        session.commit()
    return transfer


def transfers_of(*, session: Session, user_id: str, direction: str, limit: int = 10) -> list[LibraryTransfer]:
    return list(session.scalars(select(LibraryTransfer).where(
        LibraryTransfer.user_id == user_id, LibraryTransfer.direction == direction)
        .order_by(LibraryTransfer.created_at.desc()).limit(limit)))


def archive_chunks(*, session: Session, storage: Storage, user_id: str, transfer_id: str) -> tuple[Iterator[bytes], int]:
    """The finished export's archive as chunks, and its size; private to its owner, gone once expired."""
    transfer = get_transfer(session=session, user_id=user_id, transfer_id=transfer_id, direction="export")
    if transfer.status != "completed":
        raise Conflict(f"This export is {transfer.status.replace('_', ' ')}; download it once it is completed.",
                       code="export_not_ready")
    if transfer.archive_key is None or (transfer.expires_at or 0) < time.time():
        raise Gone("This export has expired; start a new one.", code="export_expired")
    return storage.iter_bytes(transfer.archive_key), storage.size(transfer.archive_key)


def _fail(transfer: LibraryTransfer, code: str, message: str) -> None:
    transfer.status, transfer.error_code, transfer.error_message = "failed", code, message
    transfer.completed_at = time.time()


class _Progress:
    """Writes progress and the heartbeat in a session of its own, at most every few seconds."""

    def __init__(self, sessions: sessionmaker[Session], transfer_id: str, start: int, end: int) -> None:
        self.sessions, self.transfer_id, self.start, self.end = sessions, transfer_id, start, end
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 1.0 and done < total:
            return
        self.last = now
        with session_scope(self.sessions) as session:
            transfer = session.get(LibraryTransfer, self.transfer_id)
            transfer.progress = self.start + (self.end - self.start) * done // max(total, 1)
            transfer.heartbeat_at = time.time()


def _run_export(transfer: LibraryTransfer, *, session: Session, sessions: sessionmaker[Session], storage: Storage,
                settings: Settings) -> None:
    with tempfile.TemporaryDirectory(prefix="duetto-export-") as folder:
        path = Path(folder) / "library.zip"
        with session_scope(sessions) as reading:  # its own session: a thousand clips' rows come and go
            counts = write_archive(session=reading, storage=storage, settings=settings, user_id=transfer.user_id,
                                   instance=transfer.options.get("instance") or "duetto", target=path,
                                   progress=_Progress(sessions, transfer.id, 0, 95))
        storage.put_file(archive_key(transfer.id), path, "application/zip")
        transfer.archive_key = archive_key(transfer.id)
        transfer.archive_bytes = path.stat().st_size
    transfer.report = counts
    transfer.expires_at = time.time() + settings.export_ttl_hours * 3600


def _run_import(transfer: LibraryTransfer, *, session: Session, sessions: sessionmaker[Session], storage: Storage,
                settings: Settings) -> None:
    with tempfile.TemporaryDirectory(prefix="duetto-import-") as folder:
        path = Path(folder) / "library.zip"
        with path.open("wb") as out:
            for chunk in storage.iter_bytes(transfer.archive_key):
                out.write(chunk)
        checked = check_archive(path, max_unpacked=settings.max_import_unpacked_bytes,
                                progress=_Progress(sessions, transfer.id, 0, 50))
        try:
            transfer.report = import_archive(session=session, storage=storage, user_id=transfer.user_id,
                                             checked=checked, posted=transfer.options.get("posts") == "posted")
        finally:
            checked.close()


def run_transfer(*, sessions: sessionmaker[Session], storage: Storage, settings: Settings, transfer_id: str) -> None:
    """Run one queued export or import to its end; failures are recorded on it, never raised."""
    with session_scope(sessions) as session:
        # Claimed in one statement: of several servers that found it queued, one runs it.
        claimed = session.execute(update(LibraryTransfer).where(
            LibraryTransfer.id == transfer_id, LibraryTransfer.status == "queued")
            .values(status="in_progress", heartbeat_at=time.time())).rowcount
    if not claimed:
        return
    try:
        with session_scope(sessions) as session:
            transfer = session.get(LibraryTransfer, transfer_id)
            try:
                run = _run_export if transfer.direction == "export" else _run_import
                run(transfer, session=session, sessions=sessions, storage=storage, settings=settings)
                transfer = session.get(LibraryTransfer, transfer_id)  # the import's commit expired it
                transfer.status, transfer.progress, transfer.completed_at = "completed", 100, time.time()
            except DomainError as refused:
                session.rollback()
                transfer = session.get(LibraryTransfer, transfer_id)
                _fail(transfer, refused.code or "invalid_archive", refused.message)
            except Exception:
                log.exception("library %s %s failed", transfer.direction, transfer_id)
                session.rollback()
                transfer = session.get(LibraryTransfer, transfer_id)
                _fail(transfer, "internal_error", f"The {transfer.direction} failed on the server; try again later.")
            if transfer.direction == "import" and transfer.archive_key:
                # The uploaded archive is not kept once it is imported or refused.
                with contextlib.suppress(Exception):
                    storage.delete_prefix(f"library/{transfer.id}")
                transfer.archive_key = None
    finally:
        with session_scope(sessions) as session:
            if session.get(LibraryTransfer, transfer_id) is None:
                # The account was deleted while this ran: nothing of its library may stay behind.
                storage.delete_prefix(f"library/{transfer_id}")


def queued_ids(*, session: Session) -> list[str]:
    return list(session.scalars(select(LibraryTransfer.id).where(LibraryTransfer.status == "queued")
                                .order_by(LibraryTransfer.created_at)))


def sweep(*, session: Session, storage: Storage) -> None:
    """Fail jobs whose server died mid-way, and remove expired exports' archives."""
    now = time.time()
    for transfer in session.scalars(select(LibraryTransfer).where(LibraryTransfer.status == "in_progress")):
        if _stale(transfer):
            _fail(transfer, "server_lost", "The server stopped while this ran; start it again.")
    for transfer in session.scalars(select(LibraryTransfer).where(
            LibraryTransfer.archive_key.is_not(None), LibraryTransfer.direction == "export",
            LibraryTransfer.expires_at < now)):
        storage.delete_prefix(f"library/{transfer.id}")
        transfer.archive_key = None
    session.commit()


def summary(transfer: LibraryTransfer) -> dict[str, Any]:
    """What the API and the pages show of a transfer."""
    return {
        "id": transfer.id, "object": f"library.{transfer.direction}", "status": transfer.status,
        "progress": transfer.progress, "created_at": int(transfer.created_at),
        "completed_at": int(transfer.completed_at) if transfer.completed_at else None,
        "expires_at": int(transfer.expires_at) if transfer.expires_at else None,
        "bytes": transfer.archive_bytes, "report": transfer.report or {},
        "error": ({"code": transfer.error_code, "message": transfer.error_message}
                  if transfer.status == "failed" else None),
    }

