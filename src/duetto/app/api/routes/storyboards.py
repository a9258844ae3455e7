"""`/v1/storyboards`: stories of several shots, each continuing the last, stitched into one video. Create one,
follow it, add, reorder or regenerate shots; once `status` is `ready`, its `video` downloads as any video."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from duetto.app.api.deps import CurrentUser, ServicesDep, SessionDep
from duetto.app.api.openapi import ERRORS
from duetto.app.api.routes.characters import character_ids
from duetto.app.core.errors import PayloadTooLarge
from duetto.app.db.models import User
from duetto.app.flows import stories as story_flows
from duetto.app.infra.uploads import decode_data_url, require_image
from duetto.app.stories import service as stories
from duetto.app.stories.schemas import (
    AddShot,
    CreateStoryboard,
    RegenerateShot,
    ReorderShots,
    ShotRequest,
    StoryboardDeleted,
    StoryboardList,
    StoryboardObject,
)
from duetto.app.stories.service import ShotSpec

router = APIRouter(prefix="/v1/storyboards", tags=["storyboards"], responses=ERRORS)


def _spec(shot: ShotRequest, *, index: int, max_bytes: int) -> ShotSpec:
    image = None
    if shot.input_reference is not None:
        param = f"shots[{index}].input_reference"
        data = decode_data_url(shot.input_reference.image_url, param=f"{param}.image_url")
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"{param} is larger than the upload limit.", param=param)
        image = (data, require_image(data, param=param))
    return ShotSpec(prompt=shot.prompt, seconds=shot.seconds, characters=character_ids(shot.characters), image=image)


def _object(session: SessionDep, user: User, story_id: str) -> StoryboardObject:
    story = stories.get_story(session=session, user=user, story_id=story_id)
    return StoryboardObject.of(stories.story_state(session=session, story=story))


@router.post("", response_model=StoryboardObject)
def create_storyboard(body: CreateStoryboard, services: ServicesDep, session: SessionDep,
                      user: CurrentUser) -> StoryboardObject:
    max_bytes = services.settings.max_upload_bytes
    specs = [_spec(shot, index=i, max_bytes=max_bytes) for i, shot in enumerate(body.shots)]
    story = story_flows.create_story(session=session, settings=services.settings, catalog=services.catalog,
                                     storage=services.storage, enqueue=services.queue.enqueue, user=user,
                                     title=body.title, model=body.model, size=body.size, shots=specs, make=body.make,
                                     params={"steps": body.steps, "seed": body.seed})
    return _object(session, user, story.id)


@router.get("", response_model=StoryboardList)
def list_storyboards(session: SessionDep, user: CurrentUser) -> StoryboardList:
    return StoryboardList(data=[StoryboardObject.of(stories.story_state(session=session, story=s))
                                for s in stories.list_stories(session=session, user=user)])


@router.get("/{storyboard_id}", response_model=StoryboardObject)
def retrieve_storyboard(storyboard_id: str, session: SessionDep, user: CurrentUser) -> StoryboardObject:
    return _object(session, user, storyboard_id)


@router.delete("/{storyboard_id}", response_model=StoryboardDeleted)
async def delete_storyboard(storyboard_id: str, services: ServicesDep, session: SessionDep,
                            user: CurrentUser) -> StoryboardDeleted:
    def remove() -> None:
        story = stories.get_story(session=session, user=user, story_id=storyboard_id)
        story_flows.delete_story(session=session, storage=services.storage, user=user, story=story)

    await to_thread.run_sync(remove)
    return StoryboardDeleted(id=storyboard_id)


@router.post("/{storyboard_id}/make", response_model=StoryboardObject)
def make_storyboard(storyboard_id: str, services: ServicesDep, session: SessionDep,
                    user: CurrentUser) -> StoryboardObject:
    """Make what is missing (a new shot, a failed one) and stitch again."""
    story = stories.get_story(session=session, user=user, story_id=storyboard_id)
    story_flows.start(session=session, settings=services.settings, catalog=services.catalog,
                      storage=services.storage, enqueue=services.queue.enqueue, story_id=story.id)
    return _object(session, user, storyboard_id)


@router.post("/{storyboard_id}/shots", response_model=StoryboardObject)
def add_shot(storyboard_id: str, body: AddShot, services: ServicesDep, session: SessionDep,
             user: CurrentUser) -> StoryboardObject:
    story = stories.get_story(session=session, user=user, story_id=storyboard_id)
    spec = _spec(body, index=0, max_bytes=services.settings.max_upload_bytes)
    story_flows.add_shot(session=session, settings=services.settings, catalog=services.catalog,
                         storage=services.storage, user=user, story=story, spec=spec, surface="api_prompt")
    return _object(session, user, storyboard_id)


@router.post("/{storyboard_id}/order", response_model=StoryboardObject)
def reorder_shots(storyboard_id: str, body: ReorderShots, session: SessionDep, user: CurrentUser) -> StoryboardObject:
    story = stories.get_story(session=session, user=user, story_id=storyboard_id)
    stories.require_editable(stories.story_state(session=session, story=story))
    stories.renumber(session=session, story=story, order=body.shots)
    session.commit()
    return _object(session, user, storyboard_id)


@router.post("/{storyboard_id}/shots/{shot_id}/regenerate", response_model=StoryboardObject)
def regenerate_shot(storyboard_id: str, shot_id: str, services: ServicesDep, session: SessionDep,
                    user: CurrentUser, body: RegenerateShot | None = None) -> StoryboardObject:
    story = stories.get_story(session=session, user=user, story_id=storyboard_id)
    shot = stories.get_shot(session=session, story=story, shot_id=shot_id)
    body = body or RegenerateShot()
    story_flows.regenerate_shot(session=session, settings=services.settings, catalog=services.catalog,
                                storage=services.storage, enqueue=services.queue.enqueue, user=user, story=story,
                                shot=shot, prompt=body.prompt, seconds=body.seconds)
    return _object(session, user, storyboard_id)
