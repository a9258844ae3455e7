"""What a video job asks the engine for, free of database rows and HTTP, and how a job fails with a code the
API reports. The job runner builds requests; the characters' job step rewrites them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GenerationRequest:
    """What a generator needs, free of database rows and HTTP."""

    kind: str  # create | remix | extend | edit | sound | picture
    model_path: Path
    prompt: str
    seconds: float
    size: str
    params: dict[str, Any]
    image: bytes | None = None  # the input reference image
    source_mp4: bytes | None = None  # the video to remix, edit or extend, or to make sound for (kind "sound")
    source_audio: bytes | None = None  # the sound file to make a picture for (kind "picture")


class GenerationError(Exception):
    """A failure to report on the video as error.code / error.message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
