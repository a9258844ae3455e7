"""`/v1/videos/characters`: create a character (a toy from its look, or from a video as OpenAI's SDK uploads
it), read one (if you own it or may use it), its card files, your characters, and delete one of yours. A
person character needs an enrollment challenge answered: on the enrollment page, or in the uploaded video."""

from __future__ import annotations

from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from duetto.app.api.body import read_body
from duetto.app.api.deps import CurrentUser, ServicesDep, SessionDep
from duetto.app.api.openapi import ERRORS, request_body
from duetto.app.characters import cast, permissions, service
from duetto.app.characters.schemas import (
    CharacterDeleted,
    CharacterFromVideo,
    CharacterList,
    CharacterObject,
    CharacterRef,
    CreateToyCharacter,
)
from duetto.app.core.errors import InvalidRequest, NotFound
from duetto.app.flows.video_characters import character_from_video
from duetto.app.users import ages

router = APIRouter(prefix="/v1/videos/characters", tags=["characters"], responses=ERRORS)

CONTENT = {"still": ("still_key", "image/png"), "voice": ("voice_key", "audio/wav")}


def character_ids(value: Any) -> list[str]:
    """The ids of a `characters` field: `[{"id": ...}]` in JSON, `characters[id]=...` in multipart."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        try:
            ids.append(CharacterRef.model_validate(item if isinstance(item, dict) else {"id": item}).id)
        except ValidationError:
            raise InvalidRequest('characters must be a list of {"id": "char_..."} objects.',
                                 param="characters") from None
    if len(ids) > cast.MAX_PER_VIDEO:
        raise InvalidRequest(f"A video can show at most {cast.MAX_PER_VIDEO} characters.", param="characters")
    return ids


@router.post("", response_model=CharacterObject, openapi_extra=request_body(CreateToyCharacter))
async def create_character(request: Request, services: ServicesDep, session: SessionDep,
                           user: CurrentUser) -> CharacterObject:
    fields, files = await read_body(request, max_upload_bytes=services.settings.max_upload_bytes)
    if "video" in files:
        return await to_thread.run_sync(lambda: _from_video(session, services, user.id, fields, files["video"]))
    if fields.get("kind", "toy") != "toy":
        raise InvalidRequest("Only toy characters can be made here; a person character is made by enrolling "
                             "on the characters page.", param="kind")
    try:
        params = CreateToyCharacter.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidRequest(f"Invalid {param or 'request'}: {first['msg']}.", param=param) from None

    def create() -> CharacterObject:
        if params.birth_year is not None:
            ages.declare_birth_year(session=session, user_id=user.id, year=params.birth_year)
        look = params.model_dump(include={"head_colour", "hat", "eyes", "pitch", "timbre"})
        character = service.create_toy_character(
            session=session, user_id=user.id, name=params.name, look=look, storage=services.storage,
            display_name=params.display_name or "", permission=params.permission)
        return CharacterObject.of(character, viewer_id=user.id)

    return await to_thread.run_sync(create)


def _from_video(session: SessionDep, services: ServicesDep, user_id: str, fields: dict[str, Any],
                video: bytes) -> CharacterObject:
    """`videos.create_character(name=..., video=...)`: the video's still and sound make the card; a video of a
    person needs an enrollment challenge answered in it (see `flows.video_characters`)."""
    try:
        params = CharacterFromVideo.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidRequest(f"Invalid {param or 'request'}: {first['msg']}.", param=param) from None
    if params.birth_year is not None:
        ages.declare_birth_year(session=session, user_id=user_id, year=params.birth_year)
    character = character_from_video(
        session=session, storage=services.storage, user_id=user_id, name=params.name, video=video,
        challenge_id=params.challenge, consent=params.consent, display_name=params.display_name or "",
        look=params.model_dump(include={"head_colour", "hat", "eyes", "pitch", "timbre"}, exclude_none=True),
        permission=params.permission)
    return CharacterObject.of(character, viewer_id=user_id)


@router.get("", response_model=CharacterList)
def list_characters(session: SessionDep, user: CurrentUser) -> CharacterList:
    """Your characters, then others' that you may use."""
    mine = service.characters_of(session=session, owner_id=user.id)
    shared = permissions.usable_by(session=session, viewer_id=user.id)
    return CharacterList(data=[CharacterObject.of(c, viewer_id=user.id) for c in mine + shared])


@router.get("/{character_id}", response_model=CharacterObject)
def retrieve_character(character_id: str, session: SessionDep, user: CurrentUser) -> CharacterObject:
    character = service.visible_character(session=session, viewer_id=user.id, character_id=character_id)
    return CharacterObject.of(character, viewer_id=user.id)


@router.get("/{character_id}/content", response_class=Response, responses={200: {"content": {
    "image/png": {}, "audio/wav": {}}, "description": "The card's still or voice sample"}})
def character_content(character_id: str, services: ServicesDep, session: SessionDep, user: CurrentUser,
                      variant: Literal["still", "voice"] = "still") -> Response:
    """The card's still (PNG) or voice sample (WAV)."""
    character = service.visible_character(session=session, viewer_id=user.id, character_id=character_id)
    attribute, media_type = CONTENT[variant]
    key = getattr(character, attribute)
    if not key or not services.storage.exists(key):
        raise NotFound(f"Character {character_id} has no {variant}.", param="variant")
    return Response(services.storage.get_bytes(key), media_type=media_type)


@router.delete("/{character_id}", response_model=CharacterDeleted)
def delete_character(character_id: str, services: ServicesDep, session: SessionDep,
                     user: CurrentUser) -> CharacterDeleted:
    """Delete one of your characters: its files are purged and videos others made with it are deleted."""
    character = service.owned_character(session=session, owner_id=user.id, character_id=character_id)
    service.delete_character(session=session, storage=services.storage, character=character)
    return CharacterDeleted(id=character_id)
