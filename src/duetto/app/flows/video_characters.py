"""A character from an uploaded video (`POST /v1/videos/characters` with `video`, as OpenAI's SDK sends it).

A video of a real person becomes a character only under the rules of enrollment: it must be that person's
own answer to a live challenge of theirs (the digits read aloud and the head turn, checked offline),
with `consent` given, and every answer goes into the consent ledger; it then makes their person character
through `flows.enroll`, the very steps of the enrollment page. Any other video becomes a toy whose card is
a still and the sound of that video.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from duetto.app.characters import from_video, service
from duetto.app.characters.names import check_name
from duetto.app.core.errors import Forbidden, InvalidRequest
from duetto.app.db.models import Character
from duetto.app.flows import enroll
from duetto.app.infra.storage import Storage

CONSENT_REQUIRED = (
    "This video shows a person's face. A real person becomes a character only with their live consent: "
    "open /characters/enroll (signed in as that person) for a challenge, record yourself reading its digits "
    "and turning your head, then send that recording as video with challenge=<the challenge id> and "
    "consent=true."
)


def character_from_video(*, session: Session, storage: Storage, user_id: str, name: str, video: bytes,
                         challenge_id: str | None, consent: bool, look: dict[str, Any], display_name: str = "",
                         permission: str = "only_me") -> Character:
    """The character the video makes, or a one-line refusal saying what is needed instead."""
    # 1. An answer to an enrollment challenge: the person themself, checked as the enrollment page checks.
    if challenge_id:
        if not consent:
            raise InvalidRequest("Give consent=true to make a character of yourself from this recording.",
                                 param="consent")
        check_name(session=session, name=name, owner_id=user_id)
        outcome = enroll.enroll(session=session, storage=storage, user_id=user_id, challenge_id=challenge_id,
                                name=name, recording=video)
        if outcome.status == "enrolled":
            assert outcome.character is not None
            return outcome.character
        if outcome.status == "refused":
            raise Forbidden(outcome.message, param="challenge", code="consent_not_verified")
        raise InvalidRequest(outcome.message, param="video", code="consent_not_verified")
    # 2. Any other video: a person's face in it is refused, without consent it cannot be theirs.
    card = from_video.read_card(video)
    if card.shows_face:
        raise Forbidden(CONSENT_REQUIRED, param="video", code="consent_required")
    # 3. A toy from its still and its sound.
    return service.create_toy_from_video(session=session, user_id=user_id, name=name, storage=storage,
                                         still_png=card.still_png, voice_wav=card.voice_wav, look=look,
                                         display_name=display_name, permission=permission)
