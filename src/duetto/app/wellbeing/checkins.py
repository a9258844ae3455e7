"""Check-ins: now and then the feed asks "How does Duetto make you feel lately?" (one tap, 1–5); the answers
are the user's own, shown back to them as a trend, and a low one offers a break and a calmer feed. Six months
in, one more question: has Duetto made things better? Operators see only aggregates (`aggregate`)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Conflict, InvalidRequest
from duetto.app.db.models import Account, CheckIn, Post, SafetyPrefs, Video, WatchTime
from duetto.app.wellbeing.safety import get_prefs

DAY = 86400.0
FIRST_DAYS = 3  # never asked before an account is this many days old
EVERY_DAYS = 7  # at most once a week, answered or waved away
SIX_MONTHS_DAYS = 182
LOW = 2  # an answer at or under this offers a break and a calmer feed
BREAK_HOURS = 12
MOOD_WORDS = {1: "Worse", 2: "A bit worse", 3: "No different", 4: "A bit better", 5: "Better"}
SIX_MONTH_WORDS = {1: "Worse", 2: "No different", 3: "Better"}
# Operators' figures leave out any group with fewer distinct people than this: no one is singled out.
MIN_GROUP = 5


def _account_age_days(session: Session, user_id: str, now: float) -> float:
    account = session.get(Account, user_id)
    return (now - account.created_at) / DAY if account else 0.0


def due(*, session: Session, user_id: str, now: float | None = None) -> bool:
    """Whether the feed should ask the check-in question now."""
    now = time.time() if now is None else now
    prefs = get_prefs(session=session, user_id=user_id)
    if not prefs.checkins or _account_age_days(session, user_id, now) < FIRST_DAYS:
        return False
    return prefs.checkin_offered_at is None or now - prefs.checkin_offered_at >= EVERY_DAYS * DAY


def set_enabled(*, session: Session, user_id: str, enabled: bool) -> None:
    """Turn the check-in question on or off; answers already given stay, and stay the user's own."""
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.checkins = enabled
    session.merge(prefs)
    session.commit()


def _offered(session: Session, user_id: str, now: float) -> SafetyPrefs:
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.checkin_offered_at = now
    return session.merge(prefs)


def dismiss(*, session: Session, user_id: str, now: float | None = None) -> None:
    """"Not now": no question for another week."""
    _offered(session, user_id, time.time() if now is None else now)
    session.commit()


def answer(*, session: Session, user_id: str, score: int, now: float | None = None) -> bool:
    """Store an answer (committed); True when it is low, so the page offers a break and a calmer feed."""
    if score not in MOOD_WORDS:
        raise InvalidRequest("Pick one of the five answers.", param="score")
    now = time.time() if now is None else now
    session.add(CheckIn(user_id=user_id, kind="mood", score=score, created_at=now))
    _offered(session, user_id, now)
    session.commit()
    return score <= LOW


def take_break(*, session: Session, user_id: str, now: float | None = None) -> float:
    now = time.time() if now is None else now
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.break_until = now + BREAK_HOURS * 3600
    session.merge(prefs)
    session.commit()
    return prefs.break_until


def end_break(*, session: Session, user_id: str) -> None:
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.break_until = None
    session.merge(prefs)
    session.commit()


def on_break(*, session: Session, user_id: str, now: float | None = None) -> bool:
    until = get_prefs(session=session, user_id=user_id).break_until
    return until is not None and until > (time.time() if now is None else now)


def trend(*, session: Session, user_id: str, limit: int = 26) -> list[tuple[str, int]]:
    """The user's own mood answers, oldest first, as (YYYY-MM-DD, score)."""
    rows = session.execute(select(CheckIn.created_at, CheckIn.score).where(
        CheckIn.user_id == user_id, CheckIn.kind == "mood").order_by(CheckIn.created_at.desc()).limit(limit)).all()
    return [(dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat(), score) for at, score in reversed(rows)]


