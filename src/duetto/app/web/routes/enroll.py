"""Enrolling yourself as a character: a challenge page that records camera and microphone in the browser,
and the upload it sends, checked offline for liveness before the person character is made.

Every answer to a challenge, passed, failed or refused, is appended to the consent ledger. A challenge is
spent by its first upload whatever the outcome, so a recording can never be replayed against it; trying
again means a new challenge with new digits.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.characters import service
from duetto.app.characters.models import Character, EnrollmentChallenge
from duetto.app.core.errors import DomainError, NotFound
from duetto.app.videos.uploads import is_mp4
from duetto.app.web.deps import AccountDep, Csrf, render, wants_json
from duetto.characters.liveness import Challenge, RecordingError, Result, verify

router = APIRouter(include_in_schema=False)

RECORD_SECONDS = 10.0  # what the page records: the digits first, then the turn
TURN_AT_SECONDS = 5.5  # when the page switches from the digits to the turn
MAX_RECORDING_BYTES = 40 * 1024 * 1024  # ten seconds of camera video is a few MB
CHALLENGES_PER_HOUR = "20/hour"  # per user (WebLimits.enroll): each check costs seconds of CPU
CHECK_LABELS = {"face": "Face in view", "digits": "Digits read aloud", "turn": "Head turn", "sync": "Lips match voice"}
TURN_WORDS = {"left": "to your left", "right": "to your right"}


def _own_challenge(session: Session, user_id: str, challenge_id: str) -> EnrollmentChallenge:
    challenge = session.get(EnrollmentChallenge, challenge_id)
    if challenge is None or challenge.user_id != user_id:
        raise NotFound("There is no such enrollment challenge; start the enrollment again.")
    return challenge


@router.get("/characters/enroll")
def enroll_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    existing = service.person_character(session, account.user_id)
    return render(request, "enroll.html", {"state": "intro", "existing": existing}, session=session)


@router.post("/characters/enroll", dependencies=[Csrf])
def new_challenge(request: Request, session: SessionDep, account: AccountDep) -> Response:
    existing = service.person_character(session, account.user_id)
    if existing is not None:
        return render(request, "enroll.html", {"state": "intro", "existing": existing}, status_code=409,
                      session=session)
    request.app.state.web_limits.enroll.hit(account.user_id)
    challenge = service.issue_challenge(session, account.user_id)
    return RedirectResponse(f"/characters/enroll/{challenge.id}", status_code=303)


@router.get("/characters/enroll/{challenge_id}")
def challenge_page(request: Request, session: SessionDep, account: AccountDep, challenge_id: str) -> Response:
    challenge = _own_challenge(session, account.user_id, challenge_id)
    now = time.time()
    state = "used" if challenge.used_at is not None else "expired" if challenge.expires_at <= now else "ready"
    context = {
        "state": state, "challenge": challenge, "turn_words": TURN_WORDS[challenge.turn],
        "seconds_left": max(0, int(challenge.expires_at - now)), "name": account.handle,
        "record_seconds": RECORD_SECONDS, "turn_at": TURN_AT_SECONDS,
        "existing": service.person_character(session, account.user_id),
    }
    return render(request, "enroll.html", context, session=session)


def _is_live(session: Session, user_id: str, challenge_id: str) -> bool:
    """Whether the challenge is this person's, unused and unexpired (consuming it is what settles it)."""
    challenge = session.get(EnrollmentChallenge, challenge_id)
    return (challenge is not None and challenge.user_id == user_id and challenge.used_at is None
            and challenge.expires_at > time.time())


def _ledger_hash(session: Session, user_id: str, challenge_id: str) -> str:
    """The ledger's name for the challenge answered; an unknown id is hashed as given."""
    known = session.get(EnrollmentChallenge, challenge_id)
    if known is not None and known.user_id == user_id:
        return service.challenge_hash(known)
    return hashlib.sha256(f"unknown:{user_id}:{challenge_id}".encode()).hexdigest()


def _answer(request: Request, session: Session, *, passed: bool, message: str, status_code: int,
            result: Result | None = None, character: Character | None = None) -> Response:
    checks = [{"name": c.name, "label": CHECK_LABELS[c.name], "passed": c.passed, "message": c.message}
              for c in (result.checks if result else ())]
    found = None if character is None else {"id": character.id, "name": character.name,
                                             "url": f"/characters/{character.id}"}
    if wants_json(request):
        return JSONResponse({"passed": passed, "message": message, "checks": checks, "character": found},
                            status_code=status_code)
    return render(request, "enroll.html", {"state": "result", "passed": passed, "message": message,
                                           "checks": checks, "character": found},
                  status_code=status_code, session=session)


