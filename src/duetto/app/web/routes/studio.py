"""Create (with remix prefill, or from an uploaded video or sound), Drafts, live progress over SSE, cancel, extend,
post, and the media files."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from duetto.app.api.deps import Services, ServicesDep, SessionDep
from duetto.app.api.errors import status_for
from duetto.app.core.db import session_scope
from duetto.app.core.errors import DomainError, InvalidRequest, NotFound
from duetto.app.db.models import Account, User, Video
from duetto.app.flows.videos import request_video
from duetto.app.infra.uploads import require_image
from duetto.app.provenance.exports import export_mp4, instance_label
from duetto.app.social import graph
from duetto.app.social import posts as posts_service
from duetto.app.videos import prompt_format, stages
from duetto.app.videos import service as videos
from duetto.app.videos.catalog import ModelCatalog, ModelInfo
from duetto.app.videos.service import NewVideo
from duetto.app.web.deps import AccountDep, Csrf, UserDep, ViewerDep, render
from duetto.app.web.media import serve_bytes

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

def _aspect_label(size: str) -> str:
    width, height = (int(v) for v in size.split("x"))
    shape = "Square" if width == height else "Landscape" if width > height else "Portrait"
    return f"{shape} · {width}×{height}"


def _form_context(services: Services, session: SessionDep, viewer_id: str, *, remix_of: str | None,
                  values: dict[str, str]) -> dict[str, object]:
    info = services.catalog.get(None)
    context: dict[str, object] = {
        "seconds_choices": info.seconds_choices,
        "sizes": [(size, _aspect_label(size)) for size in info.sizes], "values": values,
        "request_key": secrets.token_urlsafe(16), "remix": None,
    }
    if remix_of:
        post, video = posts_service.remix_source(session=session, post_id=remix_of, viewer_id=viewer_id)
        author = session.get(Account, post.user_id)
        picture, sound = prompt_format.split(video.prompt)
        context["remix"] = {"post": post, "author": author, "video": video}
        values.setdefault("prompt", picture)
        values.setdefault("audio", sound)
        info = services.catalog.get(video.model)  # a remix is made by its source's model
    context["model"] = info
    context["tokens"] = _token_count(info, values.get("prompt") or "", values.get("audio") or "")
    # The longest prompt that can fit the model: the textarea stops there; the live count decides before.
    context["prompt_chars"] = min(c for c in (info.max_prompt_chars, services.settings.max_prompt_chars) if c)
    return context


def _token_count(info: ModelInfo, prompt: str, audio: str) -> dict[str, object]:
    """What the create form's counter shows: the prompt's tokens as the job would store it, and the limit."""
    count = info.count_tokens(prompt_format.compose(prompt.strip(), audio.strip() or None)) if prompt.strip() else 0
    return {"tokens": count, "max_tokens": info.max_prompt_tokens, "model": info.name,
            "over": count is not None and count > info.max_prompt_tokens}


def _request(services: Services, session: Session, user: User, new: NewVideo, request_key: str | None) -> Video:
    """A video asked for from a page; the form's one-time key makes a double submit one job."""
    return request_video(session=session, settings=services.settings, catalog=services.catalog,
                         storage=services.storage, enqueue=services.queue.enqueue, user=user, new=new,
                         idempotency_key=f"web:{request_key}" if request_key else None)


@router.get("/create/tokens")
def prompt_tokens(services: ServicesDep, account: AccountDep, prompt: str = "", audio: str = "",
                  model: str = "") -> dict[str, object]:
    """The create form's live token counter (JSON): counted from the model's tokenizer file, no weights."""
    if len(prompt) + len(audio) > services.settings.max_prompt_chars:
        raise InvalidRequest(f"prompt is too long: at most {services.settings.max_prompt_chars} characters.",
                             param="prompt")
    return _token_count(services.catalog.get(model or None), prompt, audio)


