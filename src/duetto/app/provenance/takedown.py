"""Takedown requests for non-consensual intimate or unlawful content: hold at once (`moderation.holds`), review
within 48 hours (`flows.removal` carries out a decision)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import Account, ClipPrint, Post, Takedown, Video
from duetto.app.moderation.holds import OPEN

CATEGORIES = {
    "ncii": "Intimate or sexual imagery of a real person shared without their consent (including AI-made)",
    "unlawful": "Other unlawful content (for example child sexual abuse material, threats, defamation)",
}
REVIEW_HOURS = 48
MAX_DETAILS = 2000
MAX_CONTACT = 200
_POST_ID = re.compile(r"(?:/p/)?([A-Za-z0-9_-]{4,40})/?$")


def _post_id(reference: str) -> str:
    """A post id from what a reporter pastes: the id itself or the post's address."""
    found = _POST_ID.search(reference.strip().split("?")[0].split("#")[0])
    if found is None:
        raise InvalidRequest("Paste the address of the post (it looks like /p/…).", param="post")
    return found.group(1)


def request_takedown(*, session: Session, post: str, category: str, details: str = "", contact: str = "") -> Takedown:
    """Record a request and hide the post from everyone but moderators until a moderator decides."""
    if category not in CATEGORIES:
        raise InvalidRequest("Pick what kind of content this is.", param="category")
    if len(details) > MAX_DETAILS:
        raise InvalidRequest(f"Details must be at most {MAX_DETAILS} characters.", param="details")
    if len(contact) > MAX_CONTACT:
        raise InvalidRequest(f"Contact must be at most {MAX_CONTACT} characters.", param="contact")
    post_id = _post_id(post)
    row = session.scalar(select(Post).where(Post.id == post_id))
    if row is None:
        raise NotFound("There is no post at that address (it may already be gone).", param="post")
    now = time.time()
    # Requests about a post already held join its case: one hold, one place in the queue, and the review
    # clock of the first request (a repeat cannot push the decision back).
    first = session.scalar(select(Takedown).where(OPEN, Takedown.post_id == row.id).order_by(Takedown.id).limit(1))
    item = Takedown(ticket=secrets.token_urlsafe(18), post_id=row.id, video_id=row.video_id, category=category,
                    details=details.strip(), contact=contact.strip(), status="open", created_at=now,
                    due_at=first.due_at if first else now + REVIEW_HOURS * 3600, removed_count=0)
    session.add(item)
    session.commit()
    return item


@dataclass
class QueueItem:
    """One held post: its first request (whose id the decision is posted to) and every open request about it."""

    takedown: Takedown
    post: Post | None
    author: Account | None
    requests: list[Takedown] = field(default_factory=list)

    @property
    def hours_left(self) -> float:
        return (self.takedown.due_at - time.time()) / 3600

    @property
    def overdue(self) -> bool:
        return self.hours_left < 0


def queue(*, session: Session, limit: int = 100) -> list[QueueItem]:
    """Held posts, one item each however many requests name them, the nearest deadline first."""
    rows = session.scalars(select(Takedown).where(OPEN).order_by(Takedown.due_at.asc(), Takedown.id.asc()))
    by_post: dict[str, QueueItem] = {}
    for row in rows:
        if row.post_id in by_post:
            by_post[row.post_id].requests.append(row)
            continue
        if len(by_post) == limit:
            continue
        post = session.scalar(select(Post).where(Post.id == row.post_id))
        by_post[row.post_id] = QueueItem(takedown=row, post=post, requests=[row],
                                         author=session.get(Account, post.user_id) if post else None)
    return list(by_post.values())


def matching_videos(*, session: Session, video_id: str) -> list[str]:
    """Every stored clip whose fingerprint matches this video's (itself included), so copies go too."""
    from duetto.provenance import MATCH_THRESHOLD, Fingerprint, match

    own = session.scalar(select(ClipPrint.data).where(ClipPrint.video_id == video_id))
    if own is None:
        return [video_id]
    target = Fingerprint.from_bytes(own)
    found = [video_id]
    rows = session.execute(select(ClipPrint.video_id, ClipPrint.data).join(Video, Video.id == ClipPrint.video_id)
                           .where(ClipPrint.video_id != video_id, Video.deleted_at.is_(None)))
    for other_id, data in rows:
        if match(target, Fingerprint.from_bytes(data)) >= MATCH_THRESHOLD:
            found.append(other_id)
    return found


def open_request(*, session: Session, takedown_id: int, is_moderator: bool, action: str) -> Takedown:
    """The request a moderator is deciding, once they may, it is still open and the action is known."""
    if not is_moderator:
        raise Forbidden("Only moderators can decide takedown requests.")
    item = session.get(Takedown, takedown_id)
    if item is None:
        raise NotFound("No such takedown request.", param="takedown_id")
    if item.status != "open":
        raise InvalidRequest(f"This request was already decided ({item.status}).", param="takedown_id")
    if action not in ("remove", "dismiss"):
        raise InvalidRequest("Action must be remove or dismiss.", param="action")
    return item


def settle(*, session: Session, takedown: Takedown, action: str, moderator_id: str, removed: int) -> None:
    """Close every open request about the same post with the one decision (committed)."""
    now = time.time()
    for same in session.scalars(select(Takedown).where(Takedown.post_id == takedown.post_id,
                                                       Takedown.status == "open")):
        same.status = "removed" if action == "remove" else "dismissed"
        same.resolved_by, same.resolved_at, same.removed_count = moderator_id, now, removed
    session.commit()


def by_ticket(*, session: Session, ticket: str) -> Takedown:
    item = session.scalar(select(Takedown).where(Takedown.ticket == ticket))
    if item is None:
        raise NotFound("No takedown request has that ticket; check the link you were given.", param="ticket")
    return item
