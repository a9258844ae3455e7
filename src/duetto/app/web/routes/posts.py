"""A post's page (player, lineage, remixes, comments) and what can be done to a post."""

from __future__ import annotations

import secrets
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.core.errors import Conflict, InvalidRequest, NotFound
from duetto.app.core.parsing import RowId, parse_json_object
from duetto.app.db.models import Account, Post, Video
from duetto.app.feed import service as feed
from duetto.app.provenance import takedown
from duetto.app.provenance.exports import export_mp4, instance_label
from duetto.app.social import engagement, graph
from duetto.app.social import posts as posts_service
from duetto.app.videos import prompt_format
from duetto.app.web.deps import AccountDep, Csrf, Viewer, ViewerDep, render, safe_next, wants_json

router = APIRouter(include_in_schema=False)
# What a post made for its creator's own upload says it is: only the other half was generated.
MODES = {"sound": "Sound generated for the creator's own video", "picture": "Picture generated for the creator's own sound"}


@router.get("/p/{post_id}")
def post_page(request: Request, post_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    case = _own_case(session, viewer, post_id)
    if case is not None:
        return _review_page(request, session, viewer, case)
    return render(request, "post.html", _post_context(request, session, viewer, post_id), session=session)


def _own_case(session: SessionDep, viewer: Viewer, post_id: str) -> takedown.CreatorCase | None:
    """The viewer's own post under review: they see its case in place of the post (never its picture, which is
    held from everyone but moderators)."""
    if viewer.user_id is None or viewer.is_admin:
        return None
    return takedown.open_case(session=session, user_id=viewer.user_id, post_id=post_id)


def _review_page(request: Request, session: SessionDep, viewer: Viewer, case: takedown.CreatorCase, *,
                 status_code: int = 200, **extra: object) -> Response:
    # Opening the case is reading its notice: the banner on every page goes once the creator has seen it.
    assert viewer.user_id is not None
    takedown.mark_seen(session=session, user_id=viewer.user_id, post_id=case.post_id)
    context = {"case": case, "categories": takedown.CATEGORIES, "max_answer": takedown.MAX_ANSWER, **extra}
    return render(request, "post_review.html", context, status_code=status_code, session=session)


@router.post("/p/{post_id}/notice-seen", dependencies=[Csrf])
def takedown_notice_seen(request: Request, post_id: str, session: SessionDep, account: AccountDep) -> Response:
    """The creator read the outcome of a takedown case about their post: its notice goes."""
    takedown.mark_seen(session=session, user_id=account.user_id, post_id=post_id)
    return _back(request, "/")


@router.post("/p/{post_id}/answer", dependencies=[Csrf])
def answer_takedown(request: Request, post_id: str, session: SessionDep, viewer: ViewerDep, account: AccountDep,
                    answer: Annotated[str, Form()] = "") -> Response:
    """The creator's one answer to a takedown request about their post; refusals keep what they wrote."""
    try:
        takedown.answer(session=session, user_id=account.user_id, post_id=post_id, text=answer)
    except (InvalidRequest, Conflict) as error:
        session.rollback()
        case = _own_case(session, viewer, post_id)
        if case is None:
            raise
        return _review_page(request, session, viewer, case, status_code=400 if isinstance(error, InvalidRequest) else 409,
                            answer_error=error.message, answer_text=answer)
    return RedirectResponse(f"/p/{post_id}#answer", status_code=303)


def _post_context(request: Request, session: SessionDep, viewer: Viewer, post_id: str) -> dict[str, object]:
    post = posts_service.get_post(session=session, post_id=post_id, viewer_id=viewer.user_id,
                                  include_held=viewer.is_admin)
    found = posts_service.cards(session=session, posts=[post], viewer_id=viewer.user_id, include_held=viewer.is_admin)
    if not found:
        raise NotFound("This post's video is no longer available.")
    card = found[0]
    root = None
    if post.root_post_id and post.root_post_id != post.parent_post_id:
        root_post = session.scalar(select(Post).where(Post.id == post.root_post_id))
        if root_post is not None:
            root = {"post": root_post, "author": session.get(Account, root_post.user_id)}
    listed = posts_service.remixes(session=session, post=post, viewer_id=viewer.user_id, include_held=viewer.is_admin)
    remixes = posts_service.cards(session=session, viewer_id=viewer.user_id, posts=listed, include_held=viewer.is_admin)
    picture, sound = prompt_format.split(card.video.prompt)
    comments, filtered = engagement.comments_and_hidden(session=session, post=post, viewer_id=viewer.user_id)
    mine = viewer.user_id == post.user_id
    context = {
        "card": card, "root": root, "remixes": remixes, "picture": picture, "sound": sound,
        "comments": comments, "filtered": filtered if mine else 0,
        "share_url": str(request.url_for("post_page", post_id=post.id)),
        "relation": graph.relation(session=session, viewer_id=viewer.user_id, other_id=post.user_id),
        "extended": posts_service.extended_from(session=session, video=card.video),
        "mode": MODES.get(card.video.kind),
        # Its creator can extend their own post into a new draft (the form of the draft page).
        "extend_choices": request.app.state.services.catalog.extend_choices(card.video.model) if mine else (),
        "extend_values": {}, "extend_key": secrets.token_urlsafe(16),
    }
    return context


def _back(request: Request, default: str) -> Response:
    return RedirectResponse(safe_next(request.query_params.get("next"), default), status_code=303)


@router.post("/p/{post_id}/like", dependencies=[Csrf])
def like(request: Request, post_id: str, session: SessionDep, account: AccountDep) -> Response:
    liked, count = engagement.toggle_like(session=session, viewer_id=account.user_id, post_id=post_id)
    if wants_json(request):
        return JSONResponse({"liked": liked, "likes": count})
    return _back(request, f"/p/{post_id}")


@router.post("/p/{post_id}/comments", dependencies=[Csrf])
def comment(request: Request, post_id: str, session: SessionDep, viewer: ViewerDep, account: AccountDep,
            body: Annotated[str, Form()]) -> Response:
    try:
        engagement.add_comment(session=session, viewer_id=account.user_id, post_id=post_id, body=body)
    except InvalidRequest as error:
        # A refused (or empty, or too long) comment: the post again, with the reason and the text as typed.
        session.rollback()
        context = {**_post_context(request, session, viewer, post_id), "comment_error": error.message,
                   "comment_body": body}
        return render(request, "post.html", context, status_code=400, session=session)
    return RedirectResponse(f"/p/{post_id}#comments", status_code=303)


@router.post("/comments/{comment_id}/delete", dependencies=[Csrf])
def delete_comment(request: Request, comment_id: RowId, session: SessionDep, viewer: ViewerDep,
                   account: AccountDep) -> Response:
    engagement.delete_comment(session=session, viewer_id=account.user_id, comment_id=comment_id,
                              moderator=viewer.is_admin)
    return _back(request, "/")


@router.post("/p/{post_id}/unpost", dependencies=[Csrf])
def unpost(post_id: str, session: SessionDep, account: AccountDep) -> Response:
    video = posts_service.unpost(session=session, user_id=account.user_id, post_id=post_id)
    return RedirectResponse(f"/drafts/{video.id}", status_code=303)


@router.post("/p/{post_id}/less", dependencies=[Csrf])
def see_less(request: Request, post_id: str, session: SessionDep, account: AccountDep) -> Response:
    feed.see_less(session=session, viewer_id=account.user_id, post_id=post_id)
    if wants_json(request):
        return JSONResponse({"ok": True})
    return _back(request, "/")


class ViewBeacon(BaseModel):
    """What the player reports: whether the clip was watched to the end, and the seconds watched since its
    last report (for the daily limit)."""

    model_config = ConfigDict(extra="ignore")

    completed: bool = False
    seconds: float = Field(default=0.0, ge=0, allow_inf_nan=False)


def _beacon(raw: bytes) -> ViewBeacon:
    try:
        return ViewBeacon.model_validate(parse_json_object(raw or b"{}", what="The view report"))
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"Invalid {param} in the view report: {first['msg']}.", param=param) from None


