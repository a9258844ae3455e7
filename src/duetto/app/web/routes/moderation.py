"""The moderation pages: reporting a post, comment or user (/report), the moderators' report queue (/mod), and
the moderation lists: viewing and editing them, trying a text against them (/mod/moderation), and the
decision log with the history of edits (/mod/moderation/log). Takedown requests are provenance's pages."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from duetto.app.api.deps import SessionDep
from duetto.app.api.errors import status_for
from duetto.app.core.errors import DomainError, Forbidden
from duetto.app.core.parsing import RowId
from duetto.app.core.words import counted
from duetto.app.db.models import MODERATION_ACTIONS, Account
from duetto.app.flows import removal
from duetto.app.moderation import check, lists, reports
from duetto.app.web.deps import AccountDep, Csrf, Viewer, ViewerDep, render, safe_next

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
    try:
        reports.report(session=session, reporter_id=account.user_id, kind=kind, target_id=target_id, reason=reason,
                       details=details)
    except DomainError as error:
        # The form again with the reason and what was written, so a report is never typed twice.
        session.rollback()
        context = {"kind": kind, "target_id": target_id, "reasons": reports.REASONS, "next": safe_next(next),
                   "error": error.message, "form": {"reason": reason, "details": details}}
        return render(request, "report.html", context, status_code=status_for(error), session=session)
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
    removal.resolve_report(session=session, moderator_id=account.user_id, is_moderator=viewer.is_admin,
                    report_id=report_id, action=action)
    return RedirectResponse("/mod", status_code=303)


# --- the moderation lists ------------------------------------------------------------------------------

VERDICTS = ("allowed", "refused", "flagged")
SURFACES = ("api_prompt", "web_prompt", "caption", "comment", "message", "handle", "display_name", "bio")


def _require_moderator(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise Forbidden("Only moderators can see and edit the moderation lists.")


def _lists_page(request: Request, session: SessionDep, *, status_code: int = 200, **extra: Any) -> Response:
    by_category: dict[str, list] = {}
    for term in lists.terms(session=session):
        by_category.setdefault(term.category, []).append(term)
    context = {"categories": lists.categories(session=session), "terms": by_category, "actions": MODERATION_ACTIONS,
               "version": lists.list_version(session=session).number, "values": {}, **extra}
    return render(request, "mod_moderation.html", context, status_code=status_code, session=session)


def _done(message: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/mod/moderation?done={quote(message)}{anchor}", status_code=303)


@router.get("/mod/moderation")
def lists_page(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep,
               done: str = "") -> Response:
    _require_moderator(viewer)
    return _lists_page(request, session, done=done[:300])


@router.post("/mod/moderation/terms", dependencies=[Csrf])
def add_terms(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep,
              category: Annotated[str, Form()], terms: Annotated[str, Form()] = "") -> Response:
    _require_moderator(viewer)
    wanted = [line for line in terms.splitlines() if line.strip()]
    try:
        added = lists.add_terms(session=session, category=category, terms=wanted, actor=account.user_id)
    except DomainError as error:
        session.rollback()
        return _lists_page(request, session, status_code=400, error=error.message,
                           values={"category": category, "terms": terms})
    return _done(f"Added {len(added)} of {len(wanted)} to {category}" + (" (the rest were listed already)."
                                                                          if len(added) < len(wanted) else "."),
                 f"#cat-{category}")


@router.post("/mod/moderation/terms/remove", dependencies=[Csrf])
def remove_term(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep,
                category: Annotated[str, Form()], term: Annotated[str, Form()]) -> Response:
    _require_moderator(viewer)
    try:
        removed = lists.remove_terms(session=session, category=category, terms=[term], actor=account.user_id)
    except DomainError as error:
        session.rollback()
        return _lists_page(request, session, status_code=400, error=error.message)
    return _done(f"Removed {', '.join(removed)} from {category}.", f"#cat-{category}")


@router.post("/mod/moderation/categories", dependencies=[Csrf])
def save_category(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep,
                  slug: Annotated[str, Form()], label: Annotated[str, Form()] = "",
                  action: Annotated[str, Form()] = "refuse", reason: Annotated[str, Form()] = "") -> Response:
    _require_moderator(viewer)
    slug = slug.strip()
    try:
        lists.save_category(session=session, slug=slug, actor=account.user_id, label=label or None, action=action,
                            reason=reason or None)
    except DomainError as error:
        session.rollback()
        return _lists_page(request, session, status_code=400, error=error.message,
                           values={"slug": slug, "label": label, "action": action, "reason": reason})
    return _done(f"Saved {slug}.", f"#cat-{slug}")


@router.post("/mod/moderation/categories/{slug}/delete", dependencies=[Csrf])
def delete_category(request: Request, slug: str, session: SessionDep, viewer: ViewerDep, account: AccountDep,
                    confirm: Annotated[str, Form()] = "") -> Response:
    _require_moderator(viewer)
    if confirm != slug:
        return _lists_page(request, session, status_code=400,
                           error=f"To delete {slug} and all its terms, type its name ({slug}) in the box.")
    count = lists.delete_category(session=session, slug=slug, actor=account.user_id)
    return _done(f"Deleted {slug} and its {counted(count, 'term')}.")


@router.post("/mod/moderation/test", dependencies=[Csrf])
def try_text(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep,
             text: Annotated[str, Form()] = "") -> Response:
    """What the lists decide for a text, without logging it: for checking an edit or a complaint."""
    _require_moderator(viewer)
    decision = check.evaluate(session=session, text=text, surface="web_prompt")
    return _lists_page(request, session, trial={"text": text, "decision": decision})


@router.get("/mod/moderation/log")
def log_page(request: Request, session: SessionDep, viewer: ViewerDep, account: AccountDep, verdict: str = "",
             surface: str = "", user: str = "", before: RowId | None = None) -> Response:
    _require_moderator(viewer)
    verdict = verdict if verdict in VERDICTS else ""
    page = 100
    rows = check.decisions(session=session, verdict=verdict or None, surface=surface or None, user_id=user or None,
                           before=before, limit=page)
    ids = {r.user_id for r in rows if r.user_id}
    handles = dict(session.execute(select(Account.user_id, Account.handle).where(Account.user_id.in_(ids))).all())
    context = {"rows": rows, "handles": handles, "verdict": verdict, "surface": surface, "user": user,
               "verdicts": VERDICTS, "surfaces": SURFACES, "changes": lists.changes(session=session, limit=30),
               "older": rows[-1].id if len(rows) == page else None,
               "version": lists.list_version(session=session).number}
    return render(request, "mod_moderation_log.html", context, session=session)
