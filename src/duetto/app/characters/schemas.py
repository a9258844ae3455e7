"""The `/v1/videos/characters` request and response shapes, in the style of the `/v1/videos` ones."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from duetto.app.db.models import Character

Level = Literal["only_me", "approved", "mutuals", "everyone"]


class CharacterRef(BaseModel):
    """A character named in `POST /v1/videos` as `characters: [{"id": ...}]`."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=40)


class CreateToyCharacter(BaseModel):
    """A Toybox toy: its @name, look and voice (spec §4), and who may use it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=31)
    display_name: str | None = Field(default=None, max_length=60)
    head_colour: str
    hat: str = "none"
    eyes: str
    pitch: str
    timbre: str
    permission: Level = "only_me"
    # Needed once, before a character is opened to everyone (people under 18 cannot).
    birth_year: int | None = None


class CharacterFromVideo(BaseModel):
    """`POST /v1/videos/characters` with a `video` file, as OpenAI's `videos.create_character(name, video)`
    sends it (multipart). The rest is optional, through `extra_body`: a Toybox look (all five fields) for a
    toy, or the enrollment challenge the video answers and `consent` for a person."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=31)
    display_name: str | None = Field(default=None, max_length=60)
    head_colour: str | None = None
    hat: str | None = None
    eyes: str | None = None
    pitch: str | None = None
    timbre: str | None = None
    permission: Level = "only_me"
    birth_year: int | None = None
    challenge: str | None = Field(default=None, max_length=40)
    consent: bool = False


class ToyIdentity(BaseModel):
    head_colour: str
    hat: str
    eyes: str
    pitch: str
    timbre: str


class CharacterObject(BaseModel):
    id: str
    object: Literal["character"] = "character"
    name: str
    display_name: str
    kind: Literal["person", "toy"]
    permission: Level
    owned: bool  # whether the caller owns it
    toy: ToyIdentity | None
    created_at: int

    @classmethod
    def of(cls, character: Character, *, viewer_id: str) -> CharacterObject:
        return cls(
            id=character.id,
            name=character.name or "",
            display_name=character.display_name,
            kind=character.kind,  # type: ignore[arg-type]
            permission=character.permission,  # type: ignore[arg-type]
            owned=character.owner_id == viewer_id,
            toy=ToyIdentity(**character.toy) if character.toy else None,
            created_at=int(character.created_at),
        )


class CharacterList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CharacterObject]


class CharacterDeleted(BaseModel):
    id: str
    object: Literal["character.deleted"] = "character.deleted"
    deleted: bool = True
