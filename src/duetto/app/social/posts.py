"""Drafts and posts: posting a finished video with a caption, unposting, remix lineage, and post cards."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from duetto.app import moderation
from duetto.app.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from duetto.app.core.security import new_id
from duetto.app.db.models import Account, Comment, Like, Post, User, Video, View
from duetto.app.infra.storage import Storage
from duetto.app.moderation import reports
from duetto.app.moderation.holds import held, held_post_ids, require_not_held
from duetto.app.social import graph
from duetto.app.social.hot import hot_score
from duetto.app.social.terms import terms_of
from duetto.app.videos import prompt_format
from duetto.app.videos import service as videos

MAX_CAPTION = 500


def refresh_hot(*, session: Session, seqs: set[int] | list[int]) -> None:
    """Recompute the stored ranking score of some posts from their counters."""
    # populate_existing: the session may hold these posts as read before their counters changed.
    query = select(Post).where(Post.seq.in_(list(seqs))).execution_options(populate_existing=True)
    for post in session.scalars(query):
        post.hot = hot_score(likes=post.like_count, completions=post.completion_count, remixes=post.remix_count,
                             comments=post.comment_count, created_at=post.created_at)
    session.commit()


def lock_post(*, session: Session, seq: int) -> bool:
    """Take the post's row for this transaction before changing the rows its counters count.

    A no-op UPDATE is the one lock both databases take the same way: PostgreSQL locks the row, SQLite the
    database, until commit. Two requests about one post (a double-clicked like) then run one after the
    other instead of both reading "not liked yet". False when the post is gone.
    """
    result = session.execute(update(Post).where(Post.seq == seq).values(like_count=Post.like_count))
    return result.rowcount == 1


def _count(model: type[Like] | type[Comment] | type[View], *conditions: object) -> object:
    return select(func.count()).select_from(model).where(model.post_seq == Post.seq, *conditions).scalar_subquery()


def recount(*, session: Session, seqs: set[int] | list[int]) -> None:
    """Set the counters of some posts to what their rows say (not committed).

    Counters are only ever set this way, from the rows, in the same transaction as the change, never
    incremented: a repeated or concurrent request cannot make them drift from the rows.
    """
    if not seqs:
        return
    parent = aliased(Post)
    session.execute(update(Post).where(Post.seq.in_(list(seqs))).values(
        like_count=_count(Like),
        comment_count=_count(Comment),
        view_count=_count(View),
        completion_count=_count(View, View.completed.is_(True)),
        remix_count=select(func.count()).select_from(parent).where(parent.parent_post_id == Post.id)
        .scalar_subquery(),
    ))


def recount_posts(*, session: Session, seqs: set[int]) -> None:
    """Recount likes, comments, views, completions and remixes of some posts (after deletions)."""
    recount(session=session, seqs=seqs)
    session.commit()
    refresh_hot(session=session, seqs=seqs)


def _own_video(*, session: Session, user_id: str, video_id: str) -> Video:
    video = session.scalar(select(Video).where(Video.id == video_id, Video.user_id == user_id,
                                               Video.deleted_at.is_(None)))
    if video is None:
        raise NotFound(f"No draft found with id {video_id!r}.", param="video_id")
    return video


def post_of_video(*, session: Session, video_id: str) -> Post | None:
    return session.scalar(select(Post).where(Post.video_id == video_id))


def publish(*, session: Session, user_id: str, video_id: str, caption: str) -> Post:
    """Post one of the user's finished drafts; a remix records its parent and root post."""
    caption = caption.strip()
    if len(caption) > MAX_CAPTION:
        raise InvalidRequest(f"Caption must be at most {MAX_CAPTION} characters.", param="caption")
    video = _own_video(session=session, user_id=user_id, video_id=video_id)
    if video.status != "completed":
        raise InvalidRequest(f"This draft is {video.status.replace('_', ' ')}; post it once it is finished.")
    if post_of_video(session=session, video_id=video_id) is not None:
        raise Conflict("This draft is already posted.")
    parent = post_of_video(session=session, video_id=video.remixed_from_video_id) if video.remixed_from_video_id else None
    if parent is not None and graph.is_blocked_between(session=session, a=user_id, b=parent.user_id):
        raise Forbidden("You cannot post a remix of this account's post.")
    decision = (moderation.require_allowed(session=session, text=caption, surface="caption", user_id=user_id,
                                           param="caption") if caption else None)
    now = time.time()
    picture, sound = prompt_format.split(video.prompt)
    post = Post(
        id=new_id("post"), user_id=user_id, video_id=video.id, caption=caption,
        parent_post_id=parent.id if parent else None,
        root_post_id=(parent.root_post_id or parent.id) if parent else None,
        like_count=0, comment_count=0, remix_count=0, view_count=0, completion_count=0,
        hot=hot_score(likes=0, completions=0, remixes=0, comments=0, created_at=now),
        terms=" ".join(terms_of(picture, sound, caption)), created_at=now,
    )
    session.add(post)
    try:
        session.flush()
    except IntegrityError:  # the same draft posted twice at once (a double-clicked button)
        session.rollback()
        raise Conflict("This draft is already posted.") from None
    if parent is not None:
        recount(session=session, seqs={parent.seq})
    session.commit()
    if decision is not None:
        reports.file_flagged(session=session, decision=decision, kind="post", target_id=post.id)
    if parent is not None:
        refresh_hot(session=session, seqs={parent.seq})
    return post


