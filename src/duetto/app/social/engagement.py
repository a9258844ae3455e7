"""Likes, comments and views (with completions): the engagement the feed ranks by."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from duetto.app import moderation
from duetto.app.core.errors import InvalidRequest, NotFound
from duetto.app.db.models import Account, Comment, Like, Post, View
from duetto.app.social import graph, reports
from duetto.app.social.errors import Forbidden
from duetto.app.social.posts import get_post, refresh_hot

MAX_COMMENT = 1000


def toggle_like(*, session: Session, viewer_id: str, post_id: str) -> tuple[bool, int]:
    """Like or unlike a post; returns (liked now, like count)."""
    post = get_post(session=session, post_id=post_id, viewer_id=viewer_id)
    existing = session.get(Like, (viewer_id, post.seq))
    if existing is None:
        session.add(Like(user_id=viewer_id, post_seq=post.seq, created_at=time.time()))
        delta = 1
    else:
        session.execute(delete(Like).where(Like.user_id == viewer_id, Like.post_seq == post.seq))
        delta = -1
    session.execute(update(Post).where(Post.seq == post.seq).values(like_count=Post.like_count + delta))
    session.commit()
    refresh_hot(session=session, seqs={post.seq})
    session.refresh(post)
    return existing is None, post.like_count


def add_comment(*, session: Session, viewer_id: str, post_id: str, body: str) -> Comment:
    body = body.strip()
    if not body:
        raise InvalidRequest("Comment is empty; write something first.", param="body")
    if len(body) > MAX_COMMENT:
        raise InvalidRequest(f"Comment must be at most {MAX_COMMENT} characters.", param="body")
    post = get_post(session=session, post_id=post_id, viewer_id=viewer_id)
    decision = moderation.require_allowed(session, text=body, surface="comment", user_id=viewer_id, param="body")
    comment = Comment(post_seq=post.seq, user_id=viewer_id, body=body, created_at=time.time())
    session.add(comment)
    session.execute(update(Post).where(Post.seq == post.seq).values(comment_count=Post.comment_count + 1))
    session.commit()
    reports.file_flagged(session=session, decision=decision, kind="comment", target_id=str(comment.id))
    refresh_hot(session=session, seqs={post.seq})
    return comment


def delete_comment(*, session: Session, viewer_id: str, comment_id: int, moderator: bool = False) -> None:
    """The comment's author, the post's author or a moderator may delete a comment."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound("No such comment.", param="comment_id")
    post = session.get(Post, comment.post_seq)
    if not (moderator or comment.user_id == viewer_id or (post is not None and post.user_id == viewer_id)):
        raise Forbidden("You can only delete your own comments or comments on your posts.")
    session.execute(delete(Comment).where(Comment.id == comment_id))
    session.execute(update(Post).where(Post.seq == comment.post_seq).values(comment_count=Post.comment_count - 1))
    session.commit()
    refresh_hot(session=session, seqs={comment.post_seq})


@dataclass
class CommentView:
    comment: Comment
    author: Account


def comments(*, session: Session, post: Post, viewer_id: str | None, limit: int = 200) -> list[CommentView]:
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    rows = session.execute(
        select(Comment, Account).join(Account, Account.user_id == Comment.user_id)
        .where(Comment.post_seq == post.seq).order_by(Comment.id.asc()).limit(limit)
    ).all()
    return [CommentView(comment=c, author=a) for c, a in rows if c.user_id not in hidden]


def record_view(*, session: Session, viewer_id: str, post_id: str, completed: bool) -> None:
    """That the viewer watched a post (once counted per viewer), and whether they watched it to the end."""
    post = session.scalar(select(Post).where(Post.id == post_id))
    if post is None:
        return  # taken down while it played: nothing to count
    view = session.get(View, (viewer_id, post.seq))
    counters: dict[str, object] = {}
    if view is None:
        session.add(View(user_id=viewer_id, post_seq=post.seq, completed=completed, less=False, seen_at=time.time()))
        counters["view_count"] = Post.view_count + 1
        if completed:
            counters["completion_count"] = Post.completion_count + 1
    elif completed and not view.completed:
        view.completed = True
        counters["completion_count"] = Post.completion_count + 1
    if counters:
        session.execute(update(Post).where(Post.seq == post.seq).values(**counters))
    session.commit()
    if "completion_count" in counters:
        refresh_hot(session=session, seqs={post.seq})
