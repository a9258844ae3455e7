"""Storyboards and their shots for one user at a time: the checks a story must pass, its rows, and where its
making stands, read from the videos of its shots and its stitched video rather than stored beside them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest, NotFound
from duetto.app.core.security import new_id
from duetto.app.db.models import Storyboard, StoryShot, User, Video
from duetto.app.videos.catalog import ModelInfo
from duetto.app.videos.service import ACTIVE

MAX_TITLE = 200


@dataclass
class ShotSpec:
    """A shot as asked for: what it shows, the seconds it adds, its characters and an optional start image."""

    prompt: str
    seconds: str | None = None
    characters: list[str] = field(default_factory=list)
    image: tuple[bytes, str] | None = None  # (bytes, media type), already proven to be an image


@dataclass(frozen=True)
class ShotState:
    shot: StoryShot
    take: Video | None  # the current take, None before the first is asked for (or after it was deleted)
    status: str  # waiting | queued | in_progress | completed | failed
    progress: int


@dataclass(frozen=True)
class StoryState:
    story: Storyboard
    shots: list[ShotState]
    video: Video | None  # the stitched video, when one was made for the current takes
    status: str  # editing | making | ready | failed
    error: str | None

    @property
    def progress(self) -> int:
        """Shots done count equally; the stitch is the last step of each hundred."""
        if self.status == "ready":
            return 100
        if not self.shots:
            return 0
        done = sum(s.progress for s in self.shots) / len(self.shots)
        return int(done * 0.95)

    @property
    def takes(self) -> list[str]:
        return [s.take.id for s in self.shots if s.take is not None]


def continues(shot: StoryShot | ShotSpec, position: int) -> bool:
    """Whether a shot continues from the one before it (its picture and sound): every shot but the first,
    unless it brings its own start image (then the picture cuts, and the sound fades across)."""
    has_image = shot.image is not None if isinstance(shot, ShotSpec) else shot.image_key is not None
    return position > 0 and not has_image


def check_shot_seconds(info: ModelInfo, seconds: str | None, *, continuing: bool, param: str) -> float:
    """The seconds a shot adds: any length the model makes for a fresh shot; a continuing shot's window also
    holds about a second of the shot before, so it adds less."""
    choices = info.extend_seconds_choices if continuing else info.seconds_choices
    if seconds is None:
        seconds = info.default_seconds if info.default_seconds in choices else choices[-1]
    if seconds not in choices:
        how = "a shot that continues the one before" if continuing else "a first shot or one with its own image"
        raise InvalidRequest(f"Invalid seconds {seconds!r} for {how} with model {info.name}; allowed values: "
                             f"{', '.join(choices)}.", param=param)
    return float(seconds)


def check_story(info: ModelInfo, seconds: list[float]) -> None:
    """The model's limits on a whole story: how many shots, and how long in all."""
    if not seconds:
        raise InvalidRequest("A story needs at least one shot; add one with its prompt.", param="shots")
    if len(seconds) > info.story_max_shots:
        raise InvalidRequest(f"A story with {info.name} holds at most {info.story_max_shots} shots; this one has "
                             f"{len(seconds)}.", param="shots")
    if sum(seconds) > info.story_max_seconds + 1e-6:
        raise InvalidRequest(f"A story with {info.name} lasts at most {info.story_max_seconds:g} seconds; these "
                             f"shots add up to {sum(seconds):g}. Shorten or remove a shot.", param="shots")


def check_title(title: str | None) -> str:
    title = (title or "").strip()
    if len(title) > MAX_TITLE:
        raise InvalidRequest(f"title is too long: at most {MAX_TITLE} characters.", param="title")
    return title


def add_story(*, session: Session, user: User, title: str, model: str, size: str,
              params: dict[str, Any] | None = None) -> Storyboard:
    """A new, empty storyboard (not committed)."""
    now = time.time()
    story = Storyboard(id=new_id("story"), user_id=user.id, title=title, model=model, size=size, making=False,
                       params={k: v for k, v in (params or {}).items() if v is not None}, created_at=now,
                       updated_at=now)
    session.add(story)
    return story


def add_shot(*, session: Session, story: Storyboard, prompt: str, seconds: float, characters: list[str],
             image_key: str | None, shot_id: str, position: int) -> StoryShot:
    """The story's shot at `position` (not committed)."""
    shot = StoryShot(id=shot_id, storyboard_id=story.id, position=position, prompt=prompt,
                     seconds=seconds, characters=list(characters), image_key=image_key, video_id=None,
                     created_at=time.time())
    session.add(shot)
    story.updated_at = time.time()
    return shot