def remove_post(*, session: Session, post: Post) -> None:
    """Delete a post (its likes, comments and views go with it) and recount the post it remixes (committed).
    The one way a post comes down: its maker unposting, a moderator's removal, a takedown, a character
    owner's deletion."""
    parent_id = post.parent_post_id
    session.execute(delete(Post).where(Post.seq == post.seq))
    session.commit()
    if parent_id:
        parent = session.scalar(select(Post.seq).where(Post.id == parent_id))
        if parent is not None:
            recount_posts(session=session, seqs={parent})


def unpost(*, session: Session, user_id: str, post_id: str) -> Video:
    """Take a post down; its video goes back to the drafts (likes and comments go with the post)."""
    post = session.scalar(select(Post).where(Post.id == post_id, Post.user_id == user_id))
    if post is None:
        raise NotFound(f"No post of yours with id {post_id!r}.", param="post_id")
    video = _own_video(session=session, user_id=user_id, video_id=post.video_id)
    remove_post(session=session, post=post)
    return video


def delete_draft(*, session: Session, storage: Storage, user: User, video_id: str) -> None:
    """Delete a draft (cancelling it if it is still being made), taking its post down first."""
    video = _own_video(session=session, user_id=user.id, video_id=video_id)
    post = post_of_video(session=session, video_id=video.id)
    if post is not None:
        unpost(session=session, user_id=user.id, post_id=post.id)
    videos.delete_video(session=session, storage=storage, user=user, video_id=video.id)


def get_post(*, session: Session, post_id: str, viewer_id: str | None, include_held: bool = False) -> Post:
    """A public post the viewer may see: blocked either way, or held by a takedown request (unless
    `include_held`, for moderators), it is as unknown as one that never existed."""
    post = session.scalar(select(Post).where(Post.id == post_id))
    if post is None or (viewer_id and graph.is_blocked_between(session=session, a=viewer_id, b=post.user_id)):
        raise NotFound("This post does not exist or was taken down.", param="post_id")
    require_not_held(session=session, video_id=post.video_id, moderator=include_held, param="post_id")
    return post


def remix_source(*, session: Session, post_id: str, viewer_id: str) -> tuple[Post, Video]:
    """The post to remix and its video, if the viewer may remix it (never while it is held)."""
    post = session.scalar(select(Post).where(Post.id == post_id))
    if post is None:
        raise NotFound("The post to remix does not exist or was taken down.", param="remix_of")
    require_not_held(session=session, video_id=post.video_id, param="remix_of")
    if graph.is_blocked_between(session=session, a=viewer_id, b=post.user_id):
        raise Forbidden("You cannot remix this account's posts.")
    video = session.scalar(select(Video).where(Video.id == post.video_id, Video.deleted_at.is_(None),
                                               Video.status == "completed"))
    if video is None:
        raise NotFound("The post to remix has no video any more.", param="remix_of")
    return post, video


