"""Making stories, the use cases that join storyboards to video jobs: create and edit a story with every shot
checked as a video request is, and `advance`, which makes the next job a story needs — the next shot (from
the tail of the one before), or the stitch once every shot is made.

`advance` is the story's only scheduler and may run anywhere, any number of times: after a job of the story
ends (in the worker that ran it), when the story is created or edited (in the API), and from the reaper's
sweep (for a worker that died between two jobs). Each job it makes is claimed for its shot with a conditional
update in the same transaction, so two advances at once make it once; each shot and the stitch is its own job,
retried by the reaper like any other, so a story resumes at its unfinished shot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duetto.app.characters import cast
from duetto.app.core.config import Settings
from duetto.app.core.errors import DomainError
from duetto.app.core.security import new_id
from duetto.app.db.models import Storyboard, StoryShot, User, Video
from duetto.app.infra.limits import check_quota, generation_cost
from duetto.app.infra.storage import Storage
from duetto.app.infra.uploads import IMAGE_TYPES
from duetto.app.stories import service as stories
from duetto.app.stories.service import ShotSpec, StoryState
from duetto.app.videos import service as videos
from duetto.app.videos.catalog import ModelCatalog
from duetto.app.videos.service import NewVideo

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]


def _image_key(story_id: str, shot_id: str, media_type: str) -> str:
    return f"stories/{story_id}/{shot_id}/start{IMAGE_TYPES[media_type]}"


def _check_spec(*, session: Session, settings: Settings, catalog: ModelCatalog, user: User, model: str,
                spec: ShotSpec, position: int, surface: str) -> float:
    """A shot checked as a video request of its own would be: prompt, moderation, characters, tokens, length."""
    param = f"shots[{position}]"
    new = NewVideo(kind="shot", prompt=spec.prompt, model=model, characters=spec.characters, surface=surface)
    videos.check_prompt(session=session, settings=settings, user=user, new=new)
    info = catalog.get(model)
    video_cast = cast.cast_for(session=session, user_id=user.id, kind="shot", character_ids=spec.characters,
                               prompt=spec.prompt, has_image=spec.image is not None)
    catalog.check_prompt_tokens(info, cast.engine_prompt(video_cast, spec.prompt))
    return stories.check_shot_seconds(info, spec.seconds, continuing=stories.continues(spec, position),
                                      param=f"{param}.seconds")


def _check_quota(*, session: Session, settings: Settings, user: User, size: str, seconds: list[float]) -> None:
    cost = sum(generation_cost(seconds=s, size=size, settings=settings) for s in seconds)
    check_quota(session=session, user=user, cost=cost, settings=settings)


def create_story(*, session: Session, settings: Settings, catalog: ModelCatalog, storage: Storage,
                 enqueue: Enqueue, user: User, title: str | None, model: str | None, size: str | None,
                 shots: list[ShotSpec], make: bool = True, surface: str = "api_prompt",
                 params: dict[str, Any] | None = None) -> Storyboard:
    """Check every shot and the story's limits, store it (committed), and start making it when `make`.
    `params` (steps, seed) go to every shot's job."""
    # Everything is checked before the story is added: the moderation log commits its decisions.
    info = catalog.get(model)
    title, size = stories.check_title(title), catalog.check_size(info, size)
    seconds = [_check_spec(session=session, settings=settings, catalog=catalog, user=user, model=info.name,
                           spec=spec, position=i, surface=surface) for i, spec in enumerate(shots)]
    stories.check_story(info, seconds)
    if make:
        _check_quota(session=session, settings=settings, user=user, size=size, seconds=seconds)
    story = stories.add_story(session=session, user=user, title=title, model=info.name, size=size, params=params)
    session.flush()  # the story's row before its shots' (no ORM relationship orders them)
    for i, (spec, length) in enumerate(zip(shots, seconds, strict=True)):
        _add_shot(session=session, storage=storage, story=story, spec=spec, seconds=length, position=i)
    story.making = make
    session.commit()
    if make:
        start(session=session, settings=settings, catalog=catalog, storage=storage, enqueue=enqueue,
              story_id=story.id)
    return story


