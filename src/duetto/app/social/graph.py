"""Who follows whom (and who is mutual), and who blocked whom."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from duetto.app.core.errors import Forbidden, InvalidRequest
from duetto.app.db.models import Account, Block, Follow, Post


@dataclass(frozen=True)
class Relation:
    """How the viewer and another user stand with each other."""

    following: bool = False  # the viewer follows them
    followed_by: bool = False  # they follow the viewer
    blocking: bool = False  # the viewer blocked them
    blocked_by: bool = False  # they blocked the viewer

    @property
    def mutual(self) -> bool:
        return self.following and self.followed_by

    @property
    def blocked(self) -> bool:
        return self.blocking or self.blocked_by


def relation(*, session: Session, viewer_id: str | None, other_id: str) -> Relation:
    if viewer_id is None or viewer_id == other_id:
        return Relation()
    follows = set(session.execute(
        select(Follow.follower_id).where(
            or_((Follow.follower_id == viewer_id) & (Follow.followee_id == other_id),
                (Follow.follower_id == other_id) & (Follow.followee_id == viewer_id)))
    ).scalars())
    blocks = set(session.execute(
        select(Block.blocker_id).where(
            or_((Block.blocker_id == viewer_id) & (Block.blocked_id == other_id),
                (Block.blocker_id == other_id) & (Block.blocked_id == viewer_id)))
    ).scalars())
    return Relation(following=viewer_id in follows, followed_by=other_id in follows,
                    blocking=viewer_id in blocks, blocked_by=other_id in blocks)


def is_blocked_between(*, session: Session, a: str, b: str) -> bool:
    return relation(session=session, viewer_id=a, other_id=b).blocked


def blocked_ids(*, session: Session, viewer_id: str) -> set[str]:
    """Everyone the viewer blocked or was blocked by: hidden from each other everywhere."""
    mine = session.scalars(select(Block.blocked_id).where(Block.blocker_id == viewer_id))
    theirs = session.scalars(select(Block.blocker_id).where(Block.blocked_id == viewer_id))
    return set(mine) | set(theirs)


def followee_ids(*, session: Session, viewer_id: str) -> set[str]:
    return set(session.scalars(select(Follow.followee_id).where(Follow.follower_id == viewer_id)))


def _insert_ignore(*, session: Session, table: type, **values: object) -> None:
    # One statement that tolerates a repeat click, on SQLite and PostgreSQL alike.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())


def follow(*, session: Session, viewer_id: str, other_id: str) -> None:
    if viewer_id == other_id:
        raise InvalidRequest("You cannot follow yourself.")
    if is_blocked_between(session=session, a=viewer_id, b=other_id):
        raise Forbidden("You cannot follow this account.")
    _insert_ignore(session=session, table=Follow, follower_id=viewer_id, followee_id=other_id, created_at=time.time())
    session.commit()


def unfollow(*, session: Session, viewer_id: str, other_id: str) -> None:
    session.execute(delete(Follow).where(Follow.follower_id == viewer_id, Follow.followee_id == other_id))
    session.commit()


def block(*, session: Session, viewer_id: str, other_id: str) -> None:
    """Block someone: no DMs or remixes either way, hidden from each other's feeds, follows dropped."""
    if viewer_id == other_id:
        raise InvalidRequest("You cannot block yourself.")
    _insert_ignore(session=session, table=Block, blocker_id=viewer_id, blocked_id=other_id, created_at=time.time())
    session.execute(delete(Follow).where(
        or_((Follow.follower_id == viewer_id) & (Follow.followee_id == other_id),
            (Follow.follower_id == other_id) & (Follow.followee_id == viewer_id))))
    session.commit()


def unblock(*, session: Session, viewer_id: str, other_id: str) -> None:
    session.execute(delete(Block).where(Block.blocker_id == viewer_id, Block.blocked_id == other_id))
    session.commit()


@dataclass(frozen=True)
class Counts:
    followers: int
    following: int
    posts: int


def counts(*, session: Session, user_id: str, viewer_id: str | None = None, posts: int | None = None) -> Counts:
    """A profile's numbers as the viewer's lists show them: people either of them blocked are not counted
    (the follower lists leave them out); `posts` is what the viewer may see of them (`social.posts`)."""
    hidden = blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    followers = select(func.count()).select_from(Follow).where(Follow.followee_id == user_id)
    following = select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
    if hidden:
        followers = followers.where(Follow.follower_id.not_in(hidden))
        following = following.where(Follow.followee_id.not_in(hidden))
    if posts is None:
        posts = session.scalar(select(func.count()).select_from(Post).where(Post.user_id == user_id)) or 0
    return Counts(followers=session.scalar(followers) or 0, following=session.scalar(following) or 0, posts=posts)


def people(*, session: Session, user_id: str, direction: str, limit: int = 200) -> list[Account]:
    """Accounts following `user_id` (direction="followers") or followed by them ("following")."""
    if direction == "followers":
        query = select(Account).join(Follow, Follow.follower_id == Account.user_id).where(Follow.followee_id == user_id)
    else:
        query = select(Account).join(Follow, Follow.followee_id == Account.user_id).where(Follow.follower_id == user_id)
    return list(session.scalars(query.order_by(Follow.created_at.desc()).limit(limit)))


def mutual_ids(*, session: Session, user_id: str) -> set[str]:
    mine = followee_ids(session=session, viewer_id=user_id)
    theirs = set(session.scalars(select(Follow.follower_id).where(Follow.followee_id == user_id)))
    return mine & theirs
