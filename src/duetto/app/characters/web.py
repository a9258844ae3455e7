"""The characters pages: your characters and notices, a new toy, and a character's page, where its owner sets
who may use it, writes its rules, sees and deletes every video that shows it, and deletes it."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.characters import cards, service
from duetto.app.characters.models import LEVELS, Character
from duetto.app.core.errors import DomainError, NotFound
from duetto.app.core.parsing import RowId, parse_whole
from duetto.app.videos import service as videos
from duetto.app.web.deps import AccountDep, Csrf, ViewerDep, render, safe_next, templates
from duetto.app.web.media import serve_bytes


class CharacterId(Convertor):
    """Matches only character ids, so other pages under /characters/ (the enrollment page's) stay reachable."""

    regex = "char_[0-9a-f]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("charid", CharacterId())
router = APIRouter(include_in_schema=False)


def _notice_count(request: Request) -> int:
    """Unread character notices of the signed-in viewer, for the badge in the navigation."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None or viewer.account is None:
        return 0
    with request.app.state.services.sessions() as session:
        return service.unread_count(session, viewer.account.user_id)


templates.env.globals["character_notices"] = _notice_count


def _back(character_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/characters/{character_id}{anchor}", status_code=303)


@router.get("/characters")
def characters_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    notices = service.notifications(session, account.user_id)
    unread = {n.id for n in notices if n.read_at is None}
    context = {
        "mine": service.characters_of(session, account.user_id),
        "shared": service.usable_by(session, account.user_id),
        "notices": notices, "unread_ids": unread, "levels": service.LEVEL_LABELS,
        "birth_year": service.birth_year(session, account.user_id),
    }
    response = render(request, "characters.html", context, session=session)
    if unread:
        service.mark_read(session, account.user_id)  # seen once shown; the badge clears on the next page
    return response


def _new_context(values: dict[str, str], session: Session, user_id: str) -> dict[str, Any]:
    return {"values": values, "choices": cards.choices(), "levels": service.LEVEL_LABELS,
            "birth_year": service.birth_year(session, user_id)}


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
        return service.create_toy_character(session, user_id=account.user_id, name=name, look=look,
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
    service.declare_birth_year(session, account.user_id, -1 if parsed is None else parsed)
    return RedirectResponse(safe_next(next, "/characters"), status_code=303)


def _page(request: Request, session: Session, character: Character, viewer_id: str, *, status_code: int = 200,
          error: str | None = None, values: dict[str, str] | None = None) -> Response:
    owner = character.owner_id == viewer_id
    context: dict[str, Any] = {"character": character, "owner": owner, "levels": service.LEVEL_LABELS,
                               "error": error, "values": values or {}}
    if owner:
        context |= {
            "approvals": service.approvals(session, character.id),
            "rules": service.rules_of(session, character.id),
            "appearances": service.appearances(session, character.id),
            "birth_year": service.birth_year(session, viewer_id),
            "forms_help": service.rules_grammar.FORMS_HELP,
        }
    return render(request, "character.html", context, status_code=status_code, session=session)


@router.get("/characters/{character_id:charid}")
def character_page(request: Request, session: SessionDep, account: AccountDep, character_id: str) -> Response:
    character = service.visible_character(session, account.user_id, character_id)
    return _page(request, session, character, account.user_id)


@router.get("/characters/{character_id:charid}/{variant}")
def character_file(request: Request, services: ServicesDep, session: SessionDep, viewer: ViewerDep,
                   character_id: str, variant: str) -> Response:
    files = {"still": ("still_key", "image/png"), "voice": ("voice_key", "audio/wav")}
    if variant not in files or viewer.user_id is None:
        raise NotFound("There is no page here.")
    character = service.visible_character(session, viewer.user_id, character_id)
    key = getattr(character, files[variant][0])
    if not key or not services.storage.exists(key):
        raise NotFound("This character has no such file.")
    return serve_bytes(request, services.storage.get_bytes(key), files[variant][1], cache="private, max-age=300")


@router.get("/characters/{character_id:charid}/videos/{video_id}/{variant}")
def appearance_file(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                    character_id: str, video_id: str, variant: str) -> Response:
    """A video that shows the owner's character, drafts of other people included: the owner may watch it."""
    character = service.owned_character(session, account.user_id, character_id)
    video = service.appearance(session, character, video_id)
    if variant not in videos.VARIANTS:
        raise NotFound("There is no page here.")
    key, media_type = videos.content_key(session=session, storage=services.storage, video=video, variant=variant)
    return serve_bytes(request, services.storage.get_bytes(key), media_type, cache="private, max-age=300")


def _owner_action(request: Request, session: Session, account_id: str, character_id: str, action,  # noqa: ANN001
                  *, anchor: str = "", values: dict[str, str] | None = None) -> Response:
    """Run an owner's change; a refusal shows the page again with its message, nothing changed."""
    character = service.owned_character(session, account_id, character_id)
    try:
        action(character)
    except DomainError as error:
        session.rollback()
        character = service.owned_character(session, account_id, character_id)
        return _page(request, session, character, account_id, status_code=400, error=error.message, values=values)
    return _back(character_id, anchor)


@router.post("/characters/{character_id:charid}/permission", dependencies=[Csrf])
def set_permission(request: Request, session: SessionDep, account: AccountDep, character_id: str,
                   level: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: service.set_permission(session, c, level if level in LEVELS else ""),
                         anchor="#who")


@router.post("/characters/{character_id:charid}/approve", dependencies=[Csrf])
def approve(request: Request, session: SessionDep, account: AccountDep, character_id: str,
            handle: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: service.approve(session, c, handle), anchor="#who", values={"handle": handle})


@router.post("/characters/{character_id:charid}/revoke", dependencies=[Csrf])
def revoke(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep, character_id: str,
           handle: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: service.revoke(session, services.storage, c, handle), anchor="#who",
                         values={"handle": handle})


@router.post("/characters/{character_id:charid}/revoke-all", dependencies=[Csrf])
def revoke_all(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
               character_id: str) -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: service.revoke_everyone(session, services.storage, c), anchor="#who")


