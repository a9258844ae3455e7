"""`/v1/exports` and `/v1/imports`: take a whole library out as one archive, or bring one in from another
instance. Both run in the background; poll the object until `status` is `completed` or `failed`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from duetto.app.api.deps import CurrentUser, ServicesDep, SessionDep
from duetto.app.api.openapi import ERRORS
from duetto.app.flows.library import transfers
from duetto.app.infra.storage import Storage
from duetto.app.provenance.exports import instance_label

router = APIRouter(prefix="/v1", tags=["library"], responses=ERRORS)


class TransferError(BaseModel):
    code: str | None
    message: str | None


class LibraryTransferObject(BaseModel):
    """An export or an import of a whole library."""

    id: str
    object: Literal["library.export", "library.import"]
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    bytes: int | None
    report: dict[str, Any]
    error: TransferError | None


@router.post("/exports", response_model=LibraryTransferObject)
def create_export(request: Request, services: ServicesDep, session: SessionDep,
                  user: CurrentUser) -> dict[str, Any]:
    """Start an export of everything you made, set and said here; one at a time, a few a day."""
    transfer = transfers.start_export(session=session, settings=services.settings, user_id=user.id,
                                      instance=instance_label(services.settings, request.url.netloc))
    services.library.submit(transfer.id)
    return transfers.summary(transfer)


@router.get("/exports/{export_id}", response_model=LibraryTransferObject)
def get_export(export_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return transfers.summary(transfers.get_transfer(session=session, user_id=user.id, transfer_id=export_id,
                                                    direction="export"))


@router.get("/exports/{export_id}/content", response_class=StreamingResponse, responses={200: {
    "content": {"application/zip": {}}, "description": "The archive (410 once it expired)"}})
def download_export(export_id: str, services: ServicesDep, session: SessionDep, user: CurrentUser) -> StreamingResponse:
    return archive_response(session=session, storage=services.storage, user_id=user.id, export_id=export_id)


def archive_response(*, session: Session, storage: Storage, user_id: str, export_id: str) -> StreamingResponse:
    """A finished export's zip, streamed, for its owner only (the web app's download link too)."""
    chunks, size = transfers.archive_chunks(session=session, storage=storage, user_id=user_id, transfer_id=export_id)
    return StreamingResponse(chunks, media_type="application/zip", headers={
        "content-length": str(size), "content-disposition": f'attachment; filename="duetto-library-{export_id}.zip"',
        "cache-control": "private, no-store"})


def save_upload(upload: UploadFile, folder: str) -> Path:
    """The uploaded archive as a file on disk (copied in chunks: archives can be gigabytes)."""
    path = Path(folder) / "upload.zip"
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)
    return path


@router.post("/imports", response_model=LibraryTransferObject)
def create_import(services: ServicesDep, session: SessionDep, user: CurrentUser,
                  archive: Annotated[UploadFile, File(description="the .zip a Duetto export made")],
                  posts: Annotated[Literal["drafts", "posted"], Form(
                      description="what imported posts become: drafts until you post them, or posted")] = "drafts",
                  ) -> dict[str, Any]:
    """Start importing an archive from another Duetto instance; it is checked whole before anything is written."""
    with tempfile.TemporaryDirectory(prefix="duetto-upload-") as folder:
        transfer = transfers.start_import(session=session, storage=services.storage, settings=services.settings,
                                          user_id=user.id, archive=save_upload(archive, folder), posts=posts)
    services.library.submit(transfer.id)
    return transfers.summary(transfer)


@router.get("/imports/{import_id}", response_model=LibraryTransferObject)
def get_import(import_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return transfers.summary(transfers.get_transfer(session=session, user_id=user.id, transfer_id=import_id,
                                                    direction="import"))
