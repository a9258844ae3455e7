"""Characters themselves: making a toy (a person is made by enrolling), reading them, deleting one, and
what goes when their owner's account does."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duetto.app.characters.appearances import appearances, delete_appearance, delete_drafts
from duetto.app.characters.files import character_prefix, enrollment_prefix
from duetto.app.characters.names import check_display_name, check_name
from duetto.app.characters.permissions import check_level, may_use
from duetto.app.core.errors import Conflict, NotFound
from duetto.app.core.security import new_id
from duetto.app.db.models import (
    Character,
    CharacterApproval,
    CharacterRule,
    User,
)
from duetto.app.infra.storage import Storage


def create_toy_character(
    *, session: Session, user_id: str, name: str, look: dict[str, Any], storage: Storage,
    display_name: str = "", permission: str = "only_me",
) -> Character:
    """A Toybox toy character (committed): its look and voice are checked, its card rendered and stored."""
    from duetto.app.characters.cards import check_identity, render_card  # imports the renderer

    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    identity = check_identity(look)
    clean = check_name(session=session, name=name, owner_id=user_id)
    shown = check_display_name(session=session, display_name=display_name, fallback=clean)
    check_level(session=session, owner_id=user_id, level=permission)
    card = render_card(identity)
    character = Character(id=new_id("char"), owner_id=user_id, kind="toy", name=clean, display_name=shown,
                          permission=permission, toy=identity, created_at=time.time())
    return store_and_commit(session=session, storage=storage, character=character, still=card.still_png, voice=card.voice_wav)


def create_toy_from_video(
    *, session: Session, user_id: str, name: str, storage: Storage, still_png: bytes, voice_wav: bytes | None,
    look: dict[str, Any], display_name: str = "", permission: str = "only_me",
) -> Character:
    """A toy character (committed) whose card is a still and the sound of an uploaded video. With a Toybox
    look (all five fields) prompts name it by its caption, as a designed toy; without one it enters videos
    through its still, as the first frame (see `characters.jobs`)."""
    from duetto.app.characters.cards import IDENTITY_FIELDS, check_identity, render_card

    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    identity = check_identity(look) if any(look.get(f) for f in IDENTITY_FIELDS) else None
    clean = check_name(session=session, name=name, owner_id=user_id)
    shown = check_display_name(session=session, display_name=display_name, fallback=clean)
    check_level(session=session, owner_id=user_id, level=permission)
    if voice_wav is None and identity is not None:
        voice_wav = render_card(identity).voice_wav  # a silent video: the toy's voice as designed
    character = Character(id=new_id("char"), owner_id=user_id, kind="toy", name=clean, display_name=shown,
                          permission=permission, toy=identity, created_at=time.time())
    return store_and_commit(session=session, storage=storage, character=character, still=still_png, voice=voice_wav)


def store_and_commit(*, session: Session, storage: Storage, character: Character, still: bytes,
                      voice: bytes | None) -> Character:
    """Store the card's files and commit the character; a character made from a silent video has no voice."""
    prefix = character_prefix(character.id)
    character.still_key = prefix + "still.png"
    character.voice_key = prefix + "voice.wav" if voice is not None else None
    storage.put_bytes(character.still_key, still, "image/png")
    if voice is not None:
        storage.put_bytes(prefix + "voice.wav", voice, "audio/wav")
    session.add(character)
    try:
        session.commit()
    except IntegrityError:
        # The name was taken between the check and the commit: leave no orphaned files behind.
        session.rollback()
        storage.delete_prefix(prefix)
        raise Conflict(f"The character name @{character.name} is taken; pick another.", code="name_taken") from None
    except Exception:
        session.rollback()
        storage.delete_prefix(prefix)
        raise
    return character


def get_character(*, session: Session, character_id: str) -> Character:
    character = session.scalar(select(Character).where(Character.id == character_id,
                                                       Character.deleted_at.is_(None)))
    if character is None:
        raise NotFound(f"No character found with id {character_id!r}.", param="character_id")
    return character


def by_name(*, session: Session, name: str) -> Character | None:
    return session.scalar(select(Character).where(Character.name == name.lstrip("@").lower(),
                                                  Character.deleted_at.is_(None)))


def owned_character(*, session: Session, owner_id: str, character_id: str) -> Character:
    character = get_character(session=session, character_id=character_id)
    if character.owner_id != owner_id:
        # Someone else's character answers as if it did not exist.
        raise NotFound(f"No character of yours with id {character_id!r}.", param="character_id")
    return character


def visible_character(*, session: Session, viewer_id: str, character_id: str) -> Character:
    """A character its owner or someone allowed to use it may look at; to anyone else it does not exist."""
    character = get_character(session=session, character_id=character_id)
    if not may_use(session=session, character=character, user_id=viewer_id):
        raise NotFound(f"No character found with id {character_id!r}.", param="character_id")
    return character


def characters_of(*, session: Session, owner_id: str) -> list[Character]:
    return list(session.scalars(select(Character).where(Character.owner_id == owner_id,
                                                        Character.deleted_at.is_(None))
                                .order_by(Character.created_at.desc())))


def delete_character(*, session: Session, storage: Storage, character: Character,
                     take_down_posts: bool = True) -> None:
    """Delete a character: its still, voice and (for a person) enrollment recordings are purged from storage,
    everyone else's drafts with it are deleted, and with `take_down_posts` their posts too. The name is
    freed; the consent ledger keeps its entries."""
    delete_drafts(session=session, storage=storage, character=character, maker_ids=None)
    if take_down_posts:
        for item in appearances(session=session, character_id=character.id):
            if item.video.user_id != character.owner_id:
                delete_appearance(session=session, storage=storage, character=character, video_id=item.video.id)
    storage.delete_prefix(character_prefix(character.id))
    if character.kind == "person":
        storage.delete_prefix(enrollment_prefix(character.owner_id))
    character.deleted_at = time.time()
    character.name = None
    character.still_key = character.voice_key = None
    session.execute(delete(CharacterApproval).where(CharacterApproval.character_id == character.id))
    session.execute(delete(CharacterRule).where(CharacterRule.character_id == character.id))
    session.commit()


def purge_user(*, session: Session, storage: Storage, user_id: str) -> None:
    """Remove a departing user's character files and recordings (their rows go with the user row)."""
    for character_id in session.scalars(select(Character.id).where(Character.owner_id == user_id)):
        storage.delete_prefix(character_prefix(character_id))
    storage.delete_prefix(enrollment_prefix(user_id))
