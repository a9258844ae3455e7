"""Birth years: declared once (at web sign-up, or before opening a character to everyone), and what they
decide: whether someone may open a character to everyone, and whether their account is a teen's."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy.orm import Session

from duetto.app.core.errors import Conflict, InvalidRequest
from duetto.app.db.models import (
    BirthYear,
)

ADULT_AGE = 18


def birth_year(*, session: Session, user_id: str) -> int | None:
    row = session.get(BirthYear, user_id)
    return row.year if row else None


def is_minor(year: int | None, *, today: dt.date | None = None) -> bool:
    """Whether someone born in `year` may be under 18 today. Only the year is kept, so someone turning 18
    this year counts as a minor until next January; an unknown year counts as a minor, since 'everyone'
    is the one thing it decides."""
    if year is None:
        return True
    today = today or dt.datetime.now(dt.UTC).date()
    return today.year - year - 1 < ADULT_AGE


def check_birth_year(year: int) -> None:
    this_year = dt.datetime.now(dt.UTC).year
    if not this_year - 120 <= year <= this_year:
        raise InvalidRequest(f"Birth year must be between {this_year - 120} and {this_year}.", param="birth_year")


def declare_birth_year(*, session: Session, user_id: str, year: int) -> None:
    """Record the user's birth year once (committed). It cannot be changed afterwards, and 'everyone' needs it,
    so a character open to everyone always has an adult owner."""
    check_birth_year(year)
    existing = session.get(BirthYear, user_id)
    if existing is not None:
        if existing.year == year:
            return
        # Set once, so nobody can type their way past the age rule.
        raise Conflict("Your birth year is already set; it cannot be changed here.", code="birth_year_set")
    session.add(BirthYear(user_id=user_id, year=year, declared_at=time.time()))
    session.commit()
