"""What each user sets against bullying: who may message them and how far a stranger may go unanswered,
which comments on their posts are hidden (words they chose, people they do not follow), and whom they
restricted (that person's comments on their posts are seen by that person alone)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Forbidden, InvalidRequest
from duetto.app.db.models import DM_POLICIES, Follow, Message, Restriction, SafetyPrefs, conversation_key
from duetto.app.wellbeing import teens

MAX_FILTER_PHRASES = 100
MAX_PHRASE = 100
MAX_STRANGER_DMS = 20


def get_prefs(*, session: Session, user_id: str) -> SafetyPrefs:
    prefs = session.get(SafetyPrefs, user_id)
    if prefs is None:
        prefs = SafetyPrefs(user_id=user_id, dm_policy="everyone", stranger_dm_limit=3, comment_filter=[],
                            hide_unfollowed_comments=False, checkins=True, checkin_offered_at=None,
                            break_until=None)
    return prefs


def parse_filter(text: str) -> list[str]:
    """The phrases of a filter as typed, one per line or comma-separated, without repeats."""
    phrases: list[str] = []
    for part in re.split(r"[\n,]", text):
        phrase = " ".join(part.split())
        if not phrase:
            continue
        if len(phrase) > MAX_PHRASE:
            raise InvalidRequest(f"Keep each word or phrase under {MAX_PHRASE} characters.", param="comment_filter")
        if phrase.casefold() not in {p.casefold() for p in phrases}:
            phrases.append(phrase)
    if len(phrases) > MAX_FILTER_PHRASES:
        raise InvalidRequest(f"A filter holds at most {MAX_FILTER_PHRASES} words or phrases.", param="comment_filter")
    return phrases


def save_prefs(*, session: Session, user_id: str, dm_policy: str, stranger_dm_limit: int, comment_filter: list[str],
               hide_unfollowed_comments: bool) -> SafetyPrefs:
    if dm_policy not in DM_POLICIES:
        raise InvalidRequest(f"Who may message you must be one of: {', '.join(DM_POLICIES)}.", param="dm_policy")
    if not 0 <= stranger_dm_limit <= MAX_STRANGER_DMS:
        raise InvalidRequest(f"Messages before a reply must be from 0 to {MAX_STRANGER_DMS}.",
                             param="stranger_dm_limit")
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.dm_policy, prefs.stranger_dm_limit, prefs.comment_filter = dm_policy, stranger_dm_limit, comment_filter
    prefs.hide_unfollowed_comments = hide_unfollowed_comments
    session.merge(prefs)
    session.commit()
    return prefs


def _follows(session: Session, follower_id: str, followee_id: str) -> bool:
    return session.get(Follow, (follower_id, followee_id)) is not None


def dm_policy(*, session: Session, user_id: str) -> str:
    """Who may message the user: their own choice, or their teen control where that is stricter."""
    own = get_prefs(session=session, user_id=user_id).dm_policy
    return teens.stricter_dm_policy(own, teens.controls(session=session, user_id=user_id))


_REFUSALS = {
    "nobody": "@{handle} does not take messages.",
    "following": "@{handle} only takes messages from people they follow.",
    "mutuals": "@{handle} only takes messages from people who follow each other with them.",
}


def check_message(*, session: Session, sender_id: str, recipient_id: str, recipient_handle: str) -> None:
    """Refuse a message the recipient's settings do not let in (Forbidden, saying why).

    A reply in a conversation the recipient started is always let in: they chose to talk. Otherwise the
    recipient's policy decides, and someone they do not follow may send only `stranger_dm_limit` messages
    until the recipient answers."""
    pair = conversation_key(sender_id, recipient_id)
    replied_at = session.scalar(select(func.max(Message.id)).where(
        Message.pair_key == pair, Message.sender_id == recipient_id))
    if replied_at is not None:
        return
    policy = dm_policy(session=session, user_id=recipient_id)
    followed = _follows(session, recipient_id, sender_id)
    allowed = {"everyone": True, "following": followed,
               "mutuals": followed and _follows(session, sender_id, recipient_id), "nobody": False}[policy]
    if not allowed:
        raise Forbidden(_REFUSALS[policy].format(handle=recipient_handle), code="dm_not_allowed")
    if not followed:
        limit = get_prefs(session=session, user_id=recipient_id).stranger_dm_limit
        sent = session.scalar(select(func.count()).select_from(Message).where(
            Message.pair_key == pair, Message.sender_id == sender_id)) or 0
        if sent >= limit:
            raise Forbidden(f"@{recipient_handle} has not answered yet; you can write again once they reply.",
                            code="dm_wait_for_reply")


def restrict(*, session: Session, viewer_id: str, other_id: str) -> None:
    if viewer_id == other_id:
        raise InvalidRequest("You cannot restrict yourself.")
    if session.get(Restriction, (viewer_id, other_id)) is None:
        session.add(Restriction(restricter_id=viewer_id, restricted_id=other_id, created_at=time.time()))
    session.commit()


def unrestrict(*, session: Session, viewer_id: str, other_id: str) -> None:
    session.execute(delete(Restriction).where(Restriction.restricter_id == viewer_id,
                                              Restriction.restricted_id == other_id))
    session.commit()


def is_restricted(*, session: Session, user_id: str, other_id: str) -> bool:
    return session.get(Restriction, (user_id, other_id)) is not None


def restricted_ids(*, session: Session, user_id: str) -> set[str]:
    return set(session.scalars(select(Restriction.restricted_id).where(Restriction.restricter_id == user_id)))


def _matches(phrases: list[str], text: str) -> bool:
    folded = " ".join(text.casefold().split())
    return any(re.search(rf"(?<!\w){re.escape(' '.join(p.casefold().split()))}(?!\w)", folded) for p in phrases)


@dataclass(frozen=True)
class CommentRules:
    """How comments on one person's posts are shown: the post owner's filter, restrictions and follows."""

    owner_id: str
    phrases: tuple[str, ...]
    only_followed: bool
    restricted: frozenset[str]
    followed: frozenset[str]

    def hides(self, *, author_id: str, body: str, viewer_id: str | None) -> bool:
        """Whether the viewer does not see this comment. Its author always does, so a hidden comment does not
        tell its author that it was hidden."""
        if author_id in (viewer_id, self.owner_id):
            return False
        return (author_id in self.restricted or (self.only_followed and author_id not in self.followed)
                or _matches(list(self.phrases), body))


def comment_rules(*, session: Session, owner_id: str) -> CommentRules:
    prefs = get_prefs(session=session, user_id=owner_id)
    followed = frozenset(session.scalars(select(Follow.followee_id).where(Follow.follower_id == owner_id))) \
        if prefs.hide_unfollowed_comments else frozenset()
    return CommentRules(owner_id=owner_id, phrases=tuple(prefs.comment_filter or ()),
                        only_followed=prefs.hide_unfollowed_comments,
                        restricted=frozenset(restricted_ids(session=session, user_id=owner_id)), followed=followed)