@router.get("/create")
def create_page(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                remix: str | None = None, prompt: str | None = None) -> Response:
    values = {"prompt": prompt} if prompt else {}
    context = _form_context(services, session, account.user_id, remix_of=remix, values=values)
    return render(request, "create.html", context, session=session)


async def _file(upload: UploadFile | None) -> bytes | None:
    """An optional file field's bytes; a field left empty posts a part with no name."""
    return await upload.read() if upload is not None and upload.filename else None


def _start_from(image: bytes | None, video: bytes | None, sound: bytes | None) -> dict[str, object]:
    """NewVideo fields for the one file a create starts from: a first frame, a video to make sound for, or a
    sound to make a picture for (each decoded now, so that a bad file is said on the form)."""
    given = [name for name, data in (("image", image), ("video", video), ("sound", sound)) if data]
    if len(given) > 1:
        raise InvalidRequest("Choose one file to start from: an image, your video or your sound.", param=given[1])
    if video:
        return videos.made_for_upload(video, track="video", param="video")
    if sound:
        return videos.made_for_upload(sound, track="audio", param="sound")
    return {"kind": "create", "image": (image, require_image(image, param="image")) if image else None}


@router.post("/create", dependencies=[Csrf])
async def create(
    request: Request, services: ServicesDep, session: SessionDep, user: UserDep,
    prompt: Annotated[str, Form()], audio: Annotated[str, Form()] = "", seconds: Annotated[str, Form()] = "",
    size: Annotated[str, Form()] = "", remix_of: Annotated[str, Form()] = "",
    request_key: Annotated[str, Form()] = "", image: Annotated[UploadFile | None, File()] = None,
    video: Annotated[UploadFile | None, File()] = None, sound: Annotated[UploadFile | None, File()] = None,
) -> Response:
    data, video_data, sound_data = await _file(image), await _file(video), await _file(sound)

    def submit() -> Video:
        if not prompt.strip():
            raise InvalidRequest("Describe the video first.", param="prompt")
        params = {"audio_prompt": audio.strip() or None}
        if remix_of:
            _, source = posts_service.remix_source(session=session, post_id=remix_of, viewer_id=user.id)
            new = NewVideo(kind="remix", prompt=prompt.strip(), params=params, source=source, surface="web_prompt")
        else:
            start = _start_from(data, video_data, sound_data)
            # An uploaded video or sound sets the length (the form's duration is ignored), and a video its shape.
            made_for_upload = start["kind"] != "create"
            new = NewVideo(prompt=prompt.strip(), seconds=None if made_for_upload else seconds or None,
                           size=None if start["kind"] == "sound" else size or None, params=params,
                           surface="web_prompt", **start)
        return _request(services, session, user, new, request_key)

    try:
        video = await to_thread.run_sync(submit)
    except DomainError as error:
        session.rollback()
        values = {"prompt": prompt, "audio": audio, "seconds": seconds, "size": size}
        status = 400
        try:
            context = _form_context(services, session, user.id, remix_of=remix_of or None, values=values)
        except DomainError as refused:  # the post to remix itself is refused (gone, blocked or held)
            context = _form_context(services, session, user.id, remix_of=None, values=values)
            status = status_for(refused)
        context["error"] = error.message
        return render(request, "create.html", context, status_code=status, session=session)
    return RedirectResponse(f"/drafts/{video.id}", status_code=303)


@router.get("/drafts")
def drafts_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    items = posts_service.drafts(session=session, user_id=account.user_id)
    videos_shown = [item.video for item in items]
    positions = stages.queue_positions(session=session, videos=videos_shown)
    context = {"drafts": items, "stages": {v.id: stages.stage_of(v, positions.get(v.id)) for v in videos_shown},
               "pictures": {v.id: prompt_format.split(v.prompt)[0] for v in videos_shown}}
    return render(request, "drafts.html", context, session=session)


@router.get("/drafts/{video_id}")
def draft_page(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
               video_id: str) -> Response:
    context = _draft_context(session, account.user_id, video_id, services.catalog)
    return render(request, "draft.html", context, session=session)


