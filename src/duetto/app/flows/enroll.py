"""Enrolling a person as a character: the challenge is spent, the recording checked offline for liveness, the
person character made from it, and every answer appended to the consent ledger, passed, failed or refused."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from duetto.app.characters import enrollment, files
from duetto.app.core.errors import DomainError
from duetto.app.db.models import Character
from duetto.app.infra.storage import Storage
from duetto.app.infra.uploads import is_mp4
from duetto.characters.liveness import Challenge, RecordingError, Result, verify


@dataclass(frozen=True)
class Outcome:
    """How an answer ended: `enrolled`, `refused` (a spent, expired or unknown challenge, or someone already
    enrolled), `unreadable` (the recording), `failed` (a liveness check) or `not_made` (the character)."""

    status: str
    message: str
    result: Result | None = None
    character: Character | None = None


def enroll(*, session: Session, storage: Storage, user_id: str, challenge_id: str, name: str,
           recording: bytes) -> Outcome:
    """Answer a challenge with a recording; `name` was checked already, while the challenge was live."""
    # 1. Spend the challenge whatever happens next, so a recording can never be replayed against it.
    try:
        challenge = enrollment.consume_challenge(session=session, user_id=user_id, challenge_id=challenge_id)
    except DomainError as error:
        entry = enrollment.ledger_hash(session=session, user_id=user_id, challenge_id=challenge_id)
        enrollment.record_consent(session=session, user_id=user_id, challenge_hash=entry, result="refused",
                                  detail=error.message)
        return Outcome("refused", error.message)
    entry = enrollment.challenge_hash(challenge)
    # 2. One person character per person (one brought from another instance waits for exactly this).
    existing = enrollment.proven_person_character(session=session, user_id=user_id)
    if existing is not None:
        message = f"You are already enrolled as @{existing.name}; delete that character to enroll again."
        enrollment.record_consent(session=session, user_id=user_id, challenge_hash=entry, result="refused",
                                  detail=message)
        return Outcome("refused", message)
    # 3. The liveness checks: a face, the digits read aloud, the head turn, lips moving with the voice.
    try:
        result = verify(recording, Challenge(challenge.digits, challenge.turn))
    except RecordingError as error:
        enrollment.record_consent(session=session, user_id=user_id, challenge_hash=entry, result="failed",
                                  detail=f"recording: {error}")
        return Outcome("unreadable", str(error))
    if not result.passed:
        failure = result.failure
        assert failure is not None
        enrollment.record_consent(session=session, user_id=user_id, challenge_hash=entry, result="failed",
                                  detail=f"{failure.name} failed; {result.summary()}")
        return Outcome("failed", failure.message, result)
    # 4. The character, and the recording it was made from, kept as the evidence of consent.
    try:
        character = _make_character(session=session, storage=storage, user_id=user_id, name=name,
                                    challenge_id=challenge.id, result=result, recording=recording)
    except DomainError as error:
        session.rollback()
        enrollment.record_consent(session=session, user_id=user_id, challenge_hash=entry, result="passed",
                                  detail=f"no character made: {error.message}; {result.summary()}")
        return Outcome("not_made", error.message, result)
    # 5. The ledger's entry for the pass.
    enrollment.record_consent(session=session, user_id=user_id, challenge_hash=entry, result="passed",
                              detail=f"character {character.id} @{character.name}; {result.summary()}")
    return Outcome("enrolled", f"You are enrolled: @{character.name} is ready.", result, character)


def _make_character(*, session: Session, storage: Storage, user_id: str, name: str, challenge_id: str,
                    result: Result, recording: bytes) -> Character:
    assert result.still_png is not None and result.voice_wav is not None
    character = enrollment.create_person_character(session=session, user_id=user_id, name=name,
                                                   still_png=result.still_png, voice_wav=result.voice_wav,
                                                   storage=storage)
    # Deleting the person character erases the recording too (the service purges this prefix).
    extension, media_type = ("mp4", "video/mp4") if is_mp4(recording) else ("webm", "video/webm")
    storage.put_bytes(f"{files.enrollment_prefix(user_id)}{challenge_id}.{extension}", recording, media_type)
    return character
