"""Takedown requests for non-consensual intimate or unlawful content: hold at once (`moderation.holds`), review
within 48 hours (`flows.removal` carries out a decision), and the creator's side of a case: their notices (under
review, overdue, decided) and their one answer, which moderators read in the queue.

A case past its 48 hours stays held: it is not restored unreviewed, because what these requests name
(intimate imagery shared without consent, unlawful content) does its harm while it is up, and laws such as
the US TAKE IT DOWN Act ask for removal within 48 hours of a valid request; nor removed unreviewed, because
anyone can file a request and that would let anyone delete anyone's work. It goes to the top of every
moderator's queue instead (first on /mod and counted in their navigation), and its creator is told."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from duetto.app.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import Account, ClipPrint, Post, Takedown, Video
from duetto.app.moderation.holds import OPEN

CATEGORIES = {
    "ncii": "Intimate or sexual imagery of a real person shared without their consent (including AI-made)",
    "unlawful": "Other unlawful content (for example child sexual abuse material, threats, defamation)",
}
REVIEW_HOURS = 48
MAX_DETAILS = 2000
MAX_CONTACT = 200
MAX_ANSWER = 2000
NOTICE_DAYS = 30  # decided cases stay in the creator's notices this long
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


def overdue_count(*, session: Session) -> int:
    """Held posts whose 48 hours have run out without a decision: the moderators' most urgent work."""
    return session.scalar(select(func.count(func.distinct(Takedown.post_id)))
                          .where(OPEN, Takedown.due_at < time.time())) or 0


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


# --- The creator's side: notices about their posts, and their one answer --------------------------------


@dataclass
class CreatorCase:
    """A takedown case as its creator sees it: one per post and decision (repeat requests join the case)."""

    head: Takedown  # the case's first request: it carries the answer and when the creator last looked
    post_id: str
    caption: str
    status: str  # open | removed | dismissed

    @property
    def overdue(self) -> bool:
        return self.status == "open" and self.head.due_at < time.time()

    @property
    def changed_at(self) -> float:
        """When the creator's notice last changed: requested, then overdue, then decided."""
        if self.status != "open":
            return self.head.resolved_at or self.head.created_at
        return self.head.due_at if self.overdue else self.head.created_at

    @property
    def unread(self) -> bool:
        return self.changed_at > (self.head.creator_seen_at or 0.0)

    @property
    def can_answer(self) -> bool:
        return self.status == "open" and self.head.creator_answer is None


def creator_cases(*, session: Session, user_id: str, post_id: str | None = None) -> list[CreatorCase]:
    """The creator's cases, open ones first then the newest; decided ones for NOTICE_DAYS."""
    since = time.time() - NOTICE_DAYS * 86400
    query = (select(Takedown, Video.prompt).join(Video, Video.id == Takedown.video_id)
             .where(Video.user_id == user_id, (Takedown.status == "open") | (Takedown.resolved_at > since))
             .order_by(Takedown.id.asc()))
    if post_id is not None:
        query = query.where(Takedown.post_id == post_id)
    cases: dict[tuple[str, str, float | None], CreatorCase] = {}
    captions = dict(session.execute(select(Post.id, Post.caption).join(Video, Video.id == Post.video_id)
                                    .where(Video.user_id == user_id)).all())
    for row, prompt in session.execute(query):
        key = (row.post_id, row.status, row.resolved_at)  # one decision settles a case's requests at once
        if key not in cases:
            caption = captions.get(row.post_id) or prompt
            cases[key] = CreatorCase(head=row, post_id=row.post_id, caption=caption[:80], status=row.status)
    return sorted(cases.values(), key=lambda c: (c.status != "open", -c.changed_at))


def open_case(*, session: Session, user_id: str, post_id: str) -> CreatorCase | None:
    """The creator's open case about this post, or None (not theirs, or not under review)."""
    found = [c for c in creator_cases(session=session, user_id=user_id, post_id=post_id) if c.status == "open"]
    return found[0] if found else None


def unread_notices(*, session: Session, user_id: str) -> list[CreatorCase]:
    return [case for case in creator_cases(session=session, user_id=user_id) if case.unread]


def mark_seen(*, session: Session, user_id: str, post_id: str | None = None) -> None:
    """The creator has seen their cases (about one post, or all of them) as they are now (committed)."""
    videos = select(Video.id).where(Video.user_id == user_id).scalar_subquery()
    query = update(Takedown).where(Takedown.video_id.in_(videos))
    if post_id is not None:
        query = query.where(Takedown.post_id == post_id)
    session.execute(query.values(creator_seen_at=time.time()))
    session.commit()


def answer(*, session: Session, user_id: str, post_id: str, text: str) -> CreatorCase:
    """The creator's one answer to an open case, shown to moderators beside the request (committed)."""
    text = text.strip()
    if not text:
        raise InvalidRequest("Write your answer first: say why the post should stay up.", param="answer")
    if len(text) > MAX_ANSWER:
        raise InvalidRequest(f"Your answer must be at most {MAX_ANSWER} characters (it has {len(text)}).",
                             param="answer")
    case = open_case(session=session, user_id=user_id, post_id=post_id)
    if case is None:
        raise NotFound("This post of yours is not under review any more.", param="post_id")
    if case.head.creator_answer is not None:
        raise Conflict("You have already answered; moderators will read it when they decide.",
                       code="already_answered")
    case.head.creator_answer, case.head.creator_answered_at = text, time.time()
    session.commit()
    return case