# How a draft made for an upload says what was made: the rest of it is the person's own.
MODES = {"sound": "Sound made for your video", "picture": "Picture made for your sound"}


def _draft_context(session: SessionDep, user_id: str, video_id: str, catalog: ModelCatalog) -> dict[str, object]:
    item = posts_service.draft(session=session, user_id=user_id, video_id=video_id)
    parent = None
    if item.video.remixed_from_video_id:
        parent_post = posts_service.post_of_video(session=session, video_id=item.video.remixed_from_video_id)
        if parent_post is not None:
            parent = {"post": parent_post, "author": session.get(Account, parent_post.user_id)}
    picture, sound = prompt_format.split(item.video.prompt)
    positions = stages.queue_positions(session=session, videos=[item.video])
    # A post brought in from another instance as a draft keeps its caption, offered when it is posted again.
    imported = (item.video.params or {}).get("imported_post") or {}
    return {"draft": item, "parent": parent, "picture": picture, "sound": sound,
            "stage": stages.stage_of(item.video, positions.get(item.video.id)), "caption": imported.get("caption"),
            "extended": posts_service.extended_from(session=session, video=item.video),
            "mode": MODES.get(item.video.kind), "extend_choices": catalog.extend_choices(item.video.model),
            "extend_values": {}, "extend_key": secrets.token_urlsafe(16)}


def _progress(session: SessionDep, video: Video) -> str:
    """One progress event: the status and percentage, the stage in words, and a failure's reason."""
    stage = stages.stage_of(video, stages.queue_positions(session=session, videos=[video]).get(video.id))
    return json.dumps({"status": video.status, "progress": video.progress, "error": video.error_message,
                       "stage": stage.key, "label": stage.label})


@router.get("/drafts/{video_id}/events")
async def draft_events(video_id: str, services: ServicesDep, session: SessionDep, account: AccountDep) -> Response:
    """Server-Sent Events: `progress` each time the status or progress changes, until the draft is finished."""
    await to_thread.run_sync(lambda: posts_service.draft(session=session, user_id=account.user_id, video_id=video_id))
    session.close()  # the stream polls with short sessions of its own

    def snapshot() -> str | None:
        with session_scope(services.sessions) as s:
            video = s.scalar(select(Video).where(Video.id == video_id, Video.deleted_at.is_(None)))
            return _progress(s, video) if video is not None else None

    async def events() -> AsyncIterator[dict[str, str]]:
        last = None
        while True:
            current = await to_thread.run_sync(snapshot)
            if current is None:
                yield {"event": "gone", "data": "{}"}
                return
            if current != last:
                last = current
                yield {"event": "progress", "data": current}
            if json.loads(current)["status"] in ("completed", "failed"):
                return
            await asyncio.sleep(0.25)

    return EventSourceResponse(events(), ping=15)


@router.post("/drafts/{video_id}/delete", dependencies=[Csrf])
def delete_draft(video_id: str, services: ServicesDep, session: SessionDep, user: UserDep) -> Response:
    """Delete a draft; for one still being made this is the cancel button."""
    posts_service.delete_draft(session=session, storage=services.storage, user=user, video_id=video_id)
    services.poll_cache.forget(video_id)
    return RedirectResponse("/drafts", status_code=303)


def _prepare_download(services: Services, video_id: str, instance: str) -> None:
    """Make a posted video's download (badge, marks, credentials) ahead of its first viewer, who would
    otherwise wait for it; a failure here only means that viewer makes it instead."""
    try:
        with session_scope(services.sessions) as session:
            video = session.scalar(select(Video).where(Video.id == video_id, Video.deleted_at.is_(None)))
            if video is not None and video.status == "completed":
                export_mp4(session=session, storage=services.storage, settings=services.settings, video=video,
                           instance=instance)
    except Exception:
        log.exception("could not prepare the download of video %s; its first viewer will make it", video_id)


