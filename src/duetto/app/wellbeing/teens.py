"""Teen accounts: who is one, and the limits on them that only a linked parent can loosen.

A teen is someone whose declared birth year says they may be under 18. Their controls start at safer
defaults; a teen may always choose something stricter for themselves (their own feed and safety settings),
and whatever they choose, the stricter of the two applies. Only the linked parent writes `TeenControls`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import CHARACTER_LEVELS, DM_POLICIES, BirthYear, TeenControls
from duetto.app.users.ages import ADULT_AGE, birth_year, is_minor

TEEN_DAILY_LIMIT_MINUTES = 60
MAX_LIMIT_MINUTES = 24 * 60


def is_teen(*, session: Session, user_id: str | None) -> bool:
    """Whether the user declared a birth year that says they may be under 18. No declaration is not a teen:
    web sign-up asks for the year, and API-only users have no feed, messages or profile."""
    if user_id is None:
        return False
    year = birth_year(session=session, user_id=user_id)
    return year is not None and is_minor(year)


def teen_ids_query(*, today: dt.date | None = None) -> Select:
    """The user ids of every teen, as a subquery (the same rule as `is_minor`, on the stored year)."""
    today = today or dt.datetime.now(dt.UTC).date()
    return select(BirthYear.user_id).where(BirthYear.year > today.year - ADULT_AGE - 1)


def teen_ids(*, session: Session, among: set[str]) -> set[str]:
    if not among:
        return set()
    return set(session.scalars(teen_ids_query().where(BirthYear.user_id.in_(among))))


def defaults(user_id: str) -> TeenControls:
    return TeenControls(user_id=user_id, daily_limit_minutes=TEEN_DAILY_LIMIT_MINUTES, quiet_start=None,
                        quiet_end=None, timezone="UTC", personalized=False, dm_policy="following",
                        character_level="mutuals", discoverable=False, updated_at=0.0, updated_by=None)


def controls(*, session: Session, user_id: str) -> TeenControls | None:
    """The teen's controls (the defaults until a parent changed them); None for anyone who is not a teen."""
    if not is_teen(session=session, user_id=user_id):
        return None
    return session.get(TeenControls, user_id) or defaults(user_id)


@dataclass(frozen=True)
class ControlsChange:
    daily_limit_minutes: int | None
    quiet_start: int | None
    quiet_end: int | None
    timezone: str
    personalized: bool
    dm_policy: str
    character_level: str
    discoverable: bool


def check_change(change: ControlsChange) -> None:
    if change.daily_limit_minutes is not None and not 1 <= change.daily_limit_minutes <= MAX_LIMIT_MINUTES:
        raise InvalidRequest(f"The daily limit must be from 1 to {MAX_LIMIT_MINUTES} minutes, or empty for none.",
                             param="daily_limit_minutes")
    if (change.quiet_start is None) != (change.quiet_end is None):
        raise InvalidRequest("Quiet hours need both a start and an end hour, or neither.", param="quiet_start")
    for hour, param in ((change.quiet_start, "quiet_start"), (change.quiet_end, "quiet_end")):
        if hour is not None and not 0 <= hour <= 23:
            raise InvalidRequest("Quiet hours are whole hours from 0 to 23.", param=param)
    if change.quiet_start is not None and change.quiet_start == change.quiet_end:
        raise InvalidRequest("Quiet hours must start and end at different hours.", param="quiet_end")
    if change.timezone not in available_timezones():
        raise InvalidRequest("Pick a time zone from the list, e.g. Europe/Paris or America/New_York.",
                             param="timezone")
    if change.dm_policy not in DM_POLICIES:
        raise InvalidRequest(f"Who may message must be one of: {', '.join(DM_POLICIES)}.", param="dm_policy")
    if change.character_level not in CHARACTER_LEVELS or change.character_level == "everyone":
        # Opening a character to everyone stays an adult's choice (characters.permissions), parent or not.
        raise InvalidRequest("A teen's character can be at most 'mutuals'.", param="character_level")


def write_controls(*, session: Session, teen_id: str, change: ControlsChange, by: str) -> TeenControls:
    """Store the teen's controls (not committed); the caller has checked that `by` is their linked parent."""
    check_change(change)
    row = session.get(TeenControls, teen_id)
    if row is None:
        row = defaults(teen_id)
        session.add(row)
    for field, value in asdict(change).items():
        setattr(row, field, value)
    row.updated_at, row.updated_by = time.time(), by
    return row


def stricter_limit(own: int | None, teen: TeenControls | None) -> int | None:
    """The daily limit that applies: the smaller of the user's own and their teen limit (None is no limit)."""
    limits = [m for m in (own, teen.daily_limit_minutes if teen else None) if m is not None]
    return min(limits) if limits else None


def stricter_dm_policy(own: str, teen: TeenControls | None) -> str:
    if teen is None:
        return own
    return max(own, teen.dm_policy, key=DM_POLICIES.index)


def in_quiet_hours(teen: TeenControls | None, *, now: float | None = None) -> bool:
    if teen is None or teen.quiet_start is None or teen.quiet_end is None:
        return False
    try:
        zone = ZoneInfo(teen.timezone)
    except ZoneInfoNotFoundError:
        zone = ZoneInfo("UTC")
    hour = dt.datetime.fromtimestamp(time.time() if now is None else now, zone).hour
    start, end = teen.quiet_start, teen.quiet_end
    # A span that crosses midnight (22 → 7) is the hours outside end … start.
    return start <= hour < end if start < end else hour >= start or hour < end


def level_allowed(teen: TeenControls | None, level: str) -> bool:
    return teen is None or CHARACTER_LEVELS.index(level) <= CHARACTER_LEVELS.index(teen.character_level)