@dataclass
class PostCard:
    """Everything a page shows about one post."""

    post: Post
    author: Account
    video: Video
    liked: bool = False
    following_author: bool = False
    parent_handle: str | None = None  # "remix of @handle"; None for an original or a removed parent
    parent_removed: bool = False
    # What the viewer's lists show: remixes and comments they may see (the stored counters, which rank
    # posts, count everyone's, held remixes and blocked people's included).
    remix_count: int = 0
    comment_count: int = 0

    @property
    def aspect(self) -> str:
        width, _, height = self.video.size.partition("x")
        return f"{width} / {height}"


def cards(*, session: Session, posts: list[Post], viewer_id: str | None, include_held: bool = False) -> list[PostCard]:
    """Cards for posts in the given order, dropping any whose video was deleted through the API, and any held
    by an open takedown request unless `include_held` (moderators)."""
    if not include_held and posts:
        held = held_post_ids(session=session, post_ids=[p.id for p in posts])
        posts = [p for p in posts if p.id not in held]
    if not posts:
        return []
    user_ids = {p.user_id for p in posts}
    authors = {a.user_id: a for a in session.scalars(select(Account).where(Account.user_id.in_(user_ids)))}
    video_rows = session.scalars(select(Video).where(Video.id.in_([p.video_id for p in posts])))
    vids = {v.id: v for v in video_rows if v.deleted_at is None and v.status == "completed"}
    parent_ids = {p.parent_post_id for p in posts if p.parent_post_id}
    parents = dict(session.execute(
        select(Post.id, Account.handle).join(Account, Account.user_id == Post.user_id).where(Post.id.in_(parent_ids))
    ).all()) if parent_ids else {}
    shown = visible_counts(session=session, posts=posts, viewer_id=viewer_id, include_held=include_held)
    liked: set[int] = set()
    followees: set[str] = set()
    if viewer_id:
        liked = set(session.scalars(select(Like.post_seq).where(
            Like.user_id == viewer_id, Like.post_seq.in_([p.seq for p in posts]))))
        followees = graph.followee_ids(session=session, viewer_id=viewer_id) & user_ids
    out = []
    for post in posts:
        author, video = authors.get(post.user_id), vids.get(post.video_id)
        if author is None or video is None:
            continue
        out.append(PostCard(
            post=post, author=author, video=video, liked=post.seq in liked,
            following_author=post.user_id in followees, parent_handle=parents.get(post.parent_post_id or ""),
            parent_removed=bool(post.parent_post_id) and post.parent_post_id not in parents,
            remix_count=shown.remixes.get(post.id, 0), comment_count=shown.comments.get(post.seq, 0),
        ))
    return out


@dataclass
class VisibleCounts:
    remixes: dict[str, int]  # by post id
    comments: dict[int, int]  # by post seq


def _visible_posts(query, *, hidden: set[str], include_held: bool):  # noqa: ANN001, ANN202 - a Select of posts
    """Only the posts a viewer's lists show: with a finished, undeleted video, not held (unless moderators
    look), and by nobody blocked either way."""
    query = query.join(Video, Video.id == Post.video_id).where(Video.deleted_at.is_(None), Video.status == "completed")
    if hidden:
        query = query.where(Post.user_id.not_in(hidden))
    if not include_held:
        query = query.where(~held(Post.id))
    return query


