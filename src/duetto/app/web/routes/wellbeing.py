"""Wellbeing pages: safety settings (who may message, comment filters, restricted people), check-ins and their
trend, the six-months page, and Family (linking a parent and a teen, the parent's controls and summary)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from duetto.app.api.deps import SessionDep
from duetto.app.api.errors import status_for
from duetto.app.core.errors import DomainError, NotFound
from duetto.app.core.parsing import parse_whole, whole_number
from duetto.app.db.models import CHARACTER_LEVELS, Account
from duetto.app.feed import service as feed
from duetto.app.flows import family as family_flow
from duetto.app.users import accounts
from duetto.app.web.deps import AccountDep, Csrf, render
from duetto.app.wellbeing import checkins, family, safety, teens

router = APIRouter(include_in_schema=False)

DM_LABELS = {"everyone": "Everyone", "following": "People I follow", "mutuals": "Mutuals (we follow each other)",
             "nobody": "No one"}
CALMER_STEERING = "more calm videos"
# The time zones offered for quiet hours: every IANA name, sorted, with UTC first.
TIMEZONES = ["UTC", *sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))]


# --- Safety --------------------------------------------------------------------------------------------------


def _safety_page(request: Request, session: SessionDep, account: Account, *, status_code: int = 200,
                 **extra: object) -> Response:
    restricted_ids = safety.restricted_ids(session=session, user_id=account.user_id)
    restricted = list(session.scalars(select(Account).where(Account.user_id.in_(restricted_ids)))) \
        if restricted_ids else []
    context = {"prefs": safety.get_prefs(session=session, user_id=account.user_id), "dm_labels": DM_LABELS,
               "restricted": restricted, "teen": teens.controls(session=session, user_id=account.user_id),
               "effective_dm": safety.dm_policy(session=session, user_id=account.user_id), **extra}
    return render(request, "settings_safety.html", context, status_code=status_code, session=session)


@router.get("/settings/safety")
def safety_settings(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _safety_page(request, session, account)


@router.post("/settings/safety", dependencies=[Csrf])
def save_safety(request: Request, session: SessionDep, account: AccountDep,
                dm_policy: Annotated[str, Form()] = "everyone", stranger_dm_limit: Annotated[str, Form()] = "3",
                comment_filter: Annotated[str, Form()] = "",
                hide_unfollowed_comments: Annotated[str, Form()] = "") -> Response:
    try:
        limit = whole_number(stranger_dm_limit, param="stranger_dm_limit", low=0, high=safety.MAX_STRANGER_DMS,
                             message=f"Messages before a reply must be a whole number from 0 to "
                                     f"{safety.MAX_STRANGER_DMS}.")
        safety.save_prefs(session=session, user_id=account.user_id, dm_policy=dm_policy, stranger_dm_limit=limit,
                          comment_filter=safety.parse_filter(comment_filter),
                          hide_unfollowed_comments=hide_unfollowed_comments == "on")
    except DomainError as error:
        session.rollback()
        return _safety_page(request, session, account, status_code=status_for(error), error=error.message,
                            filter_draft=comment_filter)
    return RedirectResponse("/settings/safety?saved=1", status_code=303)


# --- Check-ins and the six-months page -------------------------------------------------------------------------


@router.get("/settings/wellbeing")
def wellbeing_settings(request: Request, session: SessionDep, account: AccountDep) -> Response:
    context = {"prefs": safety.get_prefs(session=session, user_id=account.user_id),
               "trend": checkins.trend(session=session, user_id=account.user_id), "words": checkins.MOOD_WORDS}
    return render(request, "settings_wellbeing.html", context, session=session)


@router.post("/settings/wellbeing", dependencies=[Csrf])
def save_wellbeing(session: SessionDep, account: AccountDep, checkins_on: Annotated[str, Form()] = "") -> Response:
    checkins.set_enabled(session=session, user_id=account.user_id, enabled=checkins_on == "on")
    return RedirectResponse("/settings/wellbeing?saved=1", status_code=303)


def _six_months_page(request: Request, session: SessionDep, account: Account, *, status_code: int = 200,
                     error: str | None = None) -> Response:
    context = {"page": checkins.six_months(session=session, user_id=account.user_id), "words": checkins.MOOD_WORDS,
               "answers": checkins.SIX_MONTH_WORDS, "opens_at": checkins.SIX_MONTHS_DAYS, "error": error}
    return render(request, "six_months.html", context, status_code=status_code, session=session)


@router.get("/settings/wellbeing/six-months")
def six_months(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _six_months_page(request, session, account)


@router.post("/settings/wellbeing/six-months", dependencies=[Csrf])
def answer_six_months(request: Request, session: SessionDep, account: AccountDep,
                      score: Annotated[str, Form()] = "") -> Response:
    try:
        checkins.answer_six_months(session=session, user_id=account.user_id, score=parse_whole(score) or 0)
    except DomainError as error:
        session.rollback()
        return _six_months_page(request, session, account, status_code=status_for(error), error=error.message)
    return RedirectResponse("/settings/wellbeing/six-months?thanks=1", status_code=303)


@router.post("/checkins", dependencies=[Csrf])
def answer_checkin(request: Request, session: SessionDep, account: AccountDep,
                   score: Annotated[str, Form()] = "") -> Response:
    low = checkins.answer(session=session, user_id=account.user_id, score=parse_whole(score) or 0)
    if low:
        # A low answer: offer a break and a calmer feed, on a page of its own rather than a line in the feed.
        return render(request, "checkin_low.html", {"steering": CALMER_STEERING,
                                                    "hours": checkins.BREAK_HOURS}, session=session)
    return RedirectResponse("/?checked=1", status_code=303)


@router.post("/checkins/later", dependencies=[Csrf])
def checkin_later(session: SessionDep, account: AccountDep) -> Response:
    checkins.dismiss(session=session, user_id=account.user_id)
    return RedirectResponse("/", status_code=303)


@router.post("/checkins/break", dependencies=[Csrf])
def take_break(session: SessionDep, account: AccountDep) -> Response:
    checkins.take_break(session=session, user_id=account.user_id)
    return RedirectResponse("/", status_code=303)


@router.post("/checkins/break/end", dependencies=[Csrf])
def end_break(session: SessionDep, account: AccountDep) -> Response:
    checkins.end_break(session=session, user_id=account.user_id)
    return RedirectResponse("/", status_code=303)


@router.post("/checkins/calmer", dependencies=[Csrf])
def calmer(session: SessionDep, account: AccountDep) -> Response:
    feed.set_steering(session=session, user_id=account.user_id, phrase=CALMER_STEERING)
    return RedirectResponse("/", status_code=303)


# --- Family ----------------------------------------------------------------------------------------------------


def _family_page(request: Request, session: SessionDep, account: Account, *, status_code: int = 200,
                 **extra: object) -> Response:
    me = account.user_id
    own_link = family.parent_of(session=session, teen_id=me)
    children = []
    for link in family.links_of_parent(session=session, parent_id=me):
        teen = session.get(Account, link.teen_id)
        summary = family.weekly_summary(session=session, parent_id=me, teen_id=link.teen_id) \
            if link.status == "active" else None
        children.append({"link": link, "teen": teen, "summary": summary})
    context = {
        "is_teen": teens.is_teen(session=session, user_id=me), "controls": teens.controls(session=session, user_id=me),
        "own_link": own_link, "parent": session.get(Account, own_link.parent_id) if own_link else None,
        "children": children, "notices": family.notices(session=session, user_id=me),
        "dm_labels": DM_LABELS, "levels": [level for level in CHARACTER_LEVELS if level != "everyone"],
        "timezones": TIMEZONES, **extra,
    }
    return render(request, "settings_family.html", context, status_code=status_code, session=session)


@router.get("/settings/family")
def family_settings(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _family_page(request, session, account)


@router.post("/settings/family/invite", dependencies=[Csrf])
def invite(request: Request, session: SessionDep, account: AccountDep, handle: Annotated[str, Form()] = "") -> Response:
    try:
        family.invite(session=session, parent_id=account.user_id, teen_handle=handle)
    except DomainError as error:
        session.rollback()
        return _family_page(request, session, account, status_code=status_for(error), error=error.message, handle_draft=handle)
    return RedirectResponse("/settings/family?invited=1", status_code=303)


@router.post("/settings/family/accept", dependencies=[Csrf])
def accept(session: SessionDep, account: AccountDep) -> Response:
    family.accept(session=session, teen_id=account.user_id)
    return RedirectResponse("/settings/family?linked=1", status_code=303)


def _teen(session: SessionDep, handle: str) -> Account:
    teen = accounts.get_account(session=session, handle=handle)
    if teen is None:
        raise NotFound("You are not linked to this account as its parent.")
    return teen


@router.post("/settings/family/end", dependencies=[Csrf])
def end_link(session: SessionDep, account: AccountDep, teen: Annotated[str, Form()] = "") -> Response:
    """A teen ends (or declines) their own link; a parent names the teen."""
    teen_id = _teen(session, teen).user_id if teen else account.user_id
    family.end(session=session, user_id=account.user_id, teen_id=teen_id)
    return RedirectResponse("/settings/family?ended=1", status_code=303)


def _hour(text: str, param: str) -> int | None:
    if not text.strip():
        return None
    return whole_number(text, param=param, low=0, high=23, message="Quiet hours are whole hours from 0 to 23.")


@router.post("/settings/family/@{handle}/controls", dependencies=[Csrf])
def save_controls(request: Request, handle: str, session: SessionDep, account: AccountDep,
                  daily_limit_minutes: Annotated[str, Form()] = "", quiet_start: Annotated[str, Form()] = "",
                  quiet_end: Annotated[str, Form()] = "", timezone: Annotated[str, Form()] = "UTC",
                  personalized: Annotated[str, Form()] = "", dm_policy: Annotated[str, Form()] = "following",
                  character_level: Annotated[str, Form()] = "mutuals",
                  discoverable: Annotated[str, Form()] = "") -> Response:
    teen = _teen(session, handle)
    try:
        limit = whole_number(daily_limit_minutes, param="daily_limit_minutes", low=1, high=teens.MAX_LIMIT_MINUTES,
                             message=f"The daily limit must be a whole number of minutes from 1 to "
                                     f"{teens.MAX_LIMIT_MINUTES}, or empty for none.") \
            if daily_limit_minutes.strip() else None
        change = teens.ControlsChange(
            daily_limit_minutes=limit, quiet_start=_hour(quiet_start, "quiet_start"),
            quiet_end=_hour(quiet_end, "quiet_end"), timezone=timezone.strip() or "UTC",
            personalized=personalized == "on", dm_policy=dm_policy, character_level=character_level,
            discoverable=discoverable == "on")
        family_flow.set_teen_controls(session=session, parent_id=account.user_id, teen_id=teen.user_id, change=change)
    except NotFound:
        raise
    except DomainError as error:
        session.rollback()
        return _family_page(request, session, account, status_code=status_for(error), error=error.message)
    return RedirectResponse(f"/settings/family?saved={teen.handle}", status_code=303)
