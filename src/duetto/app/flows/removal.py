"""Removing content on a moderator's decision: a reported post or comment, or a clip named by a takedown
request together with every stored copy that matches it. Posts come down through `social.posts.remove_post`
(which recounts the post they remix) and files through `videos.files.purge_files`, as they do everywhere."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import Post, Report, Takedown
from duetto.app.infra.storage import Storage
from duetto.app.moderation import reports
from duetto.app.provenance import marking, takedown
from duetto.app.social import engagement, posts
from duetto.app.videos import service as videos
from duetto.app.videos.files import purge_files


def resolve_report(*, session: Session, moderator_id: str, is_moderator: bool, report_id: int, action: str) -> Report:
    """Dismiss a report, or remove what it reports (a post is taken down, a comment deleted)."""
    # 1. The report, if the moderator may decide it and the action is one the queue knows.
    item = reports.open_report(session=session, is_moderator=is_moderator, report_id=report_id, action=action)
    # 2. Removal: the post (its video goes back to its maker's drafts) or the comment.
    if action == "remove":
        if item.target_kind == "post":
            post = session.scalar(select(Post).where(Post.id == item.target_id))
            if post is not None:
                posts.remove_post(session=session, post=post)
        elif item.target_kind == "comment":
            comment = reports.reported_comment(session=session, report=item)
            if comment is not None:
                engagement.delete_comment(session=session, viewer_id=moderator_id, comment_id=comment.id,
                                          moderator=True)
        else:
            # Accounts are not deleted from the queue: suspending people needs a policy this app does not have.
            raise InvalidRequest("Users cannot be removed from the queue; dismiss, or remove their posts.")
    # 3. Every open report of the same target is settled together.
    reports.settle(session=session, report=item, action=action, moderator_id=moderator_id)
    return item


def resolve_takedown(*, session: Session, storage: Storage, takedown_id: int, moderator_id: str,
                     is_moderator: bool, action: str) -> Takedown:
    """Remove (the post's clip and every stored clip that matches it) or dismiss (the post shows again)."""
    # 1. The request, if the moderator may decide it and it is still open.
    item = takedown.open_request(session=session, takedown_id=takedown_id, is_moderator=is_moderator,
                                 action=action)
    # 2. Removal: the clip and its copies, found by fingerprint.
    removed = 0
    if action == "remove" and item.video_id:
        removed = remove_clips(session=session, storage=storage,
                               video_ids=takedown.matching_videos(session=session, video_id=item.video_id))
    # 3. Every open request about the same post is settled by the one decision.
    takedown.settle(session=session, takedown=item, action=action, moderator_id=moderator_id, removed=removed)
    return item


def remove_clips(*, session: Session, storage: Storage, video_ids: list[str]) -> int:
    """Take down the posts of these videos, delete the videos, their fingerprints and their files; returns how
    many were still there."""
    # 1. The clips still there; the others were removed already.
    live = videos.live_video_ids(session=session, video_ids=video_ids)
    if not live:
        return 0
    # 2. Their posts come down first, so the posts they remix are recounted.
    for video_id in live:
        post = posts.post_of_video(session=session, video_id=video_id)
        if post is not None:
            posts.remove_post(session=session, post=post)
    # 3. The videos and their fingerprints, in one commit.
    videos.mark_deleted(session=session, video_ids=live)
    marking.forget_prints(session=session, video_ids=live)
    session.commit()
    # 4. Their files, once nothing points at them.
    for video_id in live:
        purge_files(storage, video_id)
    return len(live)
