"""The videos that show a character, and the owner's power over them: deleting any draft or post with it,
whoever made it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.characters.notices import notify
from duetto.app.core.errors import NotFound
from duetto.app.db.models import (
    Account,
    Character,
    Post,
    User,
    Video,
    VideoCharacter,
)
from duetto.app.infra.storage import Storage
from duetto.app.social import posts as posts_service


@dataclass
class Appearance:
    """A video that shows a character, with its maker and its post (None while it is a draft)."""

    video: Video
    maker: Account | None
    post: Post | None


def appearances(*, session: Session, character_id: str, limit: int = 200) -> list[Appearance]:
    """Every draft and post, whoever made it, that shows the character; newest first."""
    rows = session.execute(
        select(Video, Account, Post)
        .join(VideoCharacter, VideoCharacter.video_id == Video.id)
        .outerjoin(Account, Account.user_id == Video.user_id)
        .outerjoin(Post, Post.video_id == Video.id)
        .where(VideoCharacter.character_id == character_id, Video.deleted_at.is_(None))
        .order_by(Video.seq.desc()).limit(limit)
    ).all()
    return [Appearance(video=v, maker=a, post=p) for v, a, p in rows]


def appearance(*, session: Session, character: Character, video_id: str) -> Video:
    video = session.scalar(select(Video).join(VideoCharacter, VideoCharacter.video_id == Video.id)
                           .where(VideoCharacter.character_id == character.id, Video.id == video_id,
                                  Video.deleted_at.is_(None)))
    if video is None:
        raise NotFound("No video with this character has that id.", param="video_id")
    return video


def delete_appearance(*, session: Session, storage: Storage, character: Character, video_id: str) -> None:
    """The owner deletes a draft or post that shows their character, whoever made it; its maker is told."""
    video = appearance(session=session, character=character, video_id=video_id)
    maker = session.get(User, video.user_id)
    posts_service.delete_draft(session=session, storage=storage, user=maker, video_id=video.id)
    if video.user_id != character.owner_id:
        notify(session=session, user_id=video.user_id, kind="removed", character=character, actor_id=character.owner_id, video_id=video.id,
                text=f"@{character.name}'s owner deleted a video of yours that showed @{character.name}.")
        session.commit()


def delete_drafts(*, session: Session, storage: Storage, character: Character,
                   maker_ids: set[str] | None) -> int:
    """Delete unposted videos by others (or by `maker_ids`) that show the character."""
    query = (select(Video).join(VideoCharacter, VideoCharacter.video_id == Video.id)
             .outerjoin(Post, Post.video_id == Video.id)
             .where(VideoCharacter.character_id == character.id, Video.deleted_at.is_(None),
                    Video.user_id != character.owner_id, Post.id.is_(None)))
    if maker_ids is not None:
        query = query.where(Video.user_id.in_(maker_ids))
    drafts = list(session.scalars(query))
    for video in drafts:
        maker = session.get(User, video.user_id)
        posts_service.delete_draft(session=session, storage=storage, user=maker, video_id=video.id)
    return len(drafts)
