"""Likes, comments and views (with completions): the engagement the feed ranks by."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duetto.app import moderation
from duetto.app.core.errors import Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import Account, Comment, Like, Post, View
from duetto.app.moderation import reports
from duetto.app.social import graph
from duetto.app.social.posts import get_post, lock_post, recount, refresh_hot
from duetto.app.wellbeing import safety

MAX_COMMENT = 1000


def _locked_post(*, session: Session, post_id: str, viewer_id: str) -> Post:
    """A post the viewer may see, with its row taken for this transaction (see `lock_post`)."""
    post = get_post(session=session, post_id=post_id, viewer_id=viewer_id)
    if not lock_post(session=session, seq=post.seq):
        raise NotFound("This post does not exist or was taken down.", param="post_id")
    return post


def toggle_like(*, session: Session, viewer_id: str, post_id: str) -> tuple[bool, int]:
    """Like or unlike a post; returns (liked now, like count).

    Requests of one viewer about one post run one after the other (the post's row is taken first), so a
    double-click is two toggles, never a duplicate row, and the count is recounted from the rows.
    """
    post = _locked_post(session=session, post_id=post_id, viewer_id=viewer_id)
    unliked = session.execute(delete(Like).where(Like.user_id == viewer_id, Like.post_seq == post.seq)).rowcount
    if not unliked:
        session.add(Like(user_id=viewer_id, post_seq=post.seq, created_at=time.time()))
        session.flush()
    recount(session=session, seqs={post.seq})
    count = session.scalar(select(Post.like_count).where(Post.seq == post.seq)) or 0
    session.commit()
    refresh_hot(session=session, seqs={post.seq})
    return not unliked, count


def add_comment(*, session: Session, viewer_id: str, post_id: str, body: str) -> Comment:
    body = body.strip()
    if not body:
        raise InvalidRequest("Comment is empty; write something first.", param="body")
    if len(body) > MAX_COMMENT:
        raise InvalidRequest(f"Comment must be at most {MAX_COMMENT} characters.", param="body")
    post = get_post(session=session, post_id=post_id, viewer_id=viewer_id)
    decision = moderation.require_allowed(session=session, text=body, surface="comment", user_id=viewer_id, param="body")
    if not lock_post(session=session, seq=post.seq):
        raise NotFound("This post does not exist or was taken down.", param="post_id")
    comment = Comment(post_seq=post.seq, user_id=viewer_id, body=body, created_at=time.time())
    session.add(comment)
    session.flush()
    recount(session=session, seqs={post.seq})
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
    lock_post(session=session, seq=comment.post_seq)
    session.execute(delete(Comment).where(Comment.id == comment_id))
    recount(session=session, seqs={comment.post_seq})
    session.commit()
    refresh_hot(session=session, seqs={comment.post_seq})


@dataclass
class CommentView:
    comment: Comment
    author: Account


def comments(*, session: Session, post: Post, viewer_id: str | None, limit: int = 200) -> list[CommentView]:
    """The comments the viewer sees: not those of people either of them blocked, nor those the post's author
    hides from everyone but their writer (filtered words, people they do not follow, people they restricted)."""
    return comments_and_hidden(session=session, post=post, viewer_id=viewer_id, limit=limit)[0]


def comments_and_hidden(*, session: Session, post: Post, viewer_id: str | None, limit: int = 200
                        ) -> tuple[list[CommentView], int]:
    """`comments`, and how many the post author's own rules hid (the post page tells its author)."""
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    rules = safety.comment_rules(session=session, owner_id=post.user_id)
    rows = session.execute(
        select(Comment, Account).join(Account, Account.user_id == Comment.user_id)
        .where(Comment.post_seq == post.seq).order_by(Comment.id.asc()).limit(limit)
    ).all()
    shown, filtered = [], 0
    for c, a in rows:
        if c.user_id in hidden:
            continue
        if rules.hides(author_id=c.user_id, body=c.body, viewer_id=viewer_id):
            filtered += 1
            continue
        shown.append(CommentView(comment=c, author=a))
    return shown, filtered


def record_view(*, session: Session, viewer_id: str, post_id: str, completed: bool) -> None:
    """That the viewer watched a post they may see (one row per viewer and post), and whether to the end;
    NotFound for a post that does not exist, or that they may not see."""
    post = _locked_post(session=session, post_id=post_id, viewer_id=viewer_id)
    view = session.get(View, (viewer_id, post.seq), populate_existing=True)
    if view is None:
        session.add(View(user_id=viewer_id, post_seq=post.seq, completed=completed, less=False, seen_at=time.time()))
    elif completed and not view.completed:
        view.completed = True
    else:
        session.commit()  # nothing new: only give the row back
        return
    session.flush()
    recount(session=session, seqs={post.seq})
    session.commit()
    refresh_hot(session=session, seqs={post.seq})
