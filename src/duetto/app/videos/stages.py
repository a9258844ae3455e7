"""Where a video job stands, in words: queued (with its place in line), denoising, decoding the picture,
making the sound, marking. The worker moves `progress` to a fixed value as each stage after denoising
begins, so the stage is read back from the status and progress alone: no column of its own, and what the
API reports as a percentage still only grows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duetto.app.db.models import Video

DENOISE_FROM, DENOISE_TO = 5, 85
DECODING = 86  # the picture: the video codec's decoder, then the resize to the size asked for
SOUND = 90  # the sound: the audio codec's decoder and the vocoder
MARKING = 95  # the invisible marks, the fingerprint, the MP4, thumbnail and spritesheet stored

STAGE_PROGRESS = {"decoding": DECODING, "sound": SOUND, "marking": MARKING}


def denoise_progress(step: int, total: int) -> int:
    return min(DENOISE_FROM + int((DENOISE_TO - DENOISE_FROM) * step / max(total, 1)), DENOISE_TO)


@dataclass(frozen=True)
class Stage:
    key: str  # queued | starting | denoising | decoding | sound | marking | completed | failed | cancelled
    label: str  # what a person reads


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def stage_of(video: Video, position: int | None = None) -> Stage:
    """The stage of a job; `position` is its place among the queued jobs (see `queue_positions`)."""
    status, progress = video.status, video.progress
    if status == "queued":
        if position is None:
            return Stage("queued", "Queued")
        return Stage("queued", "Queued · next in line" if position == 1 else f"Queued · {ordinal(position)} in line")
    if status == "in_progress":
        if progress < DENOISE_FROM:
            return Stage("starting", "Starting · loading the model")
        if progress < DECODING:
            return Stage("denoising", f"Denoising · {progress}%")
        if progress < SOUND:
            return Stage("decoding", "Decoding the picture")
        if progress < MARKING:
            return Stage("sound", "Making the sound")
        return Stage("marking", "Marking and saving")
    if status == "completed":
        return Stage("completed", "Done")
    if video.error_code == "cancelled":
        return Stage("cancelled", "Cancelled")
    return Stage("failed", "Failed")


def queue_positions(*, session: Session, videos: Iterable[Video]) -> dict[str, int]:
    """Each queued video's place in line: 1 + the queued jobs (anyone's) requested before it. The queue hands
    jobs out in the order they were requested."""
    positions = {}
    for video in videos:
        if video.status == "queued":
            ahead = session.scalar(select(func.count()).select_from(Video).where(
                Video.status == "queued", Video.deleted_at.is_(None), Video.seq < video.seq))
            positions[video.id] = int(ahead or 0) + 1
    return positions
