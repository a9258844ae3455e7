"""The `/v1/videos` request and response shapes (OpenAI's, plus a few namespaced extensions)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from duetto.app.db.models import Video


def seconds_as_text(value: Any) -> Any:
    """A `seconds` sent as a number, as the string OpenAI's enum has ("4", "2.5"); anything else unchanged."""
    # OpenAI's `seconds` is a string enum, but JSON clients often send numbers.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


class VideoParams(BaseModel):
    """Fields every create-like request shares. Unknown fields are ignored, as OpenAI's SDK may add some."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1)
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    # Extensions that OpenAI clients can send through `extra_body`.
    audio_prompt: str | None = None
    negative_prompt: str | None = None
    audio_negative_prompt: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    steps: int | None = Field(default=None, ge=1, le=1000)
    webhook_url: str | None = None

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_string(cls, value: Any) -> Any:
        return seconds_as_text(value)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http(s) URL")
        return value


_BINARY = WithJsonSchema({"type": "string", "format": "binary"})
_CHARACTERS = WithJsonSchema({"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 2, "items": {
    "type": "object", "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 40}}, "required": ["id"]}}]})


class VideoRef(BaseModel):
    """A video, or a character, named by id: `{"id": "video_..."}`."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=40)


class ImageReference(BaseModel):
    """`input_reference` in JSON: the image as a base64 data URL (`file_id` is not supported)."""

    image_url: str = Field(description="data:image/png;base64,... (or image/jpeg, image/webp)")


class CreateVideo(VideoParams):
    """`POST /v1/videos` as JSON. The route reads `input_reference` before this model (see the API route)."""

    input_reference: ImageReference | None = None
    # Characters the prompt names as @name, by id: [{"id": "char_..."}] (read by characters.api.character_ids,
    # which also takes the multipart spelling `characters[id]=...`).
    characters: Annotated[Any, _CHARACTERS] = None


class CreateVideoUpload(VideoParams):
    """`POST /v1/videos` as multipart/form-data, as OpenAI's SDK sends it (documentation only). At most one file:
    `input_reference` is told by its bytes (an image is the first frame, an MP4 gets sound, a sound gets a
    picture); `input_video` and `input_audio` say it by name. A video or sound sets `seconds`."""

    input_reference: Annotated[bytes | None, _BINARY] = Field(
        default=None, description="A PNG/JPEG/WebP first frame, an MP4 to make sound for, or a WAV/MP3/M4A/OGG/FLAC "
                                  "sound to make a picture for (judged by the file's bytes)")
    input_video: Annotated[bytes | None, _BINARY] = Field(
        default=None, description="An MP4 whose picture is kept; the sound is generated for it")
    input_audio: Annotated[bytes | None, _BINARY] = Field(
        default=None, description="A WAV/MP3/M4A/OGG/FLAC sound that is kept; the picture is generated for it")


class ExtendVideo(VideoParams):
    """`POST /v1/videos/extensions` as JSON: `seconds` is the length to add (documentation only)."""

    seconds: str
    video: VideoRef


class ExtendVideoUpload(VideoParams):
    """`POST /v1/videos/extensions` as multipart/form-data, with the MP4 to extend (documentation only)."""

    seconds: str
    video: Annotated[bytes, _BINARY]


class RemixVideo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1)
    audio_prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    steps: int | None = Field(default=None, ge=1, le=1000)
    strength: float | None = Field(default=None, gt=0, le=1)
    webhook_url: str | None = None


class EditVideo(RemixVideo):
    """`POST /v1/videos/edits` as JSON (documentation only)."""

    video: VideoRef


class EditVideoUpload(RemixVideo):
    """`POST /v1/videos/edits` as multipart/form-data, with the MP4 to edit (documentation only)."""

    video: Annotated[bytes, _BINARY]


class VideoError(BaseModel):
    code: str
    message: str


class VideoObject(BaseModel):
    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str | None
    size: str
    seconds: str
    remixed_from_video_id: str | None
    error: VideoError | None

    @classmethod
    def of(cls, video: Video) -> VideoObject:
        error = None
        if video.error_code is not None:
            error = VideoError(code=video.error_code, message=video.error_message or "")
        return cls(
            id=video.id,
            model=video.model,
            status=video.status,  # type: ignore[arg-type]
            progress=video.progress,
            created_at=int(video.created_at),
            completed_at=int(video.completed_at) if video.completed_at else None,
            expires_at=int(video.expires_at) if video.expires_at else None,
            prompt=video.prompt,
            size=video.size,
            seconds=video.seconds,
            remixed_from_video_id=video.remixed_from_video_id,
            error=error,
        )


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True