def _add_shot(*, session: Session, storage: Storage, story: Storyboard, spec: ShotSpec, seconds: float,
              position: int) -> StoryShot:
    shot_id = new_id("shot")
    image_key = None
    if spec.image is not None:
        image_key = _image_key(story.id, shot_id, spec.image[1])
        storage.put_bytes(image_key, spec.image[0], spec.image[1])
    return stories.add_shot(session=session, story=story, prompt=spec.prompt, seconds=seconds,
                            characters=spec.characters, image_key=image_key, shot_id=shot_id, position=position)


def add_shot(*, session: Session, settings: Settings, catalog: ModelCatalog, storage: Storage, user: User,
             story: Storyboard, spec: ShotSpec, surface: str = "web_prompt") -> StoryShot:
    """A new last shot, checked like the others (committed); it is made when the story is next made."""
    state = stories.story_state(session=session, story=story)
    stories.require_editable(state)
    position = len(state.shots)
    length = _check_spec(session=session, settings=settings, catalog=catalog, user=user, model=story.model,
                         spec=spec, position=position, surface=surface)
    stories.check_story(catalog.get(story.model), [s.shot.seconds for s in state.shots] + [length])
    shot = _add_shot(session=session, storage=storage, story=story, spec=spec, seconds=length, position=position)
    session.commit()
    return shot


def edit_shot(*, session: Session, settings: Settings, catalog: ModelCatalog, user: User, story: Storyboard,
              shot: StoryShot, prompt: str | None, seconds: str | None, surface: str = "web_prompt") -> None:
    """Change a shot's prompt or length (committed). Its take is kept until it is regenerated."""
    state = stories.story_state(session=session, story=story)
    stories.require_editable(state)
    spec = ShotSpec(prompt=prompt if prompt is not None else shot.prompt,
                    seconds=seconds if seconds is not None else f"{shot.seconds:g}", characters=list(shot.characters))
    spec.image = (b"", "image/png") if shot.image_key else None  # only whether it has one matters here
    length = _check_spec(session=session, settings=settings, catalog=catalog, user=user, model=story.model,
                         spec=spec, position=shot.position, surface=surface)
    stories.check_story(catalog.get(story.model),
                        [length if s.shot.id == shot.id else s.shot.seconds for s in state.shots])
    shot.prompt, shot.seconds = spec.prompt, length
    story.updated_at = time.time()
    session.commit()


def regenerate_shot(*, session: Session, settings: Settings, catalog: ModelCatalog, storage: Storage,
                    enqueue: Enqueue, user: User, story: Storyboard, shot: StoryShot, prompt: str | None = None,
                    seconds: str | None = None, surface: str = "api_prompt") -> None:
    """A new take of one shot (with a new prompt or length if given); the other shots keep theirs, and the
    story is stitched again once the new take is made."""
    if prompt is not None or seconds is not None:
        edit_shot(session=session, settings=settings, catalog=catalog, user=user, story=story, shot=shot,
                  prompt=prompt, seconds=seconds, surface=surface)
    stories.require_editable(stories.story_state(session=session, story=story))
    _check_quota(session=session, settings=settings, user=user, size=story.size, seconds=[shot.seconds])
    stories.forget_take(session=session, shot=shot)
    session.commit()
    start(session=session, settings=settings, catalog=catalog, storage=storage, enqueue=enqueue, story_id=story.id)


