"""Direct messages: the inbox, a conversation, sending text or a video, and picking whom to share with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from duetto.app.api.deps import SessionDep
from duetto.app.core.errors import DomainError, Forbidden, NotFound
from duetto.app.db.models import Post
from duetto.app.social import graph
from duetto.app.social import messages as dms
from duetto.app.social import posts as posts_service
from duetto.app.users import accounts
from duetto.app.users.handles import normalize_handle
from duetto.app.web.deps import AccountDep, Csrf, render

router = APIRouter(include_in_schema=False)

# Refusals by the recipient's safety settings (wellbeing.safety), as opposed to a block.
_RECIPIENT_RULES = ("dm_not_allowed", "dm_wait_for_reply")


def _inbox(request: Request, session: SessionDep, account: AccountDep, *, share: str | None = None,
           status_code: int = 200, error: str | None = None, to: str = "") -> Response:
    """The inbox; after a refused "new message", with the reason and the handle as typed."""
    threads = dms.inbox(session=session, viewer_id=account.user_id)
    people = graph.people(session=session, user_id=account.user_id, direction="following")
    context = {"threads": threads, "share": share, "people": people, "error": error, "to": to}
    return render(request, "inbox.html", context, status_code=status_code, session=session)


@router.get("/messages")
def inbox(request: Request, session: SessionDep, account: AccountDep, share: str | None = None) -> Response:
    return _inbox(request, session, account, share=share)


def _thread_context(session: SessionDep, me_id: str, handle: str, share: str | None) -> dict[str, object]:
    other = accounts.get_account(session=session, handle=handle)
    if other is None or other.user_id == me_id:
        raise NotFound(f"No one here goes by @{normalize_handle(handle)}.")
    relation = graph.relation(session=session, viewer_id=me_id, other_id=other.user_id)
    if relation.blocked_by:
        raise NotFound(f"No one here goes by @{other.handle}.")
    history = dms.conversation(session=session, viewer_id=me_id, other_id=other.user_id)
    shared_ids = {m.post_id for m in history if m.post_id} | ({share} if share else set())
    shared_posts = list(session.scalars(select(Post).where(Post.id.in_(shared_ids)))) if shared_ids else []
    visible = {c.post.id: c for c in posts_service.cards(session=session, posts=shared_posts, viewer_id=me_id)}
    return {"other": other, "messages": history, "relation": relation, "shared": visible,
            "share": share if share in visible else None}


@router.get("/messages/@{handle}")
def thread(request: Request, handle: str, session: SessionDep, account: AccountDep,
           share: str | None = None) -> Response:
    return render(request, "thread.html", _thread_context(session, account.user_id, handle, share), session=session)


@router.post("/messages/@{handle}", dependencies=[Csrf])
def send(request: Request, handle: str, session: SessionDep, account: AccountDep,
         body: Annotated[str, Form()] = "", post_id: Annotated[str, Form()] = "") -> Response:
    other = accounts.get_account(session=session, handle=handle)
    if other is None:
        raise NotFound(f"No one here goes by @{normalize_handle(handle)}.")
    try:
        dms.send(session=session, sender_id=account.user_id, recipient_id=other.user_id, body=body, post_id=post_id)
    except DomainError as error:
        if isinstance(error, Forbidden) and error.code not in _RECIPIENT_RULES:
            raise  # a block: the error page, since the conversation itself is hidden from them now
        # Bad input, or the recipient's own rules: said in the conversation, with what was typed kept.
        context = _thread_context(session, account.user_id, handle, post_id or None)
        context["error"], context["body"] = error.message, body
        return render(request, "thread.html", context, status_code=403 if isinstance(error, Forbidden) else 400,
                      session=session)
    return RedirectResponse(f"/messages/@{other.handle}#latest", status_code=303)


@router.post("/messages", dependencies=[Csrf])
def start(request: Request, session: SessionDep, account: AccountDep, to: Annotated[str, Form()] = "",
          share: Annotated[str, Form()] = "") -> Response:
    """The "send to…" form: open the conversation with whoever was typed, carrying the video to share.

    A handle nobody has is answered in the form, with what was typed, rather than on an error page."""
    handle = normalize_handle(to)
    other = accounts.get_account(session=session, handle=to) if handle else None
    if other is not None and graph.relation(session=session, viewer_id=account.user_id,
                                            other_id=other.user_id).blocked_by:
        other = None  # someone who blocked the viewer does not exist for them (blocks hide both ways)
    if other is None or other.user_id == account.user_id:
        status, error = 400, "Type the handle of the person to message, e.g. @ann."
        if other is not None:
            error = "That is you; type someone else's handle."
        elif handle:
            status, error = 404, (f"No one here goes by @{handle[:40]}. Check the spelling, or pick someone you "
                                  "follow from the list.")
        return _inbox(request, session, account, share=share or None, status_code=status, error=error, to=to)
    suffix = f"?share={share}" if share else ""
    return RedirectResponse(f"/messages/@{other.handle}{suffix}", status_code=303)
