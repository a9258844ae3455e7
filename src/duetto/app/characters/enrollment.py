"""Enrolling a person: liveness challenges, the append-only consent ledger, and the person character a
verified enrollment makes."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duetto.app.characters.names import check_display_name, check_name
from duetto.app.characters.service import store_and_commit
from duetto.app.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from duetto.app.core.security import new_id
from duetto.app.db.models import (
    Account,
    Character,
    ConsentRecord,
    EnrollmentChallenge,
    User,
)
from duetto.app.infra.storage import Storage
from duetto.app.infra.uploads import sniff_image

CHALLENGE_TTL_S = 120.0


# A person character may only be made within this long of the enrollment challenge it answered.
ENROLLMENT_WINDOW_S = 600.0


def issue_challenge(*, session: Session, user_id: str) -> EnrollmentChallenge:
    """A new challenge for `user_id` (committed): 4–6 random digits to say and a head turn, valid 2 minutes."""
    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    count = 4 + secrets.randbelow(3)
    now = time.time()
    challenge = EnrollmentChallenge(
        id=new_id("chal"), user_id=user_id, digits="".join(str(secrets.randbelow(10)) for _ in range(count)),
        turn=secrets.choice(("left", "right")), issued_at=now, expires_at=now + CHALLENGE_TTL_S,
    )
    session.add(challenge)
    session.commit()
    return challenge


def consume_challenge(*, session: Session, user_id: str, challenge_id: str) -> EnrollmentChallenge:
    """Mark `user_id`'s challenge used (committed) and return it; an unknown, expired or used one is refused.

    The update is conditional, so two requests answering the same challenge cannot both succeed.
    """
    now = time.time()
    result = session.execute(
        update(EnrollmentChallenge)
        .where(EnrollmentChallenge.id == challenge_id, EnrollmentChallenge.user_id == user_id,
               EnrollmentChallenge.used_at.is_(None), EnrollmentChallenge.expires_at > now)
        .values(used_at=now)
    )
    session.commit()
    challenge = session.scalar(
        select(EnrollmentChallenge)
        .where(EnrollmentChallenge.id == challenge_id, EnrollmentChallenge.user_id == user_id)
        .execution_options(populate_existing=True))  # an object loaded before the update would be stale
    if challenge is None:
        raise InvalidRequest("This enrollment challenge is unknown; start the enrollment again.", param="challenge")
    if result.rowcount != 1:
        if challenge.used_at is not None:
            raise InvalidRequest("This enrollment challenge was already used; start the enrollment again.",
                                 param="challenge")
        raise InvalidRequest("This enrollment challenge expired (they last 2 minutes); start the enrollment again.",
                             param="challenge")
    return challenge


def challenge_hash(challenge: EnrollmentChallenge) -> str:
    """A hash that names a challenge in the ledger without keeping what was asked."""
    text = f"{challenge.id}:{challenge.user_id}:{challenge.digits}:{challenge.turn}:{challenge.issued_at!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def record_consent(*, session: Session, user_id: str, challenge_hash: str, result: str, detail: str) -> None:
    """Append one entry to the consent ledger (committed). Entries are never changed or removed."""
    if not result.strip():
        raise InvalidRequest("A consent record needs a result.", param="result")
    session.add(ConsentRecord(user_id=user_id, challenge_hash=challenge_hash[:128], result=result.strip()[:40],
                              detail=detail, created_at=time.time()))
    session.commit()


def consent_history(*, session: Session, user_id: str) -> list[ConsentRecord]:
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user_id)
                                .order_by(ConsentRecord.id)))


def _is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def person_character(*, session: Session, user_id: str) -> Character | None:
    """The person character of `user_id` (a person has at most one), or None."""
    return session.scalar(select(Character).where(Character.owner_id == user_id, Character.kind == "person",
                                                  Character.deleted_at.is_(None)))


def proven_person_character(*, session: Session, user_id: str) -> Character | None:
    """The person character enrolled on this instance; one brought from another instance still waits to be."""
    existing = person_character(session=session, user_id=user_id)
    return existing if existing is not None and not existing.needs_enrollment else None


def create_person_character(
    *, session: Session, user_id: str, name: str, still_png: bytes, voice_wav: bytes, storage: Storage
) -> Character:
    """The person character of `user_id` (committed), made from their verified enrollment.

    It needs an enrollment challenge of theirs answered (`consume_challenge`) in the last 10 minutes. A
    person has at most one person character; it starts at 'only me'.
    """
    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    recent = session.scalar(select(EnrollmentChallenge.id).where(
        EnrollmentChallenge.user_id == user_id, EnrollmentChallenge.used_at.is_not(None),
        EnrollmentChallenge.used_at > time.time() - ENROLLMENT_WINDOW_S))
    if recent is None:
        raise Forbidden("A person character needs a verified enrollment in the last 10 minutes; enroll again.",
                        param="challenge")
    existing = person_character(session=session, user_id=user_id)
    if existing is not None and not existing.needs_enrollment:
        raise Conflict("You already have a person character; delete it before enrolling again.",
                       code="person_character_exists")
    if sniff_image(still_png) != "image/png":
        raise InvalidRequest("The reference still must be a PNG image.", param="still_png")
    if not _is_wav(voice_wav):
        raise InvalidRequest("The voice sample must be a WAV file.", param="voice_wav")
    if existing is not None:
        # Brought from another instance: this enrollment is its liveness here, and its likeness the one verified.
        existing.needs_enrollment = False
        return store_and_commit(session=session, storage=storage, character=existing, still=still_png,
                                voice=voice_wav)
    clean = check_name(session=session, name=name, owner_id=user_id)
    account = session.get(Account, user_id)
    shown = check_display_name(session=session, display_name=account.display_name if account else clean, fallback=clean)
    character = Character(id=new_id("char"), owner_id=user_id, kind="person", name=clean, display_name=shown,
                          permission="only_me", toy=None, created_at=time.time())
    return store_and_commit(session=session, storage=storage, character=character, still=still_png, voice=voice_wav)


def is_live(*, session: Session, user_id: str, challenge_id: str) -> bool:
    """Whether the challenge is this person's, unused and unexpired (consuming it is what settles it)."""
    challenge = session.get(EnrollmentChallenge, challenge_id)
    return (challenge is not None and challenge.user_id == user_id and challenge.used_at is None
            and challenge.expires_at > time.time())


def ledger_hash(*, session: Session, user_id: str, challenge_id: str) -> str:
    """The ledger's name for the challenge answered; an unknown id is hashed as given."""
    known = session.get(EnrollmentChallenge, challenge_id)
    if known is not None and known.user_id == user_id:
        return challenge_hash(known)
    return hashlib.sha256(f"unknown:{user_id}:{challenge_id}".encode()).hexdigest()