def start(*, session: Session, settings: Settings, catalog: ModelCatalog, storage: Storage, enqueue: Enqueue,
          story_id: str) -> None:
    """Ask for the story to be made (again): whatever is missing is made, then it is stitched. A failed
    shot or stitch is tried again with a fresh take."""
    story = session.get(Storyboard, story_id)
    if story is None:
        return
    state = stories.story_state(session=session, story=story)
    for shot in state.shots:
        if shot.status == "failed":
            stories.forget_take(session=session, shot=shot.shot)
    if state.video is not None and state.video.status == "failed":
        story.video_id = None  # a failed stitch of the current takes: stitch again
    story.making = True
    story.updated_at = time.time()
    session.commit()
    for video_id in advance(session=session, settings=settings, catalog=catalog, storage=storage, story_id=story_id):
        enqueue(video_id)


def advance(*, session: Session, settings: Settings, catalog: ModelCatalog, storage: Storage,
            story_id: str) -> list[str]:
    """Make the next job the story needs, if any, and return its id for the caller to enqueue (committed).

    Shots are made in order, each from the tail of the current take before it; nothing is made while a job
    of the story runs or after one failed (until the story is started again); once every shot has a finished
    take, the takes are stitched into one video."""
    story = session.get(Storyboard, story_id)
    if story is None or not story.making:
        return []
    state = stories.story_state(session=session, story=story)
    if state.status in ("ready", "failed"):
        # Made, or stopped at a failure its owner decides on: off the reaper's list of stories to watch.
        story.making = False
        session.commit()
        return []
    previous = None
    for shot in state.shots:
        if shot.take is None:
            return _make_shot(session=session, settings=settings, catalog=catalog, storage=storage, story=story,
                              shot=shot.shot, previous=previous)
        if shot.status != "completed":
            return []  # running (its worker will advance) or failed (the owner decides)
        previous = shot.take
    if not state.shots:
        return []
    stitched = stories.live_video(session, story.video_id)
    if stitched is not None and (stitched.params or {}).get("shots") == state.takes:
        return []  # this stitch is on its way
    return _make_stitch(session=session, story=story, state=state)


def _claim_shot(session: Session, shot: StoryShot, video_id: str) -> bool:
    """Make `video_id` the shot's take unless another advance got there first (not committed)."""
    current = shot.video_id
    same = StoryShot.video_id.is_(None) if current is None else StoryShot.video_id == current
    return session.execute(update(StoryShot).where(StoryShot.id == shot.id, same)
                           .values(video_id=video_id)).rowcount == 1


def _shot_params(story: Storyboard, shot: StoryShot) -> dict[str, Any]:
    params = {"story_id": story.id, "shot_id": shot.id, "steps": (story.params or {}).get("steps")}
    seed = (story.params or {}).get("seed")
    if seed is not None:
        params["seed"] = int(seed) + shot.position  # each shot its own noise, the story still repeatable
    return params


def _make_shot(*, session: Session, settings: Settings, catalog: ModelCatalog, storage: Storage,
               story: Storyboard, shot: StoryShot, previous: Video | None) -> list[str]:
    user = session.get(User, story.user_id)
    assert user is not None
    continuing = previous is not None and stories.continues(shot, shot.position)
    image = None
    if shot.image_key is not None:
        media_type = next(t for t, ext in IMAGE_TYPES.items() if shot.image_key.endswith(ext))
        image = (storage.get_bytes(shot.image_key), media_type)
    new = NewVideo(kind="shot", prompt=shot.prompt, model=story.model, seconds=f"{shot.seconds:g}", size=story.size,
                   params=_shot_params(story, shot), image=image,
                   source=previous if continuing else None, characters=list(shot.characters))
    try:
        video_cast = cast.cast_for(session=session, user_id=user.id, kind="shot", character_ids=new.characters,
                                   prompt=new.prompt, has_image=image is not None)
        shape = videos.shape_job(session=session, settings=settings, catalog=catalog, user=user, new=new)
    except DomainError as refused:
        # A character withdrawn or the day's quota spent since the story was asked for: the story stops here,
        # told on its page, until its owner starts it again.
        log.warning("story %s: shot %s not made: %s", story.id, shot.id, refused)
        return _fail_shot(session=session, story=story, shot=shot, new=new, message=str(refused))
    video = videos.add_job(session=session, storage=storage, user=user, new=new, shape=shape, fingerprint="",
                           idempotency_key=None)
    session.flush()
    cast.attach(session=session, video=video, cast=video_cast, user_id=user.id)
    if not _claim_shot(session, shot, video.id):
        session.rollback()
        return []
    session.commit()
    log.info("story %s: shot %d queued as %s", story.id, shot.position + 1, video.id)
    return [video.id]


