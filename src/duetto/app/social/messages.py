"""Direct messages between two users: text, a shared post, or both; blocks stop them either way, and the\nrecipient's safety settings decide who else may write to them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from duetto.app import moderation
from duetto.app.core.errors import Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import Account, Message, Post, conversation_key
from duetto.app.social import graph
from duetto.app.wellbeing import safety

MAX_MESSAGE = 2000


def send(*, session: Session, sender_id: str, recipient_id: str, body: str, post_id: str | None = None) -> Message:
    body = body.strip()
    post_id = (post_id or "").strip() or None
    if sender_id == recipient_id:
        raise InvalidRequest("You cannot message yourself.")
    if not body and not post_id:
        raise InvalidRequest("Message is empty; write something or share a video.", param="body")
    if len(body) > MAX_MESSAGE:
        raise InvalidRequest(f"Message must be at most {MAX_MESSAGE} characters.", param="body")
    recipient = session.get(Account, recipient_id)
    if recipient is None:
        raise NotFound("No such account.", param="to")
    if graph.is_blocked_between(session=session, a=sender_id, b=recipient_id):
        raise Forbidden("You cannot message this account.")
    # Who may message the recipient, and how far someone they do not follow may go unanswered (their settings,
    # and for a teen the stricter of theirs and their parent's).
    safety.check_message(session=session, sender_id=sender_id, recipient_id=recipient_id,
                         recipient_handle=recipient.handle)
    if post_id is not None:
        post = session.scalar(select(Post).where(Post.id == post_id))
        if post is None or any(graph.is_blocked_between(session=session, a=who, b=post.user_id)
                               for who in (sender_id, recipient_id)):
            raise NotFound("The shared video does not exist or cannot be shared with this account.", param="post_id")
    if body:
        moderation.require_allowed(session=session, text=body, surface="message", user_id=sender_id, param="body")
    message = Message(pair_key=conversation_key(sender_id, recipient_id), sender_id=sender_id, recipient_id=recipient_id,
                      body=body, post_id=post_id, created_at=time.time())
    session.add(message)
    session.commit()
    return message


def conversation(*, session: Session, viewer_id: str, other_id: str, limit: int = 200) -> list[Message]:
    """The latest messages between the viewer and one other user, oldest first; marks theirs as read."""
    key = conversation_key(viewer_id, other_id)
    rows = list(session.scalars(select(Message).where(Message.pair_key == key).order_by(Message.id.desc()).limit(limit)))
    session.execute(update(Message).where(Message.pair_key == key, Message.recipient_id == viewer_id,
                                          Message.read_at.is_(None)).values(read_at=time.time()))
    session.commit()
    return rows[::-1]


@dataclass
class Thread:
    other: Account
    last: Message
    unread: int


def inbox(*, session: Session, viewer_id: str, limit: int = 100) -> list[Thread]:
    """One line per conversation, most recent first; conversations with blocked accounts are left out."""
    mine = or_(Message.sender_id == viewer_id, Message.recipient_id == viewer_id)
    latest = (select(func.max(Message.id)).where(mine).group_by(Message.pair_key)
              .order_by(func.max(Message.id).desc()).limit(limit))
    messages = list(session.scalars(select(Message).where(Message.id.in_(latest)).order_by(Message.id.desc())))
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id)
    others = [m.recipient_id if m.sender_id == viewer_id else m.sender_id for m in messages]
    accounts = {a.user_id: a for a in session.scalars(select(Account).where(Account.user_id.in_(others)))}
    unread = dict(session.execute(
        select(Message.sender_id, func.count()).where(Message.recipient_id == viewer_id, Message.read_at.is_(None))
        .group_by(Message.sender_id)).all())
    return [Thread(other=accounts[o], last=m, unread=unread.get(o, 0))
            for m, o in zip(messages, others, strict=True) if o in accounts and o not in hidden]


def unread_count(*, session: Session, viewer_id: str) -> int:
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id)
    query = select(func.count()).select_from(Message).where(Message.recipient_id == viewer_id, Message.read_at.is_(None))
    if hidden:
        query = query.where(Message.sender_id.not_in(hidden))
    return session.scalar(query) or 0