@router.post("/drafts/{video_id}/extend", dependencies=[Csrf])
async def extend_draft(
    request: Request, video_id: str, services: ServicesDep, session: SessionDep, user: UserDep,
    prompt: Annotated[str, Form()] = "", audio: Annotated[str, Form()] = "", seconds: Annotated[str, Form()] = "",
    request_key: Annotated[str, Form()] = "",
) -> Response:
    """A new draft that continues one of the viewer's finished videos (a draft or a post) by `seconds`, through
    the API's extension path; its parent is the video it continues."""

    def submit() -> Video:
        source = videos.get_completed_video(session=session, user=user, video_id=video_id)
        if not prompt.strip():
            raise InvalidRequest("Say what happens next.", param="prompt")
        new = NewVideo(kind="extend", prompt=prompt.strip(), seconds=seconds or None, source=source,
                       params={"audio_prompt": audio.strip() or None}, surface="web_prompt")
        return _request(services, session, user, new, request_key)

    try:
        video = await to_thread.run_sync(submit)
    except DomainError as error:
        # A bad length or prompt, or the day's quota: the video's page again, its extend form open with the reason
        # and what was typed (a video that is not the viewer's stays a 404 here too).
        session.rollback()
        context = {**_draft_context(session, user.id, video_id, services.catalog), "extend_error": error.message,
                   "extend_values": {"prompt": prompt, "audio": audio, "seconds": seconds}}
        return render(request, "draft.html", context, status_code=status_for(error), session=session)
    return RedirectResponse(f"/drafts/{video.id}", status_code=303)


@router.post("/drafts/{video_id}/post", dependencies=[Csrf])
def post_draft(request: Request, video_id: str, services: ServicesDep, session: SessionDep, account: AccountDep,
               background: BackgroundTasks, caption: Annotated[str, Form()] = "") -> Response:
    try:
        post = posts_service.publish(session=session, user_id=account.user_id, video_id=video_id, caption=caption)
    except InvalidRequest as error:
        # A refused or too long caption: the draft again, with the reason and the caption as typed.
        session.rollback()
        context = {**_draft_context(session, account.user_id, video_id, services.catalog), "error": error.message,
                   "caption": caption}
        return render(request, "draft.html", context, status_code=400, session=session)
    background.add_task(_prepare_download, services, video_id, instance_label(services.settings, request.url.netloc))
    return RedirectResponse(f"/p/{post.id}", status_code=303)


def can_watch(*, session: SessionDep, viewer_id: str | None, video: Video) -> bool:
    """Owners see their drafts; anyone else only posted videos of people they are not blocked with."""
    if viewer_id == video.user_id:
        return True
    post = posts_service.post_of_video(session=session, video_id=video.id)
    if post is None:
        return False
    return viewer_id is None or not graph.is_blocked_between(session=session, a=viewer_id, b=video.user_id)


@router.get("/media/{video_id}/{variant}")
def media(request: Request, video_id: str, variant: str, services: ServicesDep, session: SessionDep,
          viewer: ViewerDep) -> Response:
    video = session.scalar(select(Video).where(Video.id == video_id, Video.deleted_at.is_(None)))
    if video is None or variant not in videos.VARIANTS or not can_watch(
            session=session, viewer_id=viewer.user_id, video=video):
        raise NotFound("No such video.")
    # Held by a takedown request: nobody but moderators may play it, its owner included.
    key, media_type = videos.content_key(session=session, storage=services.storage, video=video, variant=variant,
                                         moderator=viewer.is_admin)
    if variant == "video" and viewer.user_id != video.user_id:
        # Anyone but the creator watches the file a download gives (badge, marks, credentials): what a
        # player shows can be saved, and a shared clip always carries its label.
        instance = instance_label(services.settings, request.url.netloc)
        data = export_mp4(session=session, storage=services.storage, settings=services.settings, video=video,
                          instance=instance)
        return serve_bytes(request, data, "video/mp4", cache="private, max-age=300")
    # Only the browser may keep a copy: whether it may be watched depends on who is asking.
    return serve_bytes(request, services.storage.get_bytes(key), media_type, cache="private, max-age=300")
