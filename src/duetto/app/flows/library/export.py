"""Writing one user's whole library into an archive: the manifest of everything they made, set and said, and
the media streamed member by member from storage, so memory does not grow with the library."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from duetto._version import __version__
from duetto.app.core.config import Settings
from duetto.app.db.models import (
    Account,
    BirthYear,
    Block,
    Character,
    CharacterApproval,
    CharacterRule,
    Comment,
    ConsentRecord,
    FeedPrefs,
    Follow,
    Like,
    Message,
    ModerationDecision,
    Post,
    Report,
    Takedown,
    User,
    Video,
    VideoCharacter,
)
from duetto.app.flows.library.manifest import (
    FORMAT,
    MANIFEST,
    VERSION,
    character_media,
    person,
    video_media,
)
from duetto.app.infra.storage import Storage
from duetto.app.provenance.exports import download_key, export_mp4
from duetto.app.videos import prompt_format
from duetto.app.videos.files import asset_key

# Fixed timestamps inside the zip: the same library exports to the same bytes apart from the manifest's time.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
# Media is already compressed; deflating it again costs CPU for nothing.
STORED_TYPES = {"video/mp4", "image/webp", "image/png", "image/jpeg"}


class People:
    """handle@instance for user ids, looked up once each."""

    def __init__(self, session: Session, instance: str) -> None:
        self.session, self.instance, self.known = session, instance, {}

    def __call__(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self.known:
            account = self.session.get(Account, user_id)
            user = self.session.get(User, user_id) if account is None else None
            name = account.handle if account else user.name if user else "deleted"
            self.known[user_id] = person(name, self.instance)
        return self.known[user_id]


class ArchiveWriter:
    """A zip being written: each media member streamed in, its hash and size returned for the manifest."""

    def __init__(self, target: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(target, "w", allowZip64=True)

    def add_stream(self, path: str, chunks: Iterable[bytes], media_type: str) -> dict[str, Any] | None:
        info = zipfile.ZipInfo(path, date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED if media_type in STORED_TYPES else zipfile.ZIP_DEFLATED
        digest, size = hashlib.sha256(), 0
        with self.zip.open(info, "w", force_zip64=True) as member:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                member.write(chunk)
        return {"path": path, "sha256": digest.hexdigest(), "bytes": size, "type": media_type} if size else None

    def add_stored(self, storage: Storage, key: str | None, path: str, media_type: str) -> dict[str, Any] | None:
        """A file from storage, or None when it is not there (a failed job has no video)."""
        if not key or not storage.exists(key):
            return None
        return self.add_stream(path, storage.iter_bytes(key), media_type)

    def add_manifest(self, manifest: dict[str, Any]) -> None:
        info = zipfile.ZipInfo(MANIFEST, date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, json.dumps(manifest, ensure_ascii=False, indent=1))

    def close(self) -> None:
        self.zip.close()


def _account(session: Session, user: User, writer: ArchiveWriter, storage: Storage) -> dict[str, Any]:
    account = session.get(Account, user.id)
    birth = session.get(BirthYear, user.id)
    avatar = None
    if account is not None and account.avatar_key:
        avatar = writer.add_stored(storage, account.avatar_key, "media/account/avatar.webp", "image/webp")
    return {
        "user_id": user.id, "name": user.name, "handle": account.handle if account else None,
        "display_name": account.display_name if account else None, "bio": account.bio if account else None,
        "avatar": avatar, "created_at": user.created_at, "birth_year": birth.year if birth else None,
    }


def _feed(session: Session, user_id: str, people: People) -> dict[str, Any]:
    prefs = session.get(FeedPrefs, user_id)
    if prefs is None:
        return {"steering": "", "less_terms": {}, "less_creators": {}, "daily_limit_minutes": None,
                "personalized": True}
    return {"steering": prefs.steering, "less_terms": dict(prefs.less_terms or {}),
            "less_creators": {people(k) or k: v for k, v in (prefs.less_creators or {}).items()},
            "daily_limit_minutes": prefs.daily_limit_minutes, "personalized": bool(prefs.personalized)}


def _people(session: Session, user_id: str, people: People) -> dict[str, Any]:
    follows = session.scalars(select(Follow.followee_id).where(Follow.follower_id == user_id))
    followers = session.scalars(select(Follow.follower_id).where(Follow.followee_id == user_id))
    blocks = session.scalars(select(Block.blocked_id).where(Block.blocker_id == user_id))
    return {"follows": [people(i) for i in follows], "followers": [people(i) for i in followers],
            "blocks": [people(i) for i in blocks]}


def _social(session: Session, user_id: str, people: People) -> dict[str, Any]:
    likes = session.execute(select(Post.id, Post.user_id, Like.created_at).join(Post, Post.seq == Like.post_seq)
                            .where(Like.user_id == user_id).order_by(Like.created_at))
    comments = session.execute(select(Post.id, Post.user_id, Comment.body, Comment.created_at)
                               .join(Post, Post.seq == Comment.post_seq)
                               .where(Comment.user_id == user_id).order_by(Comment.id))
    messages = session.scalars(select(Message).where(or_(Message.sender_id == user_id, Message.recipient_id == user_id))
                               .order_by(Message.id))
    return {
        "likes": [{"post_id": p, "creator": people(u), "at": at} for p, u, at in likes],
        "comments": [{"post_id": p, "post_creator": people(u), "body": body, "at": at} for p, u, body, at in comments],
        "messages": [{"with": people(m.recipient_id if m.sender_id == user_id else m.sender_id),
                      "sent": m.sender_id == user_id, "body": m.body, "post_id": m.post_id, "at": m.created_at,
                      "read_at": m.read_at} for m in messages],
    }


def _parent_ref(session: Session, video: Video, own: set[str], people: People) -> dict[str, Any] | None:
    """The parent of a remix or extension when it is not in this archive: kept as a reference only."""
    parent_id = video.remixed_from_video_id or video.source_video_id
    if not parent_id or parent_id in own:
        return None
    parent = session.scalar(select(Video).where(Video.id == parent_id))
    post = session.scalar(select(Post.id).where(Post.video_id == parent_id))
    # The signed download names its parent as a parentOf ingredient titled after the parent's id.
    return {"video_id": parent_id, "post_id": post, "creator": people(parent.user_id) if parent else None,
            "c2pa_ingredient": f"{parent_id}.mp4" if parent and parent.status == "completed" else None}


def _video_entry(video: Video, post: Post | None, files: dict[str, Any], parent: dict[str, Any] | None,
                 characters: list[str]) -> dict[str, Any]:
    picture, sound = prompt_format.split(video.prompt)
    params = dict(video.params or {})
    known = {name: params.pop(name, None) for name in ("negative_prompt", "audio_negative_prompt", "seed", "steps")}
    return {
        "id": video.id, "kind": video.kind, "status": video.status,
        "visibility": "posted" if post else "draft", "model": video.model, "prompt": picture, "audio_prompt": sound,
        **known, "params": params, "size": video.size, "seconds": video.seconds, "created_at": video.created_at,
        "completed_at": video.completed_at, "source_video_id": video.source_video_id,
        "remixed_from_video_id": video.remixed_from_video_id, "parent": parent, "files": files,
        "post": None if post is None else {
            "id": post.id, "caption": post.caption, "posted_at": post.created_at,
            "parent_post_id": post.parent_post_id, "root_post_id": post.root_post_id,
            "counts": {"likes": post.like_count, "comments": post.comment_count, "remixes": post.remix_count,
                       "views": post.view_count, "completions": post.completion_count},
        },
        "characters": characters,
    }


def _videos(session: Session, storage: Storage, settings: Settings, user_id: str, instance: str,
            writer: ArchiveWriter, people: People, progress: Callable[[int, int], None]) -> Iterator[dict[str, Any]]:
    ids = list(session.scalars(select(Video.id).where(Video.user_id == user_id, Video.deleted_at.is_(None))
                               .order_by(Video.seq)))
    own = set(ids)
    for done, video_id in enumerate(ids):
        video = session.scalar(select(Video).where(Video.id == video_id))
        post = session.scalar(select(Post).where(Post.video_id == video_id))
        files: dict[str, Any] = {"video": None, "thumbnail": None, "download": None}
        if video.status == "completed":
            files["video"] = writer.add_stored(storage, asset_key(video_id, "video"),
                                               video_media(video_id, "video.mp4"), "video/mp4")
            files["thumbnail"] = writer.add_stored(storage, asset_key(video_id, "thumbnail"),
                                                   video_media(video_id, "thumbnail.webp"), "image/webp")
            if files["video"] is not None:
                # Made (badge, invisible marks, C2PA) the first time and kept, as a download would make it.
                export_mp4(session=session, storage=storage, settings=settings, video=video, instance=instance)
                files["download"] = writer.add_stored(storage, download_key(video_id),
                                                      video_media(video_id, "download.mp4"), "video/mp4")
        characters = list(session.scalars(select(VideoCharacter.character_id)
                                          .where(VideoCharacter.video_id == video_id)))
        yield _video_entry(video, post, files, _parent_ref(session, video, own, people), characters)
        # The rows read for this clip are not kept for the next thousand (the caller's other rows stay).
        for row in (video, post):
            if row is not None:
                session.expunge(row)
        progress(done + 1, len(ids))


def _characters(session: Session, storage: Storage, user_id: str, writer: ArchiveWriter,
                people: People) -> list[dict[str, Any]]:
    entries = []
    for character in session.scalars(select(Character).where(Character.owner_id == user_id,
                                                              Character.deleted_at.is_(None))).all():
        approvals = session.scalars(select(CharacterApproval).where(CharacterApproval.character_id == character.id))
        rules = session.scalars(select(CharacterRule).where(CharacterRule.character_id == character.id)
                                .order_by(CharacterRule.id))
        shown_in = session.execute(select(Video.id, Video.user_id).join(VideoCharacter, VideoCharacter.video_id == Video.id)
                                   .where(VideoCharacter.character_id == character.id, Video.deleted_at.is_(None)))
        entries.append({
            "id": character.id, "kind": character.kind, "name": character.name, "display_name": character.display_name,
            "permission": character.permission, "toy": character.toy,
            "still": writer.add_stored(storage, character.still_key, character_media(character.id, "still.png"),
                                       "image/png"),
            "voice": writer.add_stored(storage, character.voice_key, character_media(character.id, "voice.wav"),
                                       "audio/wav"),
            "created_at": character.created_at,
            "approvals": [{"person": people(a.user_id), "status": a.status, "at": a.created_at} for a in approvals],
            "rules": [{"text": r.text, "at": r.created_at} for r in rules],
            "videos": [{"video_id": v, "creator": people(u)} for v, u in shown_in],
        })
    return entries


def _moderation(session: Session, user_id: str) -> dict[str, Any]:
    """What moderation said about the user's own content; never who reported it or how to reach them."""
    post_ids = list(session.scalars(select(Post.id).where(Post.user_id == user_id)))
    comment_ids = [str(i) for i in session.scalars(select(Comment.id).where(Comment.user_id == user_id))]
    reports = session.scalars(select(Report).where(or_(
        (Report.target_kind == "post") & Report.target_id.in_(post_ids),
        (Report.target_kind == "comment") & Report.target_id.in_(comment_ids),
        (Report.target_kind == "user") & (Report.target_id == user_id))).order_by(Report.id))
    video_ids = select(Video.id).where(Video.user_id == user_id)
    takedowns = session.scalars(select(Takedown).where(or_(Takedown.post_id.in_(post_ids),
                                                           Takedown.video_id.in_(video_ids))).order_by(Takedown.id))
    decisions = session.scalars(select(ModerationDecision).where(ModerationDecision.user_id == user_id,
                                                                 ModerationDecision.verdict != "allowed")
                                .order_by(ModerationDecision.id))
    return {
        "reports": [{"target_kind": r.target_kind, "target_id": r.target_id, "reason": r.reason, "status": r.status,
                     "at": r.created_at, "resolved_at": r.resolved_at} for r in reports],
        "takedowns": [{"post_id": t.post_id, "video_id": t.video_id, "category": t.category, "status": t.status,
                       "at": t.created_at, "resolved_at": t.resolved_at, "your_answer": t.creator_answer}
                      for t in takedowns],
        "refused_prompts": [{"surface": d.surface, "excerpt": d.excerpt, "verdict": d.verdict, "category": d.category,
                             "at": d.created_at} for d in decisions],
    }


