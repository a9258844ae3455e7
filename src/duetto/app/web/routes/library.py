"""Your library: download everything you made here as one archive, and bring an archive in from another instance."""

from __future__ import annotations

import tempfile
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.api.errors import status_for
from duetto.app.api.routes.library import archive_response, save_upload
from duetto.app.core.errors import DomainError, InvalidRequest, LimitExceeded
from duetto.app.db.models import Account, LibraryTransfer
from duetto.app.flows.library import transfers
from duetto.app.provenance.exports import instance_label
from duetto.app.web.deps import AccountDep, Csrf, render, wants_json

router = APIRouter(include_in_schema=False)


def _size(size: int | None) -> str:
    if not size:
        return ""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _hours(hours: float) -> str:
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def _label(transfer: LibraryTransfer) -> str:
    if transfer.status == "queued":
        return "Waiting to start…"
    if transfer.status == "in_progress":
        # An import spends its first half checking the archive (see transfers._run_import), then writes it in one go.
        if transfer.direction == "export":
            doing = "Packing your library"
        else:
            doing = "Checking the archive" if transfer.progress < 50 else "Bringing it in"
        return f"{doing} · {transfer.progress}%"
    return {"completed": "Done", "failed": "Failed"}[transfer.status]


def _view(transfer: LibraryTransfer | None) -> dict[str, Any] | None:
    """What the page and its polling script show of a transfer: the API's summary and a few words."""
    if transfer is None:
        return None
    return {**transfers.summary(transfer), "label": _label(transfer), "size": _size(transfer.archive_bytes),
            "active": transfer.status in transfers.ACTIVE,
            # A completed export whose file was swept, or whose time ran out, can no longer be downloaded.
            "available": transfer.archive_key is not None and (transfer.expires_at or 0) > time.time()}


def _latest(session: Session, user_id: str, direction: str) -> LibraryTransfer | None:
    found = transfers.transfers_of(session=session, user_id=user_id, direction=direction, limit=1)
    # Read again through get_transfer, which shows a job whose server died as failed.
    return transfers.get_transfer(session=session, user_id=user_id, transfer_id=found[0].id,
                                  direction=direction) if found else None


def _page(request: Request, session: Session, account: Account, *, export: LibraryTransfer | None = None,
          imported: LibraryTransfer | None = None, errors: dict[str, str] | None = None, posts: str = "drafts",
          status_code: int = 200) -> Response:
    export = export or _latest(session, account.user_id, "export")
    imported = imported or _latest(session, account.user_id, "import")
    settings = request.app.state.services.settings
    return render(request, "settings_library.html", {
        "export": _view(export), "imported": _view(imported), "errors": errors or {}, "posts": posts,
        "ttl": _hours(settings.export_ttl_hours), "max_import": _size(settings.max_import_bytes)},
        status_code=status_code, session=session)


def _refused(request: Request, session: Session, account: Account, error: DomainError, *, direction: str,
             posts: str = "drafts") -> Response:
    """The library page again with the refusal beside the form that asked (a second export, the daily limit)."""
    session.rollback()
    response = _page(request, session, account, errors={direction: error.message}, posts=posts,
                     status_code=status_for(error))
    if isinstance(error, LimitExceeded):
        response.headers["retry-after"] = str(error.retry_after)
    return response


def _shown(request: Request, session: Session, account: Account, transfer: LibraryTransfer) -> Response:
    """One transfer: as JSON for the page's polling script, else the library page showing it."""
    if wants_json(request):
        return JSONResponse(_view(transfer), headers={"cache-control": "no-store"})
    if transfer.direction == "export":
        return _page(request, session, account, export=transfer)
    return _page(request, session, account, imported=transfer)


@router.get("/settings/library")
def library_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _page(request, session, account)


@router.post("/settings/library/export", dependencies=[Csrf])
def start_export(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep) -> Response:
    try:
        transfer = transfers.start_export(session=session, settings=services.settings, user_id=account.user_id,
                                          instance=instance_label(services.settings, request.url.netloc))
    except DomainError as error:
        return _refused(request, session, account, error, direction="export")
    services.library.submit(transfer.id)
    return RedirectResponse(f"/settings/library/exports/{transfer.id}", status_code=303)


@router.get("/settings/library/exports/{export_id}")
def export_page(export_id: str, request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _shown(request, session, account, transfers.get_transfer(
        session=session, user_id=account.user_id, transfer_id=export_id, direction="export"))


@router.get("/settings/library/exports/{export_id}/download")
def download_export(export_id: str, services: ServicesDep, session: SessionDep, account: AccountDep) -> Response:
    """The archive, streamed; someone else's export is a 404 like one that never existed, an expired one 410."""
    return archive_response(session=session, storage=services.storage, user_id=account.user_id, export_id=export_id)


@router.post("/settings/library/import", dependencies=[Csrf])
def start_import(
    request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
    archive: Annotated[UploadFile | None, File()] = None, posts: Annotated[str, Form()] = "drafts",
) -> Response:
    """Archives can be gigabytes: this path's upload limit is the import limit (see main.py), and the file is
    copied to disk in chunks before it is stored for the background import."""
    try:
        if archive is None or not archive.filename:
            raise InvalidRequest("Choose the .zip file a Duetto export made.", param="archive")
        with tempfile.TemporaryDirectory(prefix="duetto-upload-") as folder:
            transfer = transfers.start_import(session=session, storage=services.storage, settings=services.settings,
                                              user_id=account.user_id, archive=save_upload(archive, folder),
                                              posts=posts)
    except DomainError as error:
        return _refused(request, session, account, error, direction="import", posts=posts)
    services.library.submit(transfer.id)
    return RedirectResponse(f"/settings/library/imports/{transfer.id}", status_code=303)


@router.get("/settings/library/imports/{import_id}")
def import_page(import_id: str, request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _shown(request, session, account, transfers.get_transfer(
        session=session, user_id=account.user_id, transfer_id=import_id, direction="import"))