def _fail_shot(*, session: Session, story: Storyboard, shot: StoryShot, new: NewVideo,
               message: str) -> list[str]:
    """Record a shot that could not be asked for as a failed take, so the story says why."""
    now = time.time()
    video = Video(id=new_id("video"), user_id=story.user_id, kind="shot", model=story.model, status="failed",
                  progress=0, prompt=new.prompt, size=story.size, seconds=new.seconds or "0",
                  generate_seconds=shot.seconds, params=dict(new.params), error_code="invalid_request",
                  error_message=message, attempts=0, created_at=now, completed_at=now)
    session.add(video)
    session.flush()
    if not _claim_shot(session, shot, video.id):
        session.rollback()
        return []
    session.commit()
    return []


def _make_stitch(*, session: Session, story: Storyboard, state: StoryState) -> list[str]:
    takes = [s.take for s in state.shots if s.take is not None]
    seconds = sum(float(s.shot.seconds) for s in state.shots)
    now = time.time()
    title = story.title or state.shots[0].shot.prompt
    video = Video(id=new_id("video"), user_id=story.user_id, kind="story", model=story.model, status="queued",
                  progress=0, prompt=title, size=story.size, seconds=str(round(seconds)), generate_seconds=seconds,
                  params={"story_id": story.id, "shots": [t.id for t in takes]}, source_video_id=takes[0].id,
                  cost=0.0, attempts=0, created_at=now)
    session.add(video)
    session.flush()
    current = story.video_id
    same = Storyboard.video_id.is_(None) if current is None else Storyboard.video_id == current
    if session.execute(update(Storyboard).where(Storyboard.id == story.id, same)
                       .values(video_id=video.id, updated_at=now)).rowcount != 1:
        session.rollback()
        return []
    session.commit()
    log.info("story %s: every shot made; stitching as %s", story.id, video.id)
    return [video.id]


def stalled_stories(*, session: Session, quiet_s: float, now: float | None = None) -> list[str]:
    """Stories being made with no job of theirs queued or running and nothing done for `quiet_s`: a worker
    died between two of their jobs, or a server stopped. `advance` then makes the next one. (The quiet time
    leaves a job that just ended to its own worker, which advances the story at once.)"""
    now = time.time() if now is None else now
    candidates = session.scalars(select(Storyboard.id).where(Storyboard.making.is_(True))).all()
    stalled = []
    for story_id in candidates:
        story = session.get(Storyboard, story_id)
        assert story is not None
        state = stories.story_state(session=session, story=story)
        ended = [s.take.completed_at or 0.0 for s in state.shots if s.take is not None]
        if state.status != "making" or max([story.updated_at, *ended]) > now - quiet_s:
            continue
        busy = any(s.status in stories.ACTIVE for s in state.shots)
        stitched = stories.live_video(session, story.video_id)
        if not busy and not (stitched is not None and stitched.status in stories.ACTIVE):
            stalled.append(story_id)
    return stalled


def delete_story(*, session: Session, storage: Storage, user: User, story: Storyboard) -> None:
    """Remove the storyboard and its shots' takes (committed); a stitched video stays among the user's
    videos, a video like any other."""
    state = stories.story_state(session=session, story=story)
    for shot in state.shots:
        if shot.take is not None:
            videos.delete_video(session=session, storage=storage, user=user, video_id=shot.take.id)
    session.delete(story)
    session.commit()
    storage.delete_prefix(f"stories/{story.id}")