def visible_counts(*, session: Session, posts: list[Post], viewer_id: str | None,
                   include_held: bool = False) -> VisibleCounts:
    """Remixes and comments of these posts counted as `remixes` and `engagement.comments` list them for the
    viewer, so a page never says "1 remix" above "No remixes yet"."""
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    remix_query = _visible_posts(select(Post.parent_post_id, func.count()), hidden=hidden, include_held=include_held)
    remix_rows = session.execute(remix_query.where(Post.parent_post_id.in_([p.id for p in posts]))
                                 .group_by(Post.parent_post_id)).all()
    comment_query = (select(Comment.post_seq, func.count()).join(Account, Account.user_id == Comment.user_id)
                     .where(Comment.post_seq.in_([p.seq for p in posts])))
    if hidden:
        comment_query = comment_query.where(Comment.user_id.not_in(hidden))
    comment_rows = session.execute(comment_query.group_by(Comment.post_seq)).all()
    return VisibleCounts(remixes={pid: n for pid, n in remix_rows}, comments={seq: n for seq, n in comment_rows})


def visible_post_count(*, session: Session, user_id: str, viewer_id: str | None, include_held: bool = False) -> int:
    """How many of a person's posts the viewer may see: what their profile's grid shows."""
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    query = _visible_posts(select(func.count()).select_from(Post), hidden=hidden, include_held=include_held)
    return session.scalar(query.where(Post.user_id == user_id)) or 0


def remixes(*, session: Session, post: Post, viewer_id: str | None, limit: int = 30,
            include_held: bool = False) -> list[Post]:
    """The newest remixes of a post the viewer may see (the ones `visible_counts` counts)."""
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    query = _visible_posts(select(Post), hidden=hidden, include_held=include_held)
    return list(session.scalars(query.where(Post.parent_post_id == post.id).order_by(Post.seq.desc()).limit(limit)))


def user_posts(*, session: Session, user_id: str, limit: int = 60) -> list[Post]:
    return list(session.scalars(select(Post).where(Post.user_id == user_id).order_by(Post.seq.desc()).limit(limit)))


@dataclass
class Draft:
    video: Video
    post: Post | None


def drafts(*, session: Session, user_id: str, limit: int = 100) -> list[Draft]:
    """The user's videos (newest first) with the post each became, if any; only the owner sees these. A story's
    shots are left out: they live on the story's page, and its stitched video is the draft."""
    rows = session.execute(
        select(Video, Post).outerjoin(Post, Post.video_id == Video.id)
        .where(Video.user_id == user_id, Video.deleted_at.is_(None), Video.kind != "shot")
        .order_by(Video.seq.desc()).limit(limit)
    ).all()
    return [Draft(video=video, post=post) for video, post in rows]


def draft(*, session: Session, user_id: str, video_id: str) -> Draft:
    video = _own_video(session=session, user_id=user_id, video_id=video_id)
    return Draft(video=video, post=post_of_video(session=session, video_id=video.id))


@dataclass
class Extended:
    """The video an extension continues, as its pages name it: its id, whether it is still there, its post."""

    video_id: str
    present: bool
    post: Post | None


def extended_from(*, session: Session, video: Video) -> Extended | None:
    """What an extension continues (None for any other video): its parent is `source_video_id`."""
    if video.kind != "extend" or not video.source_video_id:
        return None
    present = session.scalar(select(Video.id).where(Video.id == video.source_video_id,
                                                    Video.deleted_at.is_(None))) is not None
    post = post_of_video(session=session, video_id=video.source_video_id) if present else None
    return Extended(video_id=video.source_video_id, present=present, post=post)


def posts_touched_by(*, session: Session, user_id: str) -> set[int]:
    """The posts whose counters count this user's likes, comments, views or remixes."""
    touched = set(session.scalars(select(Like.post_seq).where(Like.user_id == user_id)))
    touched |= set(session.scalars(select(Comment.post_seq).where(Comment.user_id == user_id)))
    touched |= set(session.scalars(select(View.post_seq).where(View.user_id == user_id)))
    parents = session.scalars(select(Post.parent_post_id).where(Post.user_id == user_id, Post.parent_post_id.is_not(None)))
    parent_ids = [p for p in parents if p]
    if parent_ids:
        touched |= set(session.scalars(select(Post.seq).where(Post.id.in_(parent_ids))))
    return touched