@router.post("/p/{post_id}/view", dependencies=[Csrf])
async def view(request: Request, post_id: str, session: SessionDep, account: AccountDep) -> Response:
    """The player's beacon: watched (and whether to the end), plus seconds watched for the daily limit."""
    is_json = request.headers.get("content-type", "").startswith("application/json")
    beacon = _beacon(await request.body() if is_json else b"")

    def record() -> feed.WatchStatus:
        engagement.record_view(session=session, viewer_id=account.user_id, post_id=post_id,
                               completed=beacon.completed)
        return feed.add_watch_time(session=session, viewer_id=account.user_id, seconds=beacon.seconds)

    status = await to_thread.run_sync(record)
    return JSONResponse({"limit_reached": status.reached or status.stopped, "firm": status.stopped,
                         "seconds_today": round(status.seconds_today, 1), "limit_seconds": status.limit_seconds})


@router.get("/p/{post_id}/download")
async def download(request: Request, post_id: str, services: ServicesDep, session: SessionDep,
                   viewer: ViewerDep) -> Response:
    post = posts_service.get_post(session=session, post_id=post_id, viewer_id=viewer.user_id,
                                  include_held=viewer.is_admin)
    video = session.scalar(select(Video).where(Video.id == post.video_id, Video.deleted_at.is_(None)))
    author = session.get(Account, post.user_id)
    if video is None or author is None or video.status != "completed":
        raise NotFound("This post's video is no longer available.")
    instance = instance_label(services.settings, request.url.netloc)
    data = await to_thread.run_sync(lambda: export_mp4(
        session=session, storage=services.storage, settings=services.settings, video=video, instance=instance))
    return Response(data, media_type="video/mp4", headers={
        "content-disposition": f'attachment; filename="duetto-{author.handle}-{post.id}.mp4"',
        "cache-control": "private, max-age=300"})