@router.post("/characters/{character_id:charid}/rules", dependencies=[Csrf])
def add_rule(request: Request, session: SessionDep, account: AccountDep, character_id: str,
             rule: Annotated[str, Form()] = "") -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: service.add_rule(session, c, rule), anchor="#rules", values={"rule": rule})


@router.post("/characters/{character_id:charid}/rules/{rule_id}/delete", dependencies=[Csrf])
def delete_rule(request: Request, session: SessionDep, account: AccountDep, character_id: str,
                rule_id: RowId) -> Response:
    return _owner_action(request, session, account.user_id, character_id,
                         lambda c: service.delete_rule(session, c, rule_id), anchor="#rules")


@router.post("/characters/{character_id:charid}/videos/{video_id}/delete", dependencies=[Csrf])
def delete_video(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                 character_id: str, video_id: str) -> Response:
    def remove(character: Character) -> None:
        service.delete_appearance(session, services.storage, character, video_id)
        services.poll_cache.forget(video_id)

    return _owner_action(request, session, account.user_id, character_id, remove, anchor="#videos")


@router.post("/characters/{character_id:charid}/delete", dependencies=[Csrf])
def delete_character(request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
                     character_id: str, confirm: Annotated[str, Form()] = "",
                     take_down_posts: Annotated[str, Form()] = "") -> Response:
    character = service.owned_character(session, account.user_id, character_id)
    if confirm.strip().lstrip("@").lower() != character.name:
        return _page(request, session, character, account.user_id, status_code=400,
                     error=f"Type @{character.name} to confirm; the character was not deleted.")
    service.delete_character(session, services.storage, character, take_down_posts=bool(take_down_posts))
    return RedirectResponse("/characters", status_code=303)
