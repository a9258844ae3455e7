"""Reading and editing the moderation lists: categories, their terms, and the audit trail of every edit
(whose newest id is the list version that decisions record)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest, NotFound
from duetto.app.core.words import counted
from duetto.app.db.models import MODERATION_ACTIONS, ModerationCategory, ModerationChange, ModerationTerm
from duetto.app.moderation.matching import term_key, term_words

PUBLIC_FIGURES = "public_figures"  # the category whose terms are names of real people
MAX_TERM = 200
MAX_TERM_WORDS = 12
MAX_REASON = 500
_SLUG = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class ListVersion:
    """The newest edit: its id is the version number; its time tells apart databases at the same number."""

    number: int
    at: float


def list_version(*, session: Session) -> ListVersion:
    row = session.execute(select(ModerationChange.id, ModerationChange.at)
                          .order_by(ModerationChange.id.desc()).limit(1)).first()
    return ListVersion(row[0], row[1]) if row else ListVersion(0, 0.0)


def categories(*, session: Session) -> list[ModerationCategory]:
    """Refusing categories first, then flagging ones, each group by slug: the order matching tries them in."""
    rows = session.scalars(select(ModerationCategory)).all()
    return sorted(rows, key=lambda c: (MODERATION_ACTIONS.index(c.action) if c.action in MODERATION_ACTIONS else len(MODERATION_ACTIONS), c.slug))


def term_counts(*, session: Session) -> dict[str, int]:
    return dict(session.execute(select(ModerationTerm.category, func.count())
                                .group_by(ModerationTerm.category)).all())


def terms(*, session: Session, category: str | None = None) -> list[ModerationTerm]:
    query = select(ModerationTerm).order_by(ModerationTerm.category, ModerationTerm.key)
    if category is not None:
        get_category(session=session, slug=category)
        query = query.where(ModerationTerm.category == category)
    return list(session.scalars(query))


def get_category(*, session: Session, slug: str) -> ModerationCategory:
    found = session.get(ModerationCategory, slug)
    if found is None:
        known = ", ".join(c.slug for c in categories(session=session)) or "none yet"
        raise NotFound(f"No moderation category {slug!r} (known: {known}).", param="category")
    return found


def _record(*, session: Session, actor: str, action: str, category: str, detail: str) -> None:
    session.add(ModerationChange(at=time.time(), actor=actor[:100], action=action, category=category,
                                 detail=detail))


def _clean_term(term: str) -> str:
    cleaned = " ".join(term.split())
    if not term_words(cleaned):
        raise InvalidRequest(f"Term {term!r} has no letters or digits; give a word or phrase.", param="term")
    if len(cleaned) > MAX_TERM or len(term_words(cleaned)) > MAX_TERM_WORDS:
        raise InvalidRequest(f"Term {cleaned[:40]!r}… is too long: at most {MAX_TERM} characters and "
                             f"{MAX_TERM_WORDS} words.", param="term")
    return cleaned


def add_terms(*, session: Session, category: str, terms: list[str], actor: str) -> list[str]:
    """Add words or phrases to a category; returns those that were new (others were listed already).

    Commits, so the next check anywhere (API, web, other processes) uses the new list.
    """
    get_category(session=session, slug=category)
    cleaned = [_clean_term(t) for t in terms]
    if not cleaned:
        raise InvalidRequest("Give at least one term to add.", param="term")
    known = set(session.scalars(select(ModerationTerm.key).where(ModerationTerm.category == category)))
    added = []
    now = time.time()
    for term in cleaned:
        key = term_key(term)
        if key in known:
            continue
        known.add(key)
        session.add(ModerationTerm(category=category, term=term, key=key, added_by=actor[:100], created_at=now))
        added.append(term)
    if added:
        _record(session=session, actor=actor, action="add", category=category, detail="; ".join(added))
    session.commit()
    return added


def remove_terms(*, session: Session, category: str, terms: list[str], actor: str) -> list[str]:
    """Remove words or phrases from a category (any spelling with the same key); returns those removed."""
    get_category(session=session, slug=category)
    keys = {term_key(t): t for t in terms if term_words(t)}
    if not keys:
        raise InvalidRequest("Give at least one term to remove.", param="term")
    rows = list(session.scalars(select(ModerationTerm).where(ModerationTerm.category == category,
                                                             ModerationTerm.key.in_(keys))))
    if not rows:
        listed = ", ".join(repr(t) for t in keys.values())
        raise NotFound(f"None of {listed} is listed in {category!r}; see `duetto moderation list {category}`.",
                       param="term")
    session.execute(delete(ModerationTerm).where(ModerationTerm.id.in_([r.id for r in rows])))
    removed = [r.term for r in rows]
    _record(session=session, actor=actor, action="remove", category=category, detail="; ".join(removed))
    session.commit()
    return removed


def save_category(*, session: Session, slug: str, actor: str, label: str | None = None,
                  action: str | None = None, reason: str | None = None) -> ModerationCategory:
    """Create a category, or change the label, action or reason of an existing one."""
    if not _SLUG.match(slug):
        raise InvalidRequest(f"Category {slug!r} is not a valid name: use 2-40 lowercase letters, digits or _ "
                             "starting with a letter (e.g. drugs).", param="category")
    if action is not None and action not in MODERATION_ACTIONS:
        raise InvalidRequest(f"Action must be one of {', '.join(MODERATION_ACTIONS)}, not {action!r}.", param="action")
    if reason is not None:
        reason = " ".join(reason.split())
        if not reason or len(reason) > MAX_REASON:
            raise InvalidRequest(f"Reason must be 1-{MAX_REASON} characters: what the person is told, e.g. "
                                 "\"it names a public figure ({term}). Rephrase without it.\"", param="reason")
    if label is not None:
        label = " ".join(label.split())[:200]
        if not label:
            raise InvalidRequest("Label must not be empty.", param="label")
    now = time.time()
    found = session.get(ModerationCategory, slug)
    if found is None:
        found = ModerationCategory(slug=slug, label=label or slug.replace("_", " ").capitalize(),
                                   action=action or "refuse",
                                   reason=reason or "it matches a listed term ({term}). Rephrase without it.",
                                   created_at=now, updated_at=now)
        session.add(found)
        detail = f"created: {found.action}; {found.reason}"
    else:
        changed = []
        for name, value in (("label", label), ("action", action), ("reason", reason)):
            if value is not None and value != getattr(found, name):
                setattr(found, name, value)
                changed.append(f"{name}={value}")
        if not changed:
            return found
        found.updated_at = now
        detail = "; ".join(changed)
    _record(session=session, actor=actor, action="category", category=slug, detail=detail)
    session.commit()
    return found


def delete_category(*, session: Session, slug: str, actor: str) -> int:
    """Delete a category and all its terms; returns how many terms went with it."""
    get_category(session=session, slug=slug)
    count = session.scalar(select(func.count()).select_from(ModerationTerm).where(ModerationTerm.category == slug))
    session.execute(delete(ModerationTerm).where(ModerationTerm.category == slug))
    session.execute(delete(ModerationCategory).where(ModerationCategory.slug == slug))
    _record(session=session, actor=actor, action="drop-category", category=slug, detail=counted(count or 0, "term"))
    session.commit()
    return count or 0


def changes(*, session: Session, limit: int = 50) -> list[ModerationChange]:
    return list(session.scalars(select(ModerationChange).order_by(ModerationChange.id.desc()).limit(limit)))