def get_story(*, session: Session, user: User, story_id: str) -> Storyboard:
    """The user's storyboard; anyone else's is as unknown as one that never existed."""
    story = session.scalar(select(Storyboard).where(Storyboard.id == story_id, Storyboard.user_id == user.id))
    if story is None:
        raise NotFound(f"No storyboard found with id {story_id!r}.", param="storyboard_id")
    return story


def list_stories(*, session: Session, user: User, limit: int = 50) -> list[Storyboard]:
    return list(session.scalars(select(Storyboard).where(Storyboard.user_id == user.id)
                                .order_by(Storyboard.created_at.desc()).limit(limit)))


def shots_of(*, session: Session, story: Storyboard) -> list[StoryShot]:
    return list(session.scalars(select(StoryShot).where(StoryShot.storyboard_id == story.id)
                                .order_by(StoryShot.position, StoryShot.created_at)))


def get_shot(*, session: Session, story: Storyboard, shot_id: str) -> StoryShot:
    shot = session.scalar(select(StoryShot).where(StoryShot.id == shot_id, StoryShot.storyboard_id == story.id))
    if shot is None:
        raise NotFound(f"Storyboard {story.id} has no shot {shot_id!r}.", param="shot_id")
    return shot


def renumber(*, session: Session, story: Storyboard, order: list[str]) -> None:
    """Put the shots in the order of `order` (every shot's id once), not committed."""
    shots = {s.id: s for s in shots_of(session=session, story=story)}
    if sorted(order) != sorted(shots):
        raise InvalidRequest("order must list every shot of the story once.", param="order")
    for position, shot_id in enumerate(order):
        shots[shot_id].position = position
    story.updated_at = time.time()


def remove_shot(*, session: Session, story: Storyboard, shot: StoryShot) -> None:
    """Remove a shot and close the gap (not committed); its takes stay among the user's videos."""
    session.execute(delete(StoryShot).where(StoryShot.id == shot.id))
    remaining = [s for s in shots_of(session=session, story=story) if s.id != shot.id]
    for position, other in enumerate(remaining):
        other.position = position
    story.updated_at = time.time()


def forget_take(*, session: Session, shot: StoryShot) -> None:
    """The shot gets a new take the next time the story is made (not committed)."""
    session.execute(update(StoryShot).where(StoryShot.id == shot.id).values(video_id=None))
    shot.video_id = None


def live_video(session: Session, video_id: str | None) -> Video | None:
    """The video with this id unless deleted (a video's primary key is its sequence number, not its id)."""
    if video_id is None:
        return None
    return session.scalar(select(Video).where(Video.id == video_id, Video.deleted_at.is_(None)))


def story_state(*, session: Session, story: Storyboard) -> StoryState:
    """Where the story stands: editing (nothing asked for yet), making, ready (stitched from the current
    takes) or failed (a shot or the stitch failed; regenerate it)."""
    rows = shots_of(session=session, story=story)
    wanted = [i for i in [*(shot.video_id for shot in rows), story.video_id] if i is not None]
    # Every take and the stitch in one query (the story pages and the reaper's sweep read this often).
    live = {v.id: v for v in session.scalars(select(Video).where(Video.id.in_(wanted), Video.deleted_at.is_(None)))}
    shots = []
    for shot in rows:
        take = live.get(shot.video_id)
        if take is None:
            shots.append(ShotState(shot, None, "waiting", 0))
        else:
            shots.append(ShotState(shot, take, take.status, 100 if take.status == "completed" else take.progress))
    stitched = live.get(story.video_id)
    takes = [s.take.id for s in shots if s.take is not None]
    current = stitched is not None and (stitched.params or {}).get("shots") == takes and len(takes) == len(shots)
    failed = next((s for s in shots if s.status == "failed"), None)
    error = None
    if failed is not None:
        status = "failed"
        error = f"Shot {failed.shot.position + 1} failed: {failed.take.error_message if failed.take else ''}".strip()
    elif current and stitched.status == "failed":
        status, error = "failed", f"Stitching failed: {stitched.error_message}"
    elif current and stitched.status == "completed":
        status = "ready"
    elif story.making:
        status = "making"
    else:
        status = "editing"
    return StoryState(story=story, shots=shots, video=stitched if current else None, status=status, error=error)


def require_editable(state: StoryState) -> None:
    """A story whose jobs are running cannot be changed under them; wait, or change it once they finish."""
    if any(s.status in ACTIVE for s in state.shots) or (state.video is not None and state.video.status in ACTIVE):
        raise InvalidRequest(f"Storyboard {state.story.id} is being made; change it once the running shot finishes.",
                             param="storyboard_id", code="story_busy")
