"""The characters of a video: checked when it is requested (the prompt's @names, those listed by id, those of
the video it remixes), linked to it, checked again when its job starts, and handed to the prompt rewriting."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.characters import prompts
from duetto.app.characters.names import public_figure
from duetto.app.characters.notices import notify
from duetto.app.characters.permissions import NotPermitted, may_use
from duetto.app.characters.rules import check_rules
from duetto.app.characters.service import by_name
from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import (
    Account,
    Character,
    Video,
    VideoCharacter,
)
from duetto.app.users.handles import RESERVED_HANDLES

MAX_PER_VIDEO = 2


@dataclass(frozen=True)
class VideoCast:
    """The characters a new video shows, already checked."""

    characters: list[Character]

    @property
    def persons(self) -> list[Character]:
        return [c for c in self.characters if c.kind == "person"]


def _refuse_unusable(*, session: Session, character: Character, user_id: str, stage: str) -> None:
    if not may_use(session=session, character=character, user_id=user_id):
        where = {"remix": "remix a video with", "start": "make this video with"}.get(stage, "use")
        raise NotPermitted(f"@{character.name}'s owner has not allowed you to {where} @{character.name}.",
                           param="prompt")


def check_prompt_protections(*, session: Session, prompt: str) -> None:
    """Refuse prompts that name a public figure or mention a reserved handle."""
    for name in prompts.mentions(prompt):
        if name in RESERVED_HANDLES:
            raise InvalidRequest(f"@{name} is reserved and cannot appear in a prompt; remove it.", param="prompt")
    figure = public_figure(session=session, text=prompt)
    if figure:
        raise InvalidRequest(f"This prompt names a public figure ({figure}); videos cannot show public figures.",
                             param="prompt", code="public_figure")


def cast_for(
    *, session: Session, user_id: str, prompt: str, kind: str, character_ids: Sequence[str] = (),
    source_video_id: str | None = None, has_image: bool = False,
) -> VideoCast:
    """Check a video request's characters: the prompt's @mentions, the `characters` it lists by id, and the
    characters of the video it remixes, extends or edits. Each must exist and be usable by `user_id`, at
    most 2 in all, and the prompt must keep every one's rules."""
    check_prompt_protections(session=session, prompt=prompt)
    listed = []
    for character_id in dict.fromkeys(character_ids):
        character = session.scalar(select(Character).where(Character.id == character_id,
                                                           Character.deleted_at.is_(None)))
        if character is None or not may_use(session=session, character=character, user_id=user_id):
            raise InvalidRequest(f"characters: no character {character_id!r} that you may use.",
                                 param="characters", code="unknown_character")
        listed.append(character)
    chosen: dict[str, Character] = {}
    for name in prompts.mentions(prompt):
        character = by_name(session=session, name=name)
        if character is None or not may_use(session=session, character=character, user_id=user_id):
            # One answer for a name that does not exist and one the caller may not use: a different status
            # or message would tell a stranger that the private name exists.
            raise InvalidRequest(f"There is no character @{name} that you may use; check the name, or remove "
                                 "the @.", param="prompt", code="unknown_character")
        chosen[character.id] = character
    for character in listed:
        if character.id not in chosen:
            raise InvalidRequest(f"characters lists @{character.name}; write @{character.name} in the prompt where "
                                 "it appears.", param="characters")
    inherited = []
    if source_video_id is not None:
        inherited = list(session.scalars(select(Character).join(VideoCharacter,
                                                                VideoCharacter.character_id == Character.id)
                                         .where(VideoCharacter.video_id == source_video_id)))
        for character in inherited:
            if character.deleted_at is not None:
                raise NotPermitted("The video shows a character that was deleted; it cannot be remixed.",
                                   param="prompt")
            chosen.setdefault(character.id, character)
    if len(chosen) > MAX_PER_VIDEO:
        names = ", ".join(f"@{c.name}" for c in chosen.values())
        raise InvalidRequest(f"A video can show at most {MAX_PER_VIDEO} characters; this one would show "
                             f"{len(chosen)} ({names}).", param="prompt", code="too_many_characters")
    inherited_ids = {c.id for c in inherited}
    for character in chosen.values():
        _refuse_unusable(session=session, character=character, user_id=user_id,
                         stage="remix" if character.id in inherited_ids and kind != "create" else "create")
        check_rules(session=session, character=character, prompt=prompt)
    cast = VideoCast(list(chosen.values()))
    if cast.persons and has_image and kind == "create":
        raise InvalidRequest(f"A video with @{cast.persons[0].name} starts from their reference still; leave out "
                             "the start image.", param="input_reference")
    return cast


def attach(*, session: Session, video: Video, cast: VideoCast, user_id: str) -> None:
    """Link a new video to its characters and tell each owner someone used theirs (not committed)."""
    maker = session.get(Account, user_id)
    who = f"@{maker.handle}" if maker else "Someone"
    verb = {"remix": "remixed a video with", "extend": "extended a video with", "edit": "edited a video with"}
    for character in cast.characters:
        session.add(VideoCharacter(video_id=video.id, character_id=character.id, created_at=time.time()))
        if character.owner_id != user_id:
            notify(session=session, user_id=character.owner_id, kind="used", character=character, actor_id=user_id, video_id=video.id,
                    text=f"{who} {verb.get(video.kind, 'made a video with')} @{character.name}.")


def characters_of_video(*, session: Session, video_id: str) -> list[Character]:
    """Every character linked to a video, deleted ones included (a job must fail on those)."""
    return list(session.scalars(select(Character).join(VideoCharacter, VideoCharacter.character_id == Character.id)
                                .where(VideoCharacter.video_id == video_id)
                                .order_by(VideoCharacter.created_at, Character.id)))


def check_at_start(*, session: Session, video: Video) -> list[Character]:
    """The checks again as the job starts: the characters still exist, the maker may still use them, and
    the prompt keeps their (possibly newer) rules. Returns the characters."""
    cast = characters_of_video(session=session, video_id=video.id)
    for character in cast:
        if character.deleted_at is not None:
            raise NotPermitted(f"{character.display_name} was deleted by its owner; this video cannot be made.",
                               param="prompt")
        _refuse_unusable(session=session, character=character, user_id=video.user_id, stage="start")
        check_rules(session=session, character=character, prompt=video.prompt)
    return cast


def engine_prompt(video_cast: VideoCast, prompt: str) -> str:
    """The prompt as the job will hand it to the engine: its characters' @names rewritten."""
    if not video_cast.characters:
        return prompt
    return prompts.rewrite_prompt(prompt, likenesses(video_cast.characters))


def likenesses(characters: Iterable[Character]) -> list[prompts.Likeness]:
    return [prompts.Likeness(name=c.name or "", kind=c.kind, display_name=c.display_name, toy=c.toy)
            for c in characters]
