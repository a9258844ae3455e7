"""Characters when a job starts: check them once more, then turn the request into what the engine conditions on.

Between a request and its job starting, an owner may revoke someone, narrow the level, add a rule or
delete the character; the job then fails with `character_not_permitted` instead of making the video.
A toy is conditioned through the caption (`prompts.rewrite_prompt`); a person through the first frame:
their reference still, or both stills side by side for two people, fitted by the engine to the size.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from duetto.app.characters import cast, prompts
from duetto.app.core.db import session_scope
from duetto.app.core.errors import DomainError
from duetto.app.db.models import Character, Video
from duetto.app.infra.storage import Storage
from duetto.app.videos.generation import GenerationError, GenerationRequest


def first_frame(stills: list[bytes]) -> bytes:
    """One still as it is, or several side by side on one canvas (PNG), each keeping its aspect ratio."""
    if len(stills) == 1:
        return stills[0]
    from PIL import Image

    from duetto.media import image_bytes, load_image

    images = [load_image(data) for data in stills]
    height = max(image.height for image in images)
    scaled = [image.resize((max(1, round(image.width * height / image.height)), height)) for image in images]
    canvas = Image.new("RGB", (sum(image.width for image in scaled), height), (0, 0, 0))
    x = 0
    for image in scaled:
        canvas.paste(image, (x, 0))
        x += image.width
    return image_bytes(canvas, "png")


def apply_characters(sessions: sessionmaker[Session], storage: Storage, video: Video,
                     request: GenerationRequest) -> GenerationRequest:
    """The request with its characters applied, or GenerationError(character_not_permitted) when they may
    no longer be used. A video without characters passes through unchanged."""
    with session_scope(sessions) as session:
        try:
            shown: list[Character] = cast.check_at_start(session=session, video=video)
        except DomainError as refusal:
            raise GenerationError("character_not_permitted", refusal.message) from None
        if not shown:
            return request
        # A person, or a toy made from a video without a Toybox look, enters through its still.
        from_stills = [c for c in shown if (c.kind == "person" or not c.toy) and c.still_key]
        still_keys = [c.still_key for c in from_stills]
        members = cast.likenesses(shown)
    prompt = prompts.rewrite_prompt(request.prompt, members)
    image = request.image
    # Only a new video starts from a first frame; a remix or extension already shows the person.
    if video.kind == "create" and image is None and still_keys:
        try:
            image = first_frame([storage.get_bytes(key) for key in still_keys if key])
        except Exception:  # a missing file reads as OSError locally and as a ClientError from S3
            raise GenerationError("character_not_permitted",
                                  "A character's reference still is gone; this video cannot be made.") from None
    return replace(request, prompt=prompt, image=image)

