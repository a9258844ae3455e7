"""Requesting a video, the one way the API and the web studio make a job: the videos service's checks, with
the characters the prompt names, then the queue."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from duetto.app.characters import cast
from duetto.app.core.config import Settings
from duetto.app.db.models import User, Video
from duetto.app.infra.storage import Storage
from duetto.app.videos import service as videos
from duetto.app.videos.catalog import ModelCatalog
from duetto.app.videos.service import NewVideo


def request_video(
    *,
    session: Session,
    settings: Settings,
    catalog: ModelCatalog,
    storage: Storage,
    enqueue: Callable[[str], None],
    user: User,
    new: NewVideo,
    idempotency_key: str | None = None,
) -> Video:
    """Record a new job (committed) and hand it to the workers; a repeated idempotency key answers with the
    job it made the first time, and nothing runs twice."""
    # 1. A repeated request: the job it made, whatever has happened to it since.
    fingerprint = new.fingerprint()
    if idempotency_key:
        earlier = videos.replay(session=session, user=user, key=idempotency_key, fingerprint=fingerprint)
        if earlier is not None:
            return earlier
    # 2. The prompt: its length and the moderation lists (logged before anything else can refuse it).
    videos.check_prompt(session=session, settings=settings, user=user, new=new)
    # 3. Its characters: named as @name, listed by id, or shown by the video it remixes, extends or edits.
    source = new.source
    video_cast = cast.cast_for(session=session, user_id=user.id, kind=new.kind, character_ids=new.characters,
                               prompt=videos.stored_prompt(new), source_video_id=source.id if source else None,
                               has_image=new.image is not None)
    # 4. What the model and the day's quota allow, and what it costs; the prompt as the engine will read it
    #    (its @names rewritten) must fit the model's text encoder.
    shape = videos.shape_job(session=session, settings=settings, catalog=catalog, user=user, new=new)
    catalog.check_prompt_tokens(catalog.get(shape.model), cast.engine_prompt(video_cast, videos.stored_prompt(new)))
    # 5. The job, its inputs and its characters, committed together.
    video = videos.add_job(session=session, storage=storage, user=user, new=new, shape=shape,
                           fingerprint=fingerprint, idempotency_key=idempotency_key)
    cast.attach(session=session, video=video, cast=video_cast, user_id=user.id)
    video, created = videos.commit_job(session=session, storage=storage, user=user, video=video,
                                       fingerprint=fingerprint, idempotency_key=idempotency_key)
    # 6. A new job goes to the workers (a replayed one is already theirs).
    if created:
        enqueue(video.id)
    return video
