"""The characters pages: yours, the ones you may use, and notices (/characters); designing a toy; a character's
card and, for its owner, who may use it, its rules and every video that shows it; and enrolling yourself
(/characters/enroll), a challenge page that records camera and microphone in the browser and the upload it
sends, checked offline for liveness before the person character is made."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.api.errors import status_for
from duetto.app.characters import (
    appearances,
    cards,
    enrollment,
    names,
    notices,
    permissions,
    rules,
    service,
)
from duetto.app.core.errors import DomainError, NotFound
from duetto.app.core.parsing import RowId, parse_whole
from duetto.app.db.models import CHARACTER_LEVELS, Character, EnrollmentChallenge
from duetto.app.flows import enroll as enroll_flow
from duetto.app.users import ages
from duetto.app.videos import service as videos
from duetto.app.web.deps import AccountDep, Csrf, ViewerDep, render, safe_next, wants_json
from duetto.app.web.media import serve_bytes
from duetto.characters.liveness import Result


class CharacterId(Convertor):
    """Matches only character ids, so other pages under /characters/ (the enrollment page's) stay reachable."""

    regex = "char_[0-9a-f]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("charid", CharacterId())
router = APIRouter(include_in_schema=False)


def _back(character_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/characters/{character_id}{anchor}", status_code=303)


def _list_page(request: Request, session: Session, account: AccountDep, *, status_code: int = 200,
               error: str | None = None, values: dict[str, str] | None = None) -> Response:
    notes = notices.notifications(session=session, user_id=account.user_id)
    unread = {n.id for n in notes if n.read_at is None}
    context = {
        "mine": service.characters_of(session=session, owner_id=account.user_id),
        "shared": permissions.usable_by(session=session, viewer_id=account.user_id),
        "notices": notes, "unread_ids": unread, "levels": permissions.LEVEL_LABELS,
        "birth_year": ages.birth_year(session=session, user_id=account.user_id),
        "error": error, "values": values or {},
    }
    response = render(request, "characters.html", context, status_code=status_code, session=session)
    if unread:
        notices.mark_read(session=session, user_id=account.user_id)  # seen once shown; the badge clears on the next page
    return response


@router.get("/characters")
def characters_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _list_page(request, session, account)


def _new_context(values: dict[str, str], session: Session, user_id: str) -> dict[str, Any]:
    return {"values": values, "choices": cards.choices(), "levels": permissions.LEVEL_LABELS,
            "birth_year": ages.birth_year(session=session, user_id=user_id)}


@router.get("/characters/new")
def new_toy_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    defaults = {"head_colour": "yellow", "hat": "purple", "eyes": "sleepy", "pitch": "high", "timbre": "soft",
                "permission": "only_me"}
    return render(request, "character_new.html", _new_context(defaults, session, account.user_id),
                  session=session)


@router.post("/characters/new", dependencies=[Csrf])
async def new_toy(
    request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
    name: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "",
    head_colour: Annotated[str, Form()] = "", hat: Annotated[str, Form()] = "none",
    eyes: Annotated[str, Form()] = "", pitch: Annotated[str, Form()] = "", timbre: Annotated[str, Form()] = "",
    permission: Annotated[str, Form()] = "only_me",
) -> Response:
    look = {"head_colour": head_colour, "hat": hat, "eyes": eyes, "pitch": pitch, "timbre": timbre}

    def create() -> Character:
        return service.create_toy_character(session=session, user_id=account.user_id, name=name, look=look,
                                            storage=services.storage, display_name=display_name,
                                            permission=permission)

    try:
        character = await to_thread.run_sync(create)
    except DomainError as error:
        session.rollback()
        values = {**look, "name": name, "display_name": display_name, "permission": permission}
        context = _new_context(values, session, account.user_id) | {"error": error.message}
        return render(request, "character_new.html", context, status_code=400, session=session)
    return RedirectResponse(f"/characters/{character.id}", status_code=303)


@router.post("/characters/birth-year", dependencies=[Csrf])
def set_birth_year(request: Request, session: SessionDep, account: AccountDep,
                   year: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/characters") -> Response:
    parsed = parse_whole(year)
    back = safe_next(next, "/characters")
    try:
        ages.declare_birth_year(session=session, user_id=account.user_id, year=-1 if parsed is None else parsed)
    except DomainError as error:
        # The page the form was on, with the reason beside it and the year as typed.
        session.rollback()
        status, values = status_for(error), {"year": year}
        found = _CHARACTER_PAGE.match(back)
        if found:
            character = service.owned_character(session=session, owner_id=account.user_id,
                                                character_id=found.group(1))
            return _page(request, session, character, account.user_id, status_code=status, error=error.message,
                         values=values)
        return _list_page(request, session, account, status_code=status, error=error.message, values=values)
    return RedirectResponse(back, status_code=303)


_CHARACTER_PAGE = re.compile(rf"^/characters/({CharacterId.regex})(?:[#?].*)?$")


def _page(request: Request, session: Session, character: Character, viewer_id: str, *, status_code: int = 200,
          error: str | None = None, values: dict[str, str] | None = None) -> Response:
    owner = character.owner_id == viewer_id
    context: dict[str, Any] = {"character": character, "owner": owner, "levels": permissions.LEVEL_LABELS,
                               "error": error, "values": values or {}}
    if owner:
        context |= {
            "approvals": permissions.approvals(session=session, character_id=character.id),
            "rules": rules.rules_of(session=session, character_id=character.id),
            "appearances": appearances.appearances(session=session, character_id=character.id),
            "birth_year": ages.birth_year(session=session, user_id=viewer_id),
            "forms_help": rules.FORMS_HELP,
        }
    return render(request, "character.html", context, status_code=status_code, session=session)


@router.get("/characters/{character_id:charid}")
def character_page(request: Request, session: SessionDep, account: AccountDep, character_id: str) -> Response:
    character = service.visible_character(session=session, viewer_id=account.user_id, character_id=character_id)
    return _page(request, session, character, account.user_id)


@router.get("/characters/{character_id:charid}/{variant}")
def character_file(request: Request, services: ServicesDep, session: SessionDep, viewer: ViewerDep,
                   character_id: str, variant: str) -> Response:
    files = {"still": ("still_key", "image/png"), "voice": ("voice_key", "audio/wav")}
    if variant not in files or viewer.user_id is None:
        raise NotFound("There is no page here.")
    character = service.visible_character(session=session, viewer_id=viewer.user_id, character_id=character_id)
    key = getattr(character, files[variant][0])
    if not key or not services.storage.exists(key):
        raise NotFound("This character has no such file.")
    return serve_bytes(request, services.storage.get_bytes(key), files[variant][1], cache="private, max-age=300")


@router.get("/characters/{character_id:charid}/videos/{video_id}/{variant}")
def appearance_file(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                    character_id: str, video_id: str, variant: str) -> Response:
    """A video that shows the owner's character, drafts of other people included: the owner may watch it."""
    character = service.owned_character(session=session, owner_id=account.user_id, character_id=character_id)
    video = appearances.appearance(session=session, character=character, video_id=video_id)
    if variant not in videos.VARIANTS:
        raise NotFound("There is no page here.")
    key, media_type = videos.content_key(session=session, storage=services.storage, video=video, variant=variant)
    return serve_bytes(request, services.storage.get_bytes(key), media_type, cache="private, max-age=300")


def _owner_action(request: Request, session: Session, account_id: str, character_id: str, action,  # noqa: ANN001
                  *, anchor: str = "", values: dict[str, str] | None = None) -> Response:
    """Run an owner's change; a refusal shows the page again with its message, nothing changed."""
    character = service.owned_character(session=session, owner_id=account_id, character_id=character_id)
    try:
        action(character)
    except DomainError as error:
        session.rollback()
        character = service.owned_character(session=session, owner_id=account_id, character_id=character_id)
        return _page(request, session, character, account_id, status_code=400, error=error.message, values=values)
    return _back(character_id, anchor)


@router.post("/characters/{character_id:charid}/permission", dependencies=[Csrf])
def set_permission(request: Request, session: SessionDep, account: AccountDep, character_id: str,
                   level: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: permissions.set_permission(session=session, character=c, level=level if level in CHARACTER_LEVELS else ""),
                         anchor="#who")


@router.post("/characters/{character_id:charid}/approve", dependencies=[Csrf])
def approve(request: Request, session: SessionDep, account: AccountDep, character_id: str,
            handle: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: permissions.approve(session=session, character=c, handle=handle), anchor="#who", values={"handle": handle})


@router.post("/characters/{character_id:charid}/revoke", dependencies=[Csrf])
def revoke(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep, character_id: str,
           handle: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: permissions.revoke(session=session, storage=services.storage, character=c, handle=handle), anchor="#who",
                         values={"handle": handle})


@router.post("/characters/{character_id:charid}/revoke-all", dependencies=[Csrf])
def revoke_all(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
               character_id: str) -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: permissions.revoke_everyone(session=session, storage=services.storage, character=c), anchor="#who")


@router.post("/characters/{character_id:charid}/rules", dependencies=[Csrf])
def add_rule(request: Request, session: SessionDep, account: AccountDep, character_id: str,
             rule: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: rules.add_rule(session=session, character=c, text=rule), anchor="#rules", values={"rule": rule})


@router.post("/characters/{character_id:charid}/rules/{rule_id}/delete", dependencies=[Csrf])
def delete_rule(request: Request, session: SessionDep, account: AccountDep, character_id: str,
                rule_id: RowId) -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: rules.delete_rule(session=session, character=c, rule_id=rule_id), anchor="#rules")


@router.post("/characters/{character_id:charid}/videos/{video_id}/delete", dependencies=[Csrf])
def delete_video(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                 character_id: str, video_id: str) -> Response:
    def remove(character: Character) -> None:
        appearances.delete_appearance(session=session, storage=services.storage, character=character, video_id=video_id)
        services.poll_cache.forget(video_id)

    return _owner_action(request, session, account.user_id, character_id, remove, anchor="#videos")


@router.post("/characters/{character_id:charid}/delete", dependencies=[Csrf])
def delete_character(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                     character_id: str, confirm: Annotated[str, Form()] = "",
                     take_down_posts: Annotated[str, Form()] = "") -> Response:
    character = service.owned_character(session=session, owner_id=account.user_id, character_id=character_id)
    if confirm.strip().lstrip("@").lower() != character.name:
        return _page(request, session, character, account.user_id, status_code=400,
                     error=f"Type @{character.name} to confirm; the character was not deleted.")
    service.delete_character(session=session, storage=services.storage, character=character, take_down_posts=bool(take_down_posts))
    return RedirectResponse("/characters", status_code=303)


# --- enrolling yourself ---------------------------------------------------------------------------------

RECORD_SECONDS = 10.0  # what the page records: the digits first, then the turn
TURN_AT_SECONDS = 5.5  # when the page switches from the digits to the turn
MAX_RECORDING_BYTES = 40 * 1024 * 1024  # ten seconds of camera video is a few MB
CHALLENGES_PER_HOUR = "20/hour"  # per user (WebLimits.enroll): each check costs seconds of CPU
CHECK_LABELS = {"face": "Face in view", "digits": "Digits read aloud", "turn": "Head turn", "sync": "Lips match voice"}
TURN_WORDS = {"left": "to your left", "right": "to your right"}
OUTCOME_STATUS = {"enrolled": 200, "refused": 409, "unreadable": 422, "failed": 422, "not_made": 409}


def _own_challenge(session: Session, user_id: str, challenge_id: str) -> EnrollmentChallenge:
    challenge = session.get(EnrollmentChallenge, challenge_id)
    if challenge is None or challenge.user_id != user_id:
        raise NotFound("There is no such enrollment challenge; start the enrollment again.")
    return challenge


@router.get("/characters/enroll")
def enroll_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    existing = enrollment.proven_person_character(session=session, user_id=account.user_id)
    return render(request, "enroll.html", {"state": "intro", "existing": existing}, session=session)


@router.post("/characters/enroll", dependencies=[Csrf])
def new_challenge(request: Request, session: SessionDep, account: AccountDep) -> Response:
    existing = enrollment.proven_person_character(session=session, user_id=account.user_id)
    if existing is not None:
        return render(request, "enroll.html", {"state": "intro", "existing": existing}, status_code=409,
                      session=session)
    request.app.state.web_limits.enroll.hit(account.user_id)
    challenge = enrollment.issue_challenge(session=session, user_id=account.user_id)
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
        "existing": enrollment.proven_person_character(session=session, user_id=account.user_id),
    }
    return render(request, "enroll.html", context, session=session)


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
    if enrollment.is_live(session=session, user_id=user_id, challenge_id=challenge_id):
        try:
            clean_name = names.check_name(session=session, name=name or account.handle, owner_id=user_id)
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

    outcome = await to_thread.run_sync(lambda: enroll_flow.enroll(
        session=session, storage=services.storage, user_id=user_id, challenge_id=challenge_id, name=clean_name,
        recording=data))
    return _answer(request, session, passed=outcome.status == "enrolled", message=outcome.message,
                   status_code=OUTCOME_STATUS[outcome.status], result=outcome.result, character=outcome.character)
