"""`/v1/videos`: OpenAI's video endpoints (create, retrieve, list, delete, content, remix, extensions, edits), create
also making sound for an uploaded video or a picture for an uploaded sound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, TypeVar

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from duetto.app.api.body import read_body
from duetto.app.api.deps import CurrentUser, ServicesDep, SessionDep
from duetto.app.api.openapi import ERRORS, request_body
from duetto.app.api.routes.characters import character_ids
from duetto.app.core.db import session_scope
from duetto.app.core.errors import InvalidRequest, PayloadTooLarge
from duetto.app.db.models import User, Video
from duetto.app.flows.videos import request_video
from duetto.app.infra.uploads import decode_data_url, require_image, require_mp4
from duetto.app.provenance.exports import export_mp4, instance_label
from duetto.app.videos import service
from duetto.app.videos.probe import probe_upload, reference_kind
from duetto.app.videos.schemas import (
    CreateVideo,
    CreateVideoUpload,
    EditVideo,
    EditVideoUpload,
    ExtendVideo,
    ExtendVideoUpload,
    RemixVideo,
    VideoDeleted,
    VideoList,
    VideoObject,
    VideoParams,
)
from duetto.app.videos.service import NewVideo

router = APIRouter(prefix="/v1/videos", tags=["videos"], responses=ERRORS)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


T = TypeVar("T", bound=BaseModel)


def _parse(model: type[T], fields: dict[str, Any]) -> T:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidRequest(f"Invalid {param or 'request'}: {first['msg']}.", param=param) from None


def _video_response(response: Response, video: Video, services: ServicesDep) -> VideoObject:
    if video.status in service.ACTIVE:
        response.headers["openai-poll-after-ms"] = str(services.settings.poll_after_ms)
    return VideoObject.of(video)


def _extras(params: VideoParams | RemixVideo) -> dict[str, Any]:
    extras = {
        "audio_prompt": params.audio_prompt,
        "negative_prompt": params.negative_prompt,
        "seed": params.seed,
        "steps": params.steps,
    }
    if isinstance(params, VideoParams):
        extras["audio_negative_prompt"] = params.audio_negative_prompt
    if isinstance(params, RemixVideo):
        extras["strength"] = params.strength
    return extras


def _submit(services: ServicesDep, session: SessionDep, user: User, new: NewVideo, key: str | None) -> Video:
    return request_video(session=session, settings=services.settings, catalog=services.catalog,
                         storage=services.storage, enqueue=services.queue.enqueue, user=user, new=new,
                         idempotency_key=key)


def _source(
    fields: dict[str, Any], files: dict[str, bytes], *, session: SessionDep, user: User, services: ServicesDep
) -> tuple[Video | None, tuple[bytes, float, str] | None]:
    """The `video` to work from: an uploaded MP4, or `{id}` of one of the user's completed videos."""
    if "video" in files:
        data = files["video"]
        require_mp4(data, param="video")
        seconds, size = probe_upload(data)
        return None, (data, seconds, size)
    ref = fields.get("video")
    video_id = ref.get("id") if isinstance(ref, dict) else ref
    if not isinstance(video_id, str) or not video_id:
        raise InvalidRequest("video is required: upload an MP4 or give {\"id\": \"video_...\"}.", param="video")
    return service.get_completed_video(session=session, user=user, video_id=video_id, param="video"), None


def _reference_image(fields: dict[str, Any], files: dict[str, bytes], *, max_bytes: int) -> tuple[bytes, str] | None:
    """The `input_reference` image (an upload or a base64 data URL), decoded once to prove it is one."""
    ref = fields.pop("input_reference", None)
    if "input_reference" in files:
        data = files["input_reference"]
    elif ref is None:
        return None
    elif not isinstance(ref, dict):
        raise InvalidRequest('input_reference must be an image upload or {"image_url": "data:image/...;base64,..."}.',
                             param="input_reference")
    elif ref.get("file_id"):
        raise InvalidRequest("input_reference.file_id is not supported; upload the image instead.",
                             param="input_reference")
    else:
        data = decode_data_url(str(ref.get("image_url", "")), param="input_reference.image_url")
        if len(data) > max_bytes:
            raise PayloadTooLarge("input_reference is larger than the upload limit.", param="input_reference")
    return data, require_image(data, param="input_reference")


