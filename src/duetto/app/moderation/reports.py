"""Reports of posts, comments and users, and the moderators' queue of them (`flows.removal` carries out a
decision)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Forbidden, InvalidRequest, NotFound
from duetto.app.core.parsing import MAX_ROW_ID, parse_whole
from duetto.app.db.models import Account, Comment, Post, Report
from duetto.app.moderation import Decision

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


def _comment(*, session: Session, target_id: str) -> Comment | None:
    """The comment a report names by its id (digits in a string column), or None."""
    comment_id = parse_whole(target_id)
    if comment_id is None or not 1 <= comment_id <= MAX_ROW_ID:
        return None
    return session.get(Comment, comment_id)


def _target_exists(*, session: Session, kind: str, target_id: str) -> bool:
    if kind == "post":
        return session.scalar(select(Post.seq).where(Post.id == target_id)) is not None
    if kind == "comment":
        return _comment(session=session, target_id=target_id) is not None
    return session.get(Account, target_id) is not None


def report(*, session: Session, reporter_id: str, kind: str, target_id: str, reason: str, details: str = "") -> Report:
    if kind not in KINDS:
        raise InvalidRequest(f"Can only report a {', '.join(KINDS)}.", param="kind")
    if reason not in REASONS:
        raise InvalidRequest("Pick a reason for the report.", param="reason")
    if len(details) > MAX_DETAILS:
        raise InvalidRequest(f"Details must be at most {MAX_DETAILS} characters.", param="details")
    if not _target_exists(session=session, kind=kind, target_id=target_id):
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
            item.comment = _comment(session=session, target_id=row.target_id)
            item.user = session.get(Account, item.comment.user_id) if item.comment else None
        else:
            item.user = session.get(Account, row.target_id)
        items.append(item)
    return items


def open_report(*, session: Session, is_moderator: bool, report_id: int, action: str) -> Report:
    """The report a moderator is deciding, once they may and the action is one the queue knows."""
    if not is_moderator:
        raise Forbidden("Only moderators can resolve reports.")
    item = session.get(Report, report_id)
    if item is None:
        raise NotFound("No such report.", param="report_id")
    if action not in ("remove", "dismiss"):
        raise InvalidRequest("Action must be remove or dismiss.", param="action")
    return item


def reported_comment(*, session: Session, report: Report) -> Comment | None:
    """The comment a report names, if it still exists."""
    return _comment(session=session, target_id=report.target_id)


def settle(*, session: Session, report: Report, action: str, moderator_id: str) -> None:
    """Close every open report of the same target with one decision (committed)."""
    now = time.time()
    for same in session.scalars(select(Report).where(Report.target_kind == report.target_kind,
                                                     Report.target_id == report.target_id, Report.status == "open")):
        same.status = "removed" if action == "remove" else "dismissed"
        same.resolved_by, same.resolved_at = moderator_id, now
    session.commit()
