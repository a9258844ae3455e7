"""The `/v1/storyboards` request and response shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from duetto.app.stories.service import StoryState
from duetto.app.videos.schemas import ImageReference, VideoObject, seconds_as_text


class ShotRequest(BaseModel):
    """One shot: what it shows, the seconds it adds, the characters it names, and an optional start image
    (then the picture cuts to it, and the sound still carries across)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    seconds: str | None = None
    characters: list[Any] | None = Field(default=None, max_length=2, description='[{"id": "char_..."}]')
    input_reference: ImageReference | None = None

    _seconds = field_validator("seconds", mode="before")(seconds_as_text)


class CreateStoryboard(BaseModel):
    """`POST /v1/storyboards`: the shots in order; the story starts being made at once unless `make` is false."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    model: str | None = None
    size: str | None = None
    shots: list[ShotRequest] = Field(min_length=1, max_length=50)
    make: bool = True
    # As /v1/videos' extensions: denoising steps for every shot, and a seed (shot k uses seed + k).
    steps: int | None = Field(default=None, ge=1, le=1000)
    seed: int | None = Field(default=None, ge=0, le=2**62)


class AddShot(ShotRequest):
    """`POST /v1/storyboards/{id}/shots`: a new last shot, made the next time the story is made."""


class RegenerateShot(BaseModel):
    """`POST /v1/storyboards/{id}/shots/{shot_id}/regenerate`: a new take, with a new prompt or length if given."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, min_length=1)
    seconds: str | None = None

    _seconds = field_validator("seconds", mode="before")(seconds_as_text)


class ReorderShots(BaseModel):
    """`POST /v1/storyboards/{id}/order`: every shot's id once, in the new order."""

    shots: list[str] = Field(min_length=1, max_length=50)


class ShotObject(BaseModel):
    id: str
    position: int
    prompt: str
    seconds: float
    status: Literal["waiting", "queued", "in_progress", "completed", "failed"]
    progress: int
    video_id: str | None
    overlap_frames: int | None  # how many first frames repeat the shot before (cut away when stitched)
    has_start_image: bool


class StoryboardObject(BaseModel):
    id: str
    object: Literal["storyboard"] = "storyboard"
    title: str
    model: str
    size: str
    status: Literal["editing", "making", "ready", "failed"]
    progress: int
    seconds: float
    error: str | None
    created_at: int
    shots: list[ShotObject]
    video: VideoObject | None  # the stitched video once ready: download it as any video

    @classmethod
    def of(cls, state: StoryState) -> StoryboardObject:
        shots = [ShotObject(id=s.shot.id, position=s.shot.position, prompt=s.shot.prompt, seconds=s.shot.seconds,
                            status=s.status,  # type: ignore[arg-type]
                            progress=s.progress, video_id=s.take.id if s.take else None,
                            overlap_frames=(s.take.params or {}).get("overlap_frames") if s.take else None,
                            has_start_image=s.shot.image_key is not None)
                 for s in state.shots]
        story = state.story
        return cls(id=story.id, title=story.title, model=story.model, size=story.size,
                   status=state.status,  # type: ignore[arg-type]
                   progress=state.progress, seconds=sum(s.seconds for s in shots), error=state.error,
                   created_at=int(story.created_at), shots=shots,
                   video=VideoObject.of(state.video) if state.video is not None else None)


class StoryboardList(BaseModel):
    object: Literal["list"] = "list"
    data: list[StoryboardObject]


class StoryboardDeleted(BaseModel):
    id: str
    object: Literal["storyboard.deleted"] = "storyboard.deleted"
    deleted: bool = True