@dataclass(frozen=True)
class SixMonths:
    """The "six months in" page: what the account did and felt since it joined."""

    days: int
    minutes_watched: int
    videos_made: int
    posts: int
    trend: list[tuple[str, int]]
    answer: int | None  # the six-month answer, once given

    @property
    def question_open(self) -> bool:
        return self.days >= SIX_MONTHS_DAYS and self.answer is None


def six_months(*, session: Session, user_id: str, now: float | None = None) -> SixMonths:
    now = time.time() if now is None else now
    seconds = session.scalar(select(func.sum(WatchTime.seconds)).where(WatchTime.user_id == user_id)) or 0.0
    made = session.scalar(select(func.count()).select_from(Video).where(
        Video.user_id == user_id, Video.status == "completed", Video.deleted_at.is_(None))) or 0
    posted = session.scalar(select(func.count()).select_from(Post).where(Post.user_id == user_id)) or 0
    answer_row = session.scalar(select(CheckIn.score).where(CheckIn.user_id == user_id, CheckIn.kind == "six_months"))
    return SixMonths(days=int(_account_age_days(session, user_id, now)), minutes_watched=int(seconds // 60),
                     videos_made=made, posts=posted, trend=trend(session=session, user_id=user_id), answer=answer_row)


def answer_six_months(*, session: Session, user_id: str, score: int, now: float | None = None) -> None:
    now = time.time() if now is None else now
    if score not in SIX_MONTH_WORDS:
        raise InvalidRequest("Pick one of the three answers.", param="score")
    if session.scalar(select(CheckIn.id).where(CheckIn.user_id == user_id, CheckIn.kind == "six_months")):
        raise Conflict("You have already answered; thank you.", code="already_answered")
    if _account_age_days(session, user_id, now) < SIX_MONTHS_DAYS:
        raise Conflict(f"This question opens {SIX_MONTHS_DAYS} days after you joined.", code="too_early")
    session.add(CheckIn(user_id=user_id, kind="six_months", score=score, created_at=now))
    session.commit()


@dataclass(frozen=True)
class Aggregate:
    """What an operator may see: counts and means over groups of at least MIN_GROUP people, nothing per user."""

    accounts: int
    opted_out: int
    weeks: list[tuple[str, int, float]]  # (ISO week, people answering, mean answer 1–5)
    suppressed_weeks: int  # weeks left out for having fewer than MIN_GROUP people
    six_months: dict[str, int] | None  # answer word → people, or None when fewer than MIN_GROUP answered


def aggregate(*, session: Session, min_group: int = MIN_GROUP) -> Aggregate:
    by_week: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for user_id, at, score in session.execute(
            select(CheckIn.user_id, CheckIn.created_at, CheckIn.score).where(CheckIn.kind == "mood")):
        year, week, _ = dt.datetime.fromtimestamp(at, dt.UTC).isocalendar()
        by_week[f"{year}-W{week:02d}"][user_id].append(score)
    weeks, suppressed = [], 0
    for week in sorted(by_week):
        people = by_week[week]
        if len(people) < min_group:
            suppressed += 1
            continue
        # Each person counts once a week: their own mean, so one frequent answerer cannot tilt it.
        means = [sum(scores) / len(scores) for scores in people.values()]
        weeks.append((week, len(people), round(sum(means) / len(means), 2)))
    answers = list(session.scalars(select(CheckIn.score).where(CheckIn.kind == "six_months")))
    six = ({SIX_MONTH_WORDS[s]: answers.count(s) for s in SIX_MONTH_WORDS} if len(answers) >= min_group else None)
    return Aggregate(accounts=session.scalar(select(func.count()).select_from(Account)) or 0,
                     opted_out=session.scalar(select(func.count()).select_from(SafetyPrefs).where(
                         SafetyPrefs.checkins.is_(False))) or 0,
                     weeks=weeks, suppressed_weeks=suppressed, six_months=six)