def write_archive(*, session: Session, storage: Storage, settings: Settings, user_id: str, instance: str,
                  target: IO[bytes] | Path, progress: Callable[[int, int], None] = lambda done, total: None,
                  ) -> dict[str, int]:
    """Write the user's library as an archive to `target`; returns how many of each kind it holds."""
    user = session.get(User, user_id)
    if user is None:
        raise ValueError(f"no user with id {user_id!r}")
    people = People(session, instance)
    with open(target, "wb") if isinstance(target, Path) else contextlib.nullcontext(target) as out:
        writer = ArchiveWriter(out)
        try:
            # Media first, member by member; the manifest, which lists their hashes, last.
            account = _account(session, user, writer, storage)
            videos = list(_videos(session, storage, settings, user_id, instance, writer, people, progress))
            characters = _characters(session, storage, user_id, writer, people)
            ledger = session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user_id)
                                     .order_by(ConsentRecord.id))
            manifest = {
                "format": FORMAT, "version": VERSION, "exported_at": time.time(), "instance": instance,
                "generator": f"duetto {__version__}", "account": account, "feed": _feed(session, user_id, people),
                "people": _people(session, user_id, people), **_social(session, user_id, people),
                "videos": videos, "characters": characters,
                "consent_ledger": [{"challenge_hash": c.challenge_hash, "result": c.result, "detail": c.detail,
                                    "at": c.created_at} for c in ledger],
                "moderation": _moderation(session, user_id),
            }
            writer.add_manifest(manifest)
        finally:
            writer.close()
    return {"videos": len(videos), "posts": sum(1 for v in videos if v["post"]), "characters": len(characters),
            "messages": len(manifest["messages"]), "comments": len(manifest["comments"])}

