"""Public safety pages: Verify (was this clip made here, by whom?) and takedown requests with their review queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.api.errors import status_for
from duetto.app.core.errors import DomainError, Forbidden, LimitExceeded, NotFound
from duetto.app.core.parsing import RowId
from duetto.app.flows import removal
from duetto.app.provenance import takedown
from duetto.app.provenance.marking import watermark_key
from duetto.app.provenance.verify import verify_upload
from duetto.app.web.deps import AccountDep, Csrf, ViewerDep, client_address, limited, render

router = APIRouter(include_in_schema=False)


@router.get("/verify")
def verify_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return render(request, "verify.html", {"report": None}, session=session)


@router.post("/verify", dependencies=[Csrf])
def verify(request: Request, services: ServicesDep, session: SessionDep, viewer: ViewerDep,
           file: Annotated[UploadFile | None, File()] = None) -> Response:
    """An unreadable or missing file is answered in the form, in words, never on an error page."""
    filename = (file.filename if file is not None else "") or "upload"
    try:
        report = verify_upload(session=session, data=file.file.read() if file is not None else b"",
                               key=watermark_key(services.settings))
    except DomainError as error:
        session.rollback()
        return render(request, "verify.html", {"report": None, "error": error.message, "filename": filename},
                      status_code=status_for(error), session=session)
    return render(request, "verify.html", {"report": report, "filename": filename}, session=session)


# --- Takedown requests: a public form, a status page per ticket, and the moderators' 48-hour queue ------


@router.get("/takedown")
def takedown_page(request: Request, session: SessionDep, viewer: ViewerDep, post: str = "") -> Response:
    return render(request, "takedown.html", {"categories": takedown.CATEGORIES, "post": post,
                                             "hours": takedown.REVIEW_HOURS}, session=session)


@router.post("/takedown", dependencies=[Csrf])
def takedown_request(request: Request, session: SessionDep, viewer: ViewerDep, post: Annotated[str, Form()],
                     category: Annotated[str, Form()], details: Annotated[str, Form()] = "",
                     contact: Annotated[str, Form()] = "") -> Response:
    """A request hides its post at once, so requests are limited per address (10 an hour by default)."""
    context = {"categories": takedown.CATEGORIES, "post": post, "hours": takedown.REVIEW_HOURS,
               "form": {"category": category, "details": details, "contact": contact}}
    try:
        request.app.state.web_limits.takedown.hit(client_address(request))
        item = takedown.request_takedown(session=session, post=post, category=category, details=details,
                                         contact=contact)
    except LimitExceeded as error:
        error.message = (f"Too many takedown requests from this address; try again in {error.retry_after} "
                         "seconds, or write to the instance's operator.")
        return limited(request, "takedown.html", context, error)
    except DomainError as error:
        session.rollback()
        status = 404 if isinstance(error, NotFound) else 400
        return render(request, "takedown.html", {**context, "error": error.message}, status_code=status,
                      session=session)
    return RedirectResponse(f"/takedown/{item.ticket}", status_code=303)


@router.get("/takedown/{ticket}")
def takedown_status(request: Request, ticket: str, session: SessionDep, viewer: ViewerDep) -> Response:
    item = takedown.by_ticket(session=session, ticket=ticket)
    return render(request, "takedown_status.html", {"item": item, "categories": takedown.CATEGORIES},
                  session=session)


@router.get("/mod/takedowns")
def takedown_queue(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep) -> Response:
    if not viewer.is_admin:
        raise Forbidden("Only moderators can see takedown requests.")
    return render(request, "mod_takedowns.html", {"items": takedown.queue(session=session),
                                                  "categories": takedown.CATEGORIES}, session=session)


@router.post("/mod/takedowns/{takedown_id}", dependencies=[Csrf])
def takedown_decide(takedown_id: RowId, services: ServicesDep, session: SessionDep, viewer: ViewerDep,
                    account: AccountDep, action: Annotated[str, Form()]) -> Response:
    removal.resolve_takedown(session=session, storage=services.storage, takedown_id=takedown_id,
                     moderator_id=account.user_id, is_moderator=viewer.is_admin, action=action)
    return RedirectResponse("/mod/takedowns", status_code=303)