@router.post("/characters/enroll/{challenge_id}", dependencies=[Csrf])
async def answer_challenge(
    request: Request, services: ServicesDep, session: SessionDep, account: AccountDep, challenge_id: str,
    recording: Annotated[UploadFile | None, File()] = None, name: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
) -> Response:
    user_id = account.user_id
    # Problems with the form itself leave a live challenge unspent: nothing was checked yet. An answer to
    # a spent (or unknown, or expired) challenge goes straight to being refused, whatever else it holds.
    if consent != "yes":
        return _answer(request, session, passed=False, status_code=400,
                       message="Tick the box to agree to becoming a character before you record.")
    clean_name, data = "", b""
    if _is_live(session, user_id, challenge_id):
        try:
            clean_name = service.check_name(session, name or account.handle, owner_id=user_id)
        except DomainError as error:
            return _answer(request, session, passed=False, message=error.message, status_code=400)
        data = await recording.read(MAX_RECORDING_BYTES + 1) if recording is not None else b""
        if not data:
            return _answer(request, session, passed=False, status_code=400,
                           message="No recording arrived; record again (the page needs your camera and microphone).")
        if len(data) > MAX_RECORDING_BYTES:
            return _answer(request, session, passed=False, status_code=413,
                           message=f"The recording is over {MAX_RECORDING_BYTES // (1024 * 1024)} MB; record "
                                   "only the challenge, about 10 seconds.")

    try:
        challenge = service.consume_challenge(session, user_id, challenge_id)
    except DomainError as error:
        service.record_consent(session, user_id=user_id, challenge_hash=_ledger_hash(session, user_id, challenge_id),
                               result="refused", detail=error.message)
        return _answer(request, session, passed=False, message=error.message, status_code=409)
    ledger_hash = service.challenge_hash(challenge)
    existing = service.person_character(session, user_id)
    if existing is not None:
        message = f"You are already enrolled as @{existing.name}; delete that character to enroll again."
        service.record_consent(session, user_id=user_id, challenge_hash=ledger_hash, result="refused", detail=message)
        return _answer(request, session, passed=False, message=message, status_code=409)
    asked = Challenge(challenge.digits, challenge.turn)

    try:
        result = await to_thread.run_sync(verify, data, asked)
    except RecordingError as error:
        service.record_consent(session, user_id=user_id, challenge_hash=ledger_hash, result="failed",
                               detail=f"recording: {error}")
        return _answer(request, session, passed=False, message=str(error), status_code=422)
    if not result.passed:
        failure = result.failure
        assert failure is not None
        service.record_consent(session, user_id=user_id, challenge_hash=ledger_hash, result="failed",
                               detail=f"{failure.name} failed; {result.summary()}")
        return _answer(request, session, passed=False, message=failure.message, status_code=422, result=result)

    def create() -> Character:
        assert result.still_png is not None and result.voice_wav is not None
        character = service.create_person_character(session, user_id=user_id, name=clean_name,
                                                    still_png=result.still_png, voice_wav=result.voice_wav,
                                                    storage=services.storage)
        # The recording the character was made from is kept as the evidence of consent; deleting the person
        # character erases it (the service purges this prefix).
        extension, media_type = ("mp4", "video/mp4") if is_mp4(data) else ("webm", "video/webm")
        services.storage.put_bytes(f"{service.enrollment_prefix(user_id)}{challenge.id}.{extension}", data,
                                   media_type)
        return character

    try:
        character = await to_thread.run_sync(create)
    except DomainError as error:
        session.rollback()
        service.record_consent(session, user_id=user_id, challenge_hash=ledger_hash, result="passed",
                               detail=f"no character made: {error.message}; {result.summary()}")
        return _answer(request, session, passed=False, message=error.message, status_code=409, result=result)
    service.record_consent(session, user_id=user_id, challenge_hash=ledger_hash, result="passed",
                           detail=f"character {character.id} @{character.name}; {result.summary()}")
    return _answer(request, session, passed=True, status_code=200, result=result, character=character,
                   message=f"You are enrolled: @{character.name} is ready.")

