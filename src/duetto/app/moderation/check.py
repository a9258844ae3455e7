"""The check every text surface runs: match the current lists, decide, log the decision, and tell the person
why when the text is refused."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import ModerationDecision, ModerationTerm
from duetto.app.moderation import lists
from duetto.app.moderation.matching import Hit, Matcher, term_words

# What each surface's text is called in a refusal ("This prompt was refused: …"); other surfaces say "text".
NOUNS = {"api_prompt": "prompt", "web_prompt": "prompt", "caption": "caption", "comment": "comment",
         "message": "message", "handle": "handle", "display_name": "display name", "bio": "bio"}
# Private surfaces keep only the hash of allowed text in the log: moderators read refusals, not every DM.
PRIVATE_SURFACES = frozenset({"message"})
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class Decision:
    """What a check decided. `reason` is the sentence to show the person (None unless refused)."""

    allowed: bool
    verdict: str  # allowed | refused | flagged
    category: str | None = None
    term: str | None = None
    reason: str | None = None
    list_version: int = 0
    log_id: int | None = None


class ModerationRefused(InvalidRequest):
    """Text that a refusing category matched; the API answers 400 with code moderation_blocked."""

    code = "moderation_blocked"

    def __init__(self, decision: Decision, *, param: str | None = None) -> None:
        super().__init__(decision.reason or "This text was refused.", param=param)
        self.decision = decision


@dataclass
class _Lists:
    version: lists.ListVersion
    matcher: Matcher
    actions: dict[str, str]
    reasons: dict[str, str]


# One compiled copy per database: edits made by the CLI or another process show up as a new list
# version at the next check, which rebuilds it.
_cache: dict[str, _Lists] = {}
_cache_lock = threading.Lock()


def _lists(*, session: Session) -> _Lists:
    version = lists.list_version(session=session)
    bind = session.get_bind()
    where = repr(bind.url)
    current = _cache.get(where)
    if current is not None and current.version == version:
        return current
    categories = lists.categories(session=session)
    order = {c.slug: i for i, c in enumerate(categories)}
    rows = session.execute(select(ModerationTerm.category, ModerationTerm.term)).all()
    # Within a category the longer terms go first, so a text is told the fullest name it used ("Joe Biden",
    # not "Biden").
    rows.sort(key=lambda r: (order.get(r[0], len(order)), -len(term_words(r[1])), r[1]))
    fresh = _Lists(version=version, matcher=Matcher((c, t) for c, t in rows),
                   actions={c.slug: c.action for c in categories}, reasons={c.slug: c.reason for c in categories})
    with _cache_lock:
        _cache[where] = fresh
    return fresh


def _decide(compiled: _Lists, hit: Hit | None, surface: str) -> Decision:
    version = compiled.version.number
    if hit is None:
        return Decision(allowed=True, verdict="allowed", list_version=version)
    if compiled.actions.get(hit.category) == "flag":
        return Decision(allowed=True, verdict="flagged", category=hit.category, term=hit.term, list_version=version)
    noun = NOUNS.get(surface, "text")
    reason = compiled.reasons.get(hit.category, "it matches a listed term ({term}).").replace("{term}", hit.term)
    return Decision(allowed=False, verdict="refused", category=hit.category, term=hit.term,
                    reason=f"This {noun} was refused: {reason}", list_version=version)


def evaluate(*, session: Session, text: str, surface: str = "text") -> Decision:
    """What check_text would decide, without logging it (for operators trying the lists out)."""
    compiled = _lists(session=session)
    return _decide(compiled, compiled.matcher.find(text), surface)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def check_text(*, session: Session, text: str, surface: str, user_id: str | None) -> Decision:
    """Check text someone wants to use on `surface` (api_prompt, web_prompt, caption, comment, message, or
    a surface of your own) and log the decision, allowed or not.

    Commits the session: a refusal is usually followed by an error that rolls the request back, and the
    log row must survive it. Call it before making changes of your own.
    """
    if not surface or len(surface) > 40:
        raise ValueError(f"surface must be a short name such as 'comment', not {surface!r}")
    decision = evaluate(session=session, text=text, surface=surface)
    keep_excerpt = decision.verdict != "allowed" or surface not in PRIVATE_SURFACES
    row = ModerationDecision(
        created_at=time.time(), user_id=user_id, surface=surface,
        text_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        excerpt=_excerpt(text) if keep_excerpt else "", verdict=decision.verdict, category=decision.category,
        term=decision.term, list_version=decision.list_version,
    )
    session.add(row)
    session.commit()
    return replace(decision, log_id=row.id)


def require_allowed(*, session: Session, text: str, surface: str, user_id: str | None,
                    param: str | None = None) -> Decision:
    """check_text, raising ModerationRefused (an InvalidRequest) when the text is refused."""
    decision = check_text(session=session, text=text, surface=surface, user_id=user_id)
    if not decision.allowed:
        raise ModerationRefused(decision, param=param)
    return decision


def public_figure_match(*, session: Session, text: str) -> str | None:
    """The listed public figure the text names, if any (as listed, e.g. "Taylor Swift"); not logged."""
    hit = _lists(session=session).matcher.find(text, categories=[lists.PUBLIC_FIGURES])
    return hit.term if hit else None


def decisions(*, session: Session, verdict: str | None = None, surface: str | None = None,
              user_id: str | None = None, before: int | None = None, limit: int = 100) -> list[ModerationDecision]:
    """The decision log, newest first, optionally filtered; `before` pages on by log id."""
    query = select(ModerationDecision).order_by(ModerationDecision.id.desc()).limit(max(1, min(limit, 1000)))
    if verdict:
        query = query.where(ModerationDecision.verdict == verdict)
    if surface:
        query = query.where(ModerationDecision.surface == surface)
    if user_id:
        query = query.where(ModerationDecision.user_id == user_id)
    if before:
        query = query.where(ModerationDecision.id < before)
    return list(session.scalars(query))
