"""The home feed (For You and Following tabs, endless scroll) and the viewer's feed settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from duetto.app.api.deps import SessionDep
from duetto.app.core.errors import DomainError
from duetto.app.core.parsing import RowId, whole_number
from duetto.app.feed import service as feed
from duetto.app.feed.steering import describe
from duetto.app.social import posts as posts_service
from duetto.app.web.deps import AccountDep, Csrf, Viewer, ViewerDep, csrf_token, render, safe_next
from duetto.app.wellbeing import checkins

router = APIRouter(include_in_schema=False)

PAGE = 6
MAX_SHOWN = 200


def _watch(session: SessionDep, viewer: Viewer) -> feed.WatchStatus | None:
    return feed.watch_status(session=session, viewer_id=viewer.account.user_id) if viewer.account else None


def _page(session: SessionDep, viewer: Viewer, tab: str, *, shown: list[str], before: int | None,
          watch: feed.WatchStatus | None) -> tuple[list[posts_service.PostCard], str | None]:
    """Cards for the next page of a tab, and the query string that fetches the page after it; `watch` is the
    signed-in viewer's `_watch`."""
    if watch is not None and watch.stopped:
        return [], None  # a teen's limit or quiet hours, or a break the viewer chose: no more videos now
    if tab == "following" and viewer.account is not None:
        found = feed.following(session=session, viewer_id=viewer.account.user_id, before_seq=before, limit=PAGE)
        cards = posts_service.cards(session=session, posts=found, viewer_id=viewer.user_id)
        more = f"tab=following&before={found[-1].seq}" if len(found) == PAGE else None
        return cards, more
    found = feed.for_you(session=session, viewer_id=viewer.user_id, limit=PAGE, shown=shown[-MAX_SHOWN:])
    cards = posts_service.cards(session=session, posts=found, viewer_id=viewer.user_id)
    return cards, ("tab=foryou" if len(found) == PAGE else None)


@router.get("/")
def home(request: Request, session: SessionDep, viewer: ViewerDep, tab: str = "foryou") -> Response:
    tab = "following" if tab == "following" and viewer.account else "foryou"
    watch = _watch(session, viewer)
    cards, more = _page(session, viewer, tab, shown=[], before=None, watch=watch)
    context: dict[str, object] = {"tab": tab, "cards": cards, "more": more, "prefs": None, "watch": watch,
                                  "reach": None, "checkin": False, "personalized": False,
                                  "checkin_words": sorted(checkins.MOOD_WORDS.items())}
    if viewer.account is not None:
        prefs = context["prefs"] = feed.get_prefs(session=session, user_id=viewer.account.user_id)
        context["personalized"] = feed.is_personalized(session=session, user_id=viewer.account.user_id)
        context["checkin"] = checkins.due(session=session, user_id=viewer.account.user_id)
        if tab == "foryou" and context["personalized"] and prefs.steering:
            # Steering that reaches no post is said so beside it, with words that would.
            context["reach"] = feed.steering_reach(session=session, viewer_id=viewer.account.user_id)
    return render(request, "feed.html", context, session=session)


@router.get("/feed/more")
def more(request: Request, session: SessionDep, viewer: ViewerDep, tab: str = "foryou", shown: str = "",
         before: RowId | None = None) -> Response:
    """The next cards as an HTML fragment, for the feed's endless scroll."""
    ids = [i for i in shown.split(",") if i][-MAX_SHOWN:]
    cards, next_query = _page(session, viewer, tab, shown=ids, before=before, watch=_watch(session, viewer))
    response = request.app.state.templates.TemplateResponse(request, "_cards.html", {
        "request": request, "cards": cards, "me": viewer.account, "viewer": viewer,
        "csrf": csrf_token(request, viewer)})
    response.headers["x-more"] = next_query or ""
    response.headers["cache-control"] = "no-store"
    return response


def _settings_page(request: Request, session: SessionDep, account: AccountDep, *, status_code: int = 200,
                   **extra: object) -> Response:
    """The feed settings page; after a refused change, with the message and what was typed (`extra`)."""
    prefs = feed.get_prefs(session=session, user_id=account.user_id)
    context = {"prefs": prefs, "summary": describe(prefs.steering_weights or {}),
               "reach": feed.steering_reach(session=session, viewer_id=account.user_id),
               "watch": feed.watch_status(session=session, viewer_id=account.user_id),
               "less_count": len(prefs.less_creators or {}), **extra}
    return render(request, "settings_feed.html", context, status_code=status_code, session=session)


@router.get("/settings/feed")
def feed_settings(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _settings_page(request, session, account)


@router.post("/feed/steer", dependencies=[Csrf])
def steer(request: Request, session: SessionDep, account: AccountDep, steering: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002 - the form field's name
    try:
        feed.set_steering(session=session, user_id=account.user_id, phrase=steering)
    except DomainError as error:
        session.rollback()
        return _settings_page(request, session, account, status_code=400, error=error.message, draft=steering)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/settings/feed", dependencies=[Csrf])
def save_feed_settings(request: Request, session: SessionDep, account: AccountDep,
                       daily_limit_minutes: Annotated[str, Form()] = "",
                       personalized: Annotated[str, Form()] = "") -> Response:
    try:
        minutes = whole_number(daily_limit_minutes, param="daily_limit_minutes", low=1, high=feed.MAX_LIMIT_MINUTES,
                               message=f"Daily limit must be a whole number of minutes from 1 to "
                                       f"{feed.MAX_LIMIT_MINUTES}, or empty for none.") \
            if daily_limit_minutes.strip() else None
        feed.set_settings(session=session, user_id=account.user_id, daily_limit_minutes=minutes,
                          personalized=personalized == "on")
    except DomainError as error:
        session.rollback()
        return _settings_page(request, session, account, status_code=400, error=error.message,
                              limit_draft=daily_limit_minutes)
    return RedirectResponse("/settings/feed?saved=1", status_code=303)


@router.post("/settings/feed/reset", dependencies=[Csrf])
def reset_less(session: SessionDep, account: AccountDep) -> Response:
    feed.reset_less(session=session, user_id=account.user_id)
    return RedirectResponse("/settings/feed?saved=1", status_code=303)
