"""`POST /v1/verify`: API clients upload any clip and learn whether, and by whom, it was made here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from duetto.app.api.deps import CurrentUser, ServicesDep, SessionDep
from duetto.app.api.openapi import ERRORS
from duetto.app.provenance.marking import watermark_key
from duetto.app.provenance.verify import verify_upload

router = APIRouter(prefix="/v1", tags=["provenance"], responses=ERRORS)


@router.post("/verify")
def verify(services: ServicesDep, session: SessionDep, user: CurrentUser,
           file: Annotated[UploadFile, File(description="the clip to check (MP4 or any format FFmpeg reads)")],
           ) -> dict[str, Any]:
    # A sync route: decoding and detection are CPU work and run in the thread pool, off the event loop.
    data = file.file.read()
    return verify_upload(session=session, data=data, key=watermark_key(services.settings)).to_dict()
