"""Reporting posts, comments and users, and the moderators' queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from duetto.app.api.deps import SessionDep
from duetto.app.core.parsing import RowId
from duetto.app.social import reports
from duetto.app.social.errors import Forbidden
from duetto.app.web.deps import AccountDep, Csrf, ViewerDep, render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/report")
def report_page(request: Request, session: SessionDep, account: AccountDep, kind: str, id: str,  # noqa: A002
                next: str = "/") -> Response:  # noqa: A002
    return render(request, "report.html", {"kind": kind, "target_id": id, "reasons": reports.REASONS,
                                           "next": safe_next(next)}, session=session)


@router.post("/report", dependencies=[Csrf])
def report(request: Request, session: SessionDep, account: AccountDep, kind: Annotated[str, Form()],
           target_id: Annotated[str, Form()], reason: Annotated[str, Form()], details: Annotated[str, Form()] = "",
           next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    reports.report(session=session, reporter_id=account.user_id, kind=kind, target_id=target_id, reason=reason,
                   details=details)
    return render(request, "reported.html", {"next": safe_next(next)}, session=session)


@router.get("/mod")
def queue(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep,
          status: str = "open") -> Response:
    if not viewer.is_admin:
        raise Forbidden("Only moderators can see the report queue.")
    status = status if status in ("open", "removed", "dismissed") else "open"
    items = reports.queue(session=session, status=status)
    return render(request, "mod.html", {"items": items, "status": status, "reasons": reports.LABELS},
                  session=session)


@router.post("/mod/{report_id}", dependencies=[Csrf])
def resolve(report_id: RowId, session: SessionDep, viewer: ViewerDep, account: AccountDep,
            action: Annotated[str, Form()]) -> Response:
    reports.resolve(session=session, moderator_id=account.user_id, is_moderator=viewer.is_admin,
                    report_id=report_id, action=action)
    return RedirectResponse("/mod", status_code=303)
