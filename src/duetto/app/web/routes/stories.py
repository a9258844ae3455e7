"""Stories in the web app: a storyboard editor (add, edit, reorder, remove and regenerate shots), its making
followed on the page, and the stitched video as a draft to preview, post or download."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from duetto.app.api.deps import Services, ServicesDep, SessionDep
from duetto.app.api.errors import status_for
from duetto.app.core.errors import DomainError, InvalidRequest, NotFound, PayloadTooLarge
from duetto.app.db.models import Storyboard, User
from duetto.app.flows import stories as story_flows
from duetto.app.infra.uploads import require_image
from duetto.app.provenance.exports import export_mp4, instance_label
from duetto.app.stories import service as stories
from duetto.app.stories.service import ShotSpec
from duetto.app.web.deps import Csrf, UserDep, render

router = APIRouter(include_in_schema=False)

STATUS_WORDS = {"editing": "Not made yet", "making": "Making your story…", "ready": "Ready",
                "failed": "A shot didn't work"}
SHOT_WORDS = {"waiting": "Not made yet", "queued": "Waiting its turn", "in_progress": "Being made",
              "completed": "Made", "failed": "Failed"}


def _page(request: Request, session: Session, services: Services, story: Storyboard, *, error: str | None = None,
          status_code: int = 200) -> Response:
    state = stories.story_state(session=session, story=story)
    info = services.catalog.get(story.model)
    return render(request, "story.html", {
        "state": state, "status_words": STATUS_WORDS, "shot_words": SHOT_WORDS, "error": error,
        "first_choices": info.seconds_choices, "next_choices": info.extend_seconds_choices,
        "max_shots": info.story_max_shots, "max_seconds": info.story_max_seconds,
        "busy": state.status == "making", "total": sum(s.shot.seconds for s in state.shots),
    }, status_code=status_code, session=session)


def _refused(request: Request, session: Session, services: Services, story: Storyboard,
             error: DomainError) -> Response:
    """The editor again, the refusal above the shots, and nothing of the refused change kept."""
    session.rollback()
    return _page(request, session, services, story, error=error.message, status_code=status_for(error))


def _back(story_id: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/stories/{story_id}{anchor}", status_code=303)


async def _image(upload: UploadFile | None, *, max_bytes: int) -> tuple[bytes, str] | None:
    if upload is None or not upload.filename:
        return None
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge("The start image is larger than the upload limit; use a smaller one.", param="image")
    return data, await to_thread.run_sync(lambda: require_image(data, param="image"))


def _list_page(request: Request, session: Session, services: Services, user: User, *, error: str | None = None,
               values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    items = [stories.story_state(session=session, story=s) for s in stories.list_stories(session=session, user=user)]
    info = services.catalog.get(None)
    return render(request, "stories.html", {"items": items, "status_words": STATUS_WORDS,
                                            "choices": info.seconds_choices, "default": info.default_seconds,
                                            "error": error, **(values or {})},
                  status_code=status_code, session=session)


@router.get("/stories")
def stories_page(request: Request, services: ServicesDep, session: SessionDep, user: UserDep) -> Response:
    return _list_page(request, session, services, user)


@router.post("/stories", dependencies=[Csrf])
async def new_story(request: Request, services: ServicesDep, session: SessionDep, user: UserDep,
                    prompt: Annotated[str, Form()] = "", seconds: Annotated[str, Form()] = "",
                    title: Annotated[str, Form()] = "") -> Response:
    """A story with its first shot, not made yet: the editor is where the others are added."""
    def create() -> Storyboard:
        return story_flows.create_story(
            session=session, settings=services.settings, catalog=services.catalog, storage=services.storage,
            enqueue=services.queue.enqueue, user=user, title=title, model=None, size=None,
            shots=[ShotSpec(prompt=prompt, seconds=seconds or None)], make=False, surface="web_prompt")

    try:
        story = await to_thread.run_sync(create)
    except DomainError as error:
        session.rollback()
        return _list_page(request, session, services, user, error=error.message,
                          values={"prompt": prompt, "title": title}, status_code=status_for(error))
    return _back(story.id)


@router.get("/stories/{story_id}")
def story_page(story_id: str, request: Request, services: ServicesDep, session: SessionDep,
               user: UserDep) -> Response:
    return _page(request, session, services, stories.get_story(session=session, user=user, story_id=story_id))


async def _change(request: Request, session: Session, services: Services, user: User, story_id: str,
                  change, anchor: str = "") -> Response:  # noqa: ANN001 - a function of the story
    story = stories.get_story(session=session, user=user, story_id=story_id)
    try:
        await to_thread.run_sync(lambda: change(story))
    except DomainError as error:
        return _refused(request, session, services, story, error)
    return _back(story_id, anchor)


@router.post("/stories/{story_id}/shots", dependencies=[Csrf])
async def add_shot(story_id: str, request: Request, services: ServicesDep, session: SessionDep, user: UserDep,
                   prompt: Annotated[str, Form()] = "", seconds: Annotated[str, Form()] = "",
                   image: Annotated[UploadFile | None, File()] = None) -> Response:
    story = stories.get_story(session=session, user=user, story_id=story_id)
    try:
        start = await _image(image, max_bytes=services.settings.max_upload_bytes)
    except DomainError as error:
        return _refused(request, session, services, story, error)
    spec = ShotSpec(prompt=prompt, seconds=seconds or None, image=start)
    return await _change(request, session, services, user, story_id, lambda s: story_flows.add_shot(
        session=session, settings=services.settings, catalog=services.catalog, storage=services.storage, user=user,
        story=s, spec=spec), anchor="#add")


@router.post("/stories/{story_id}/shots/{shot_id}/edit", dependencies=[Csrf])
async def edit_shot(story_id: str, shot_id: str, request: Request, services: ServicesDep, session: SessionDep,
                    user: UserDep, prompt: Annotated[str, Form()] = "",
                    seconds: Annotated[str, Form()] = "") -> Response:
    def change(story: Storyboard) -> None:
        shot = stories.get_shot(session=session, story=story, shot_id=shot_id)
        story_flows.edit_shot(session=session, settings=services.settings, catalog=services.catalog, user=user,
                              story=story, shot=shot, prompt=prompt, seconds=seconds or None)

    return await _change(request, session, services, user, story_id, change, anchor=f"#{shot_id}")


@router.post("/stories/{story_id}/shots/{shot_id}/move", dependencies=[Csrf])
async def move_shot(story_id: str, shot_id: str, request: Request, services: ServicesDep, session: SessionDep,
                    user: UserDep, direction: Annotated[str, Form()] = "up") -> Response:
    def change(story: Storyboard) -> None:
        stories.require_editable(stories.story_state(session=session, story=story))
        order = [s.id for s in stories.shots_of(session=session, story=story)]
        if shot_id not in order or direction not in ("up", "down"):
            raise InvalidRequest("Move a shot of this story up or down.", param="direction")
        i = order.index(shot_id)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
            stories.renumber(session=session, story=story, order=order)
            session.commit()

    return await _change(request, session, services, user, story_id, change, anchor=f"#{shot_id}")


@router.post("/stories/{story_id}/shots/{shot_id}/remove", dependencies=[Csrf])
async def remove_shot(story_id: str, shot_id: str, request: Request, services: ServicesDep, session: SessionDep,
                      user: UserDep) -> Response:
    def change(story: Storyboard) -> None:
        stories.require_editable(stories.story_state(session=session, story=story))
        stories.remove_shot(session=session, story=story,
                            shot=stories.get_shot(session=session, story=story, shot_id=shot_id))
        session.commit()

    return await _change(request, session, services, user, story_id, change)


@router.post("/stories/{story_id}/shots/{shot_id}/regenerate", dependencies=[Csrf])
async def regenerate_shot(story_id: str, shot_id: str, request: Request, services: ServicesDep,
                          session: SessionDep, user: UserDep) -> Response:
    def change(story: Storyboard) -> None:
        story_flows.regenerate_shot(session=session, settings=services.settings, catalog=services.catalog,
                                    storage=services.storage, enqueue=services.queue.enqueue, user=user, story=story,
                                    shot=stories.get_shot(session=session, story=story, shot_id=shot_id))

    return await _change(request, session, services, user, story_id, change)


@router.post("/stories/{story_id}/make", dependencies=[Csrf])
async def make_story(story_id: str, request: Request, services: ServicesDep, session: SessionDep,
                     user: UserDep) -> Response:
    def change(story: Storyboard) -> None:
        state = stories.story_state(session=session, story=story)
        stories.check_story(services.catalog.get(story.model), [s.shot.seconds for s in state.shots])
        story_flows.start(session=session, settings=services.settings, catalog=services.catalog,
                          storage=services.storage, enqueue=services.queue.enqueue, story_id=story.id)

    return await _change(request, session, services, user, story_id, change)


@router.post("/stories/{story_id}/delete", dependencies=[Csrf])
async def delete_story(story_id: str, services: ServicesDep, session: SessionDep, user: UserDep) -> Response:
    story = stories.get_story(session=session, user=user, story_id=story_id)
    await to_thread.run_sync(lambda: story_flows.delete_story(session=session, storage=services.storage, user=user,
                                                              story=story))
    return RedirectResponse("/stories", status_code=303)


@router.get("/stories/{story_id}/download")
async def download_story(story_id: str, request: Request, services: ServicesDep, session: SessionDep,
                         user: UserDep) -> Response:
    """The stitched video as it leaves the instance: badge, marks and signed credentials naming every shot."""
    story = stories.get_story(session=session, user=user, story_id=story_id)
    state = stories.story_state(session=session, story=story)
    if state.video is None or state.video.status != "completed":
        raise NotFound("This story has no finished video yet; make it first.")
    video = state.video
    instance = instance_label(services.settings, request.url.netloc)
    data = await to_thread.run_sync(lambda: export_mp4(
        session=session, storage=services.storage, settings=services.settings, video=video, instance=instance))
    return Response(data, media_type="video/mp4", headers={
        "content-disposition": f'attachment; filename="duetto-story-{story.id}.mp4"', "cache-control": "no-store"})