def _create_inputs(fields: dict[str, Any], files: dict[str, bytes], *, max_bytes: int) -> dict[str, Any]:
    """What a create request starts from, as NewVideo fields: nothing or a first-frame image (kind "create"), a
    video to make sound for (kind "sound") or a sound to make a picture for (kind "picture"). `input_video` and
    `input_audio` say which; an uploaded `input_reference` is told by its bytes, because it is the one file
    part OpenAI's SDK can send (docs/server.md, Sound for a video, a picture for a sound)."""
    for name in ("input_video", "input_audio"):
        if name in fields:
            raise InvalidRequest(f"{name} must be a file upload; send the request as multipart/form-data.",
                                 param=name)
    given = [name for name in ("input_reference", "input_video", "input_audio") if name in files]
    if len(given) > 1:
        raise InvalidRequest(f"Send one file to start from, not {' and '.join(given)}.", param=given[1])
    name = given[0] if given else ""
    kind = reference_kind(files[name], param=name) if name == "input_reference" else name.removeprefix("input_")
    if kind in ("video", "audio"):
        return service.made_for_upload(files[name], track=kind, param=name)
    return {"kind": "create", "image": _reference_image(fields, files, max_bytes=max_bytes)}


@router.post("", response_model=VideoObject, openapi_extra=request_body(CreateVideo, CreateVideoUpload))
async def create_video(
    request: Request, response: Response, services: ServicesDep, session: SessionDep, user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> VideoObject:
    fields, files = await read_body(request, max_upload_bytes=services.settings.max_upload_bytes)
    # Decoding a picture, a video or a sound takes a while: off the event loop.
    inputs = await to_thread.run_sync(
        lambda: _create_inputs(fields, files, max_bytes=services.settings.max_upload_bytes))
    params = _parse(CreateVideo, fields)
    new = NewVideo(prompt=params.prompt, model=params.model, seconds=params.seconds, size=params.size,
                   params=_extras(params), webhook_url=params.webhook_url,
                   characters=character_ids(params.characters), **inputs)
    video = await to_thread.run_sync(_submit, services, session, user, new, idempotency_key)
    return _video_response(response, video, services)


@router.get("", response_model=VideoList)
def list_videos(
    session: SessionDep, user: CurrentUser, after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, order: Literal["asc", "desc"] = "desc",
) -> VideoList:
    videos, has_more = service.list_videos(session=session, user=user, after=after, limit=limit, order=order)
    data = [VideoObject.of(v) for v in videos]
    return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=has_more)


async def _read_source_request(request: Request, *, services: ServicesDep, session: SessionDep,
                               user: CurrentUser) -> tuple[dict, object, object]:
    """Reads a body that names its source video (`video`: an upload or `{"id": …}`) as extensions and edits do."""
    fields, files = await read_body(request, max_upload_bytes=services.settings.max_upload_bytes)
    source, upload = await to_thread.run_sync(
        lambda: _source(fields, files, session=session, user=user, services=services))
    fields.pop("video", None)
    return fields, source, upload


@router.post("/extensions", response_model=VideoObject,
             openapi_extra=request_body(ExtendVideo, ExtendVideoUpload))
