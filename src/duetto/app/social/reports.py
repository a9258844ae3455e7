"""Reports of posts, comments and users, and the moderators' queue that resolves them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest, NotFound
from duetto.app.core.parsing import MAX_ROW_ID, parse_whole
from duetto.app.db.models import Account, Comment, Post, Report
from duetto.app.moderation import Decision
from duetto.app.social.errors import Forbidden

REASONS = {
    "spam": "Spam or scam",
    "harassment": "Harassment or bullying",
    "hate": "Hate or violence",
    "sexual": "Sexual content",
    "likeness": "Uses my likeness without consent",
    "minor_safety": "Child safety",
    "ip": "Copyright or trademark",
    "misinformation": "Misleading or fake",
    "other": "Something else",
}
#: Every reason the queue shows: people's, and the one the moderation lists file themselves.
LABELS = {**REASONS, "flagged": "Flagged by the moderation lists"}
KINDS = ("post", "comment", "user")
MAX_DETAILS = 1000


def _comment(session: Session, target_id: str) -> Comment | None:
    """The comment a report names by its id (digits in a string column), or None."""
    comment_id = parse_whole(target_id)
    if comment_id is None or not 1 <= comment_id <= MAX_ROW_ID:
        return None
    return session.get(Comment, comment_id)


def _target_exists(session: Session, kind: str, target_id: str) -> bool:
    if kind == "post":
        return session.scalar(select(Post.seq).where(Post.id == target_id)) is not None
    if kind == "comment":
        return _comment(session, target_id) is not None
    return session.get(Account, target_id) is not None


def report(*, session: Session, reporter_id: str, kind: str, target_id: str, reason: str, details: str = "") -> Report:
    if kind not in KINDS:
        raise InvalidRequest(f"Can only report a {', '.join(KINDS)}.", param="kind")
    if reason not in REASONS:
        raise InvalidRequest("Pick a reason for the report.", param="reason")
    if len(details) > MAX_DETAILS:
        raise InvalidRequest(f"Details must be at most {MAX_DETAILS} characters.", param="details")
    if not _target_exists(session, kind, target_id):
        raise NotFound(f"The reported {kind} does not exist any more.", param="target_id")
    item = Report(reporter_id=reporter_id, target_kind=kind, target_id=target_id, reason=reason,
                  details=details.strip(), status="open", created_at=time.time())
    session.add(item)
    session.commit()
    return item


def file_flagged(*, session: Session, decision: Decision, kind: str, target_id: str) -> Report | None:
    """Put what a `flag` category let through into the report queue, so a person looks at it; nothing for
    any other verdict. The report has no reporter: the lists filed it."""
    if decision.verdict != "flagged":
        return None
    item = Report(reporter_id=None, target_kind=kind, target_id=target_id, reason="flagged",
                  details=f"{decision.category}: “{decision.term}” (decision {decision.log_id})", status="open",
                  created_at=time.time())
    session.add(item)
    session.commit()
    return item


@dataclass
class QueueItem:
    report: Report
    reporter: Account | None
    post: Post | None = None
    comment: Comment | None = None
    user: Account | None = None


def queue(*, session: Session, status: str = "open", limit: int = 100) -> list[QueueItem]:
    rows = list(session.scalars(select(Report).where(Report.status == status).order_by(Report.id.asc()).limit(limit)))
    items = []
    for row in rows:
        item = QueueItem(report=row, reporter=session.get(Account, row.reporter_id) if row.reporter_id else None)
        if row.target_kind == "post":
            item.post = session.scalar(select(Post).where(Post.id == row.target_id))
            item.user = session.get(Account, item.post.user_id) if item.post else None
        elif row.target_kind == "comment":
            item.comment = _comment(session, row.target_id)
            item.user = session.get(Account, item.comment.user_id) if item.comment else None
        else:
            item.user = session.get(Account, row.target_id)
        items.append(item)
    return items


def resolve(*, session: Session, moderator_id: str, is_moderator: bool, report_id: int, action: str) -> Report:
    """Dismiss a report, or remove what it reports (a post is taken down, a comment deleted)."""
    if not is_moderator:
        raise Forbidden("Only moderators can resolve reports.")
    item = session.get(Report, report_id)
    if item is None:
        raise NotFound("No such report.", param="report_id")
    if action not in ("remove", "dismiss"):
        raise InvalidRequest("Action must be remove or dismiss.", param="action")
    if action == "remove":
        if item.target_kind == "post":
            from duetto.app.social.posts import recount_posts

            post = session.scalar(select(Post).where(Post.id == item.target_id))
            if post is not None:
                parent = session.scalar(select(Post.seq).where(Post.id == post.parent_post_id)) \
                    if post.parent_post_id else None
                session.execute(delete(Post).where(Post.seq == post.seq))
                session.commit()
                if parent is not None:
                    recount_posts(session=session, seqs={parent})
        elif item.target_kind == "comment":
            from duetto.app.social.engagement import delete_comment

            comment = _comment(session, item.target_id)
            if comment is not None:
                delete_comment(session=session, viewer_id=moderator_id, comment_id=comment.id, moderator=True)
        else:
            # Accounts are not deleted from the queue: suspending people needs a policy this app does not have.
            raise InvalidRequest("Users cannot be removed from the queue; dismiss, or remove their posts.")
    # Every open report of the same target is settled together.
    now = time.time()
    for same in session.scalars(select(Report).where(Report.target_kind == item.target_kind,
                                                     Report.target_id == item.target_id, Report.status == "open")):
        same.status = "removed" if action == "remove" else "dismissed"
        same.resolved_by, same.resolved_at = moderator_id, now
    session.commit()
    return item
