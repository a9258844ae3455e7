"""Holds: a post, and its video, are held while a takedown request about them is open. Every way to a held
video's picture (its page, player, downloads, the API's content, remixes, extensions and edits, a character
owner's view of it) asks `is_held` or `held_post_ids`; only moderators get past it. Requests are made and
decided in `provenance.takedown`; this is the rule the domains below it check."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import NotFound
from duetto.app.db.models import Takedown

OPEN = Takedown.status == "open"
HELD_MESSAGE = "This video is held for review after a takedown request; it is unavailable until a moderator decides."


def held_post_ids(*, session: Session, post_ids: Iterable[str]) -> set[str]:
    """Which of these posts wait on an open takedown (and so are hidden from all but moderators)."""
    ids = list(post_ids)
    if not ids:
        return set()
    return set(session.scalars(select(Takedown.post_id).where(OPEN, Takedown.post_id.in_(ids))))


def held(post_id: ColumnElement[str]) -> ColumnElement[bool]:
    """A condition for queries over posts: an open takedown request holds the post whose id is `post_id`."""
    return exists(select(Takedown.id).where(OPEN, Takedown.post_id == post_id))


def is_held(*, session: Session, video_id: str) -> bool:
    """Whether a video is held: an open takedown request names it (through its post)."""
    return session.scalar(select(Takedown.id).where(OPEN, Takedown.video_id == video_id).limit(1)) is not None


def require_not_held(*, session: Session, video_id: str, moderator: bool = False, param: str = "video_id") -> None:
    """NotFound for a held video unless a moderator asks: to everyone else it is as gone as a removed one."""
    if not moderator and is_held(session=session, video_id=video_id):
        raise NotFound(HELD_MESSAGE, param=param)