async def extend_video(
    request: Request, response: Response, services: ServicesDep, session: SessionDep, user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> VideoObject:
    fields, source, upload = await _read_source_request(request, services=services, session=session, user=user)
    params = _parse(VideoParams, fields)
    if params.seconds is None:
        raise InvalidRequest("seconds is required: how many seconds to add.", param="seconds")
    new = NewVideo(kind="extend", prompt=params.prompt, model=params.model, seconds=params.seconds,
                   size=params.size, params=_extras(params), webhook_url=params.webhook_url, source=source,
                   source_upload=upload)
    video = await to_thread.run_sync(_submit, services, session, user, new, idempotency_key)
    return _video_response(response, video, services)


@router.post("/edits", response_model=VideoObject, openapi_extra=request_body(EditVideo, EditVideoUpload))
async def edit_video(
    request: Request, response: Response, services: ServicesDep, session: SessionDep, user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> VideoObject:
    fields, source, upload = await _read_source_request(request, services=services, session=session, user=user)
    params = _parse(RemixVideo, fields)
    new = NewVideo(kind="edit", prompt=params.prompt, params=_extras(params), webhook_url=params.webhook_url,
                   source=source, source_upload=upload)
    video = await to_thread.run_sync(_submit, services, session, user, new, idempotency_key)
    return _video_response(response, video, services)


@router.get("/{video_id}", response_model=VideoObject)
async def retrieve_video(video_id: str, services: ServicesDep, user: CurrentUser) -> Response:
    # The poll path: a primary-key lookup run on the event loop (no thread hop), answered from a short
    # cache when many clients poll the same job, serialised once, and with no session unless needed.
    cached = services.poll_cache.get(user.id, video_id)
    if cached is None:
        with services.sessions() as session:
            video = service.get_video(session=session, user=user, video_id=video_id)
            cached = (VideoObject.of(video).model_dump_json().encode(), video.status in service.ACTIVE)
        services.poll_cache.put(user.id, video_id, *cached)
    body, active = cached
    headers = {"openai-poll-after-ms": str(services.settings.poll_after_ms)} if active else None
    return Response(content=body, media_type="application/json", headers=headers)


@router.delete("/{video_id}", response_model=VideoDeleted)
def delete_video(video_id: str, services: ServicesDep, session: SessionDep, user: CurrentUser) -> VideoDeleted:
    video = service.delete_video(session=session, storage=services.storage, user=user, video_id=video_id)
    services.poll_cache.forget(video.id)
    return VideoDeleted(id=video.id)


@router.get("/{video_id}/content", response_class=Response, responses={200: {"content": {
    "video/mp4": {}, "image/webp": {}, "image/jpeg": {}}, "description": "The MP4, thumbnail or spritesheet"}})
def download_content(
    video_id: str, request: Request, services: ServicesDep, session: SessionDep, user: CurrentUser,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> Response:
    video = service.get_video(session=session, user=user, video_id=video_id)
    key, media_type = service.content_key(session=session, storage=services.storage, video=video, variant=variant)
    if variant == "video":
        # A downloaded file leaves the instance: it gets the visible badge and signed credentials with its
        # remix lineage, like a web download (the creator's private preview in the web app does not).
        instance = instance_label(services.settings, request.url.netloc)
        data = export_mp4(session=session, storage=services.storage, settings=services.settings, video=video,
                          instance=instance)
        return Response(data, media_type=media_type)
    headers = {"content-length": str(services.storage.size(key))}
    return StreamingResponse(services.storage.iter_bytes(key), media_type=media_type, headers=headers)


@router.post("/{video_id}/remix", response_model=VideoObject, openapi_extra=request_body(RemixVideo))
async def remix_video(
    video_id: str, request: Request, response: Response, services: ServicesDep, session: SessionDep,
    user: CurrentUser, idempotency_key: IdempotencyKey = None,
) -> VideoObject:
    fields, _ = await read_body(request, max_upload_bytes=services.settings.max_upload_bytes)
    params = _parse(RemixVideo, fields)
    source = await to_thread.run_sync(
        lambda: service.get_completed_video(session=session, user=user, video_id=video_id))
    new = NewVideo(kind="remix", prompt=params.prompt, params=_extras(params), webhook_url=params.webhook_url,
                   source=source)
    video = await to_thread.run_sync(_submit, services, session, user, new, idempotency_key)
    return _video_response(response, video, services)


@router.get("/{video_id}/events", response_class=EventSourceResponse, responses={200: {
    "content": {"text/event-stream": {}}, "description": "`video` events until the video completes or fails"}})
async def video_events(video_id: str, services: ServicesDep, session: SessionDep,
                       user: CurrentUser) -> EventSourceResponse:
    """Server-Sent Events: a `video` event each time the status or progress changes, until it finishes."""
    await to_thread.run_sync(lambda: service.get_video(session=session, user=user, video_id=video_id))
    session.close()  # the stream polls with short sessions of its own; don't hold this one open

    def snapshot() -> VideoObject | None:
        with session_scope(services.sessions) as s:
            found = s.scalar(select(Video).where(Video.id == video_id))
            return VideoObject.of(found) if found is not None and found.deleted_at is None else None

    async def events() -> AsyncIterator[dict[str, str]]:
        last = None
        while True:
            current = await to_thread.run_sync(snapshot)
            if current is None:
                yield {"event": "error", "data": '{"code":"not_found","message":"The video was deleted."}'}
                return
            if (current.status, current.progress) != last:
                last = (current.status, current.progress)
                yield {"event": "video", "id": f"{current.progress}-{current.status}",
                       "data": current.model_dump_json()}
            if current.status in ("completed", "failed"):
                return
            await asyncio.sleep(0.25)

    return EventSourceResponse(events(), ping=15)
