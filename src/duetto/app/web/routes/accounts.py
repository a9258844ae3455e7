"""Sign up, sign in, sign out, profile settings, account deletion, and avatars."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from duetto.app.api.deps import ServicesDep, SessionDep
from duetto.app.core.errors import DomainError, InvalidRequest, LimitExceeded, NotFound, Unauthorized
from duetto.app.core.parsing import parse_whole
from duetto.app.flows import accounts as account_flows
from duetto.app.users import accounts
from duetto.app.users import service as users
from duetto.app.users.handles import normalize_handle
from duetto.app.web.deps import (
    SESSION_COOKIE,
    AccountDep,
    Csrf,
    Viewer,
    ViewerDep,
    client_address,
    cookie_secure,
    limited,
    render,
    safe_next,
)

router = APIRouter(include_in_schema=False)


def _signed_in(request: Request, token: str, next_url: str, days: float) -> Response:
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=cookie_secure(request),
                        max_age=int(days * 86400), path="/")
    return response


@router.get("/signup")
def signup_page(request: Request, viewer: ViewerDep, next: str = "/") -> Response:  # noqa: A002 - the query name
    if viewer.account:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "signup.html", {"next": safe_next(next), "form": {}})


@router.post("/signup", dependencies=[Csrf])
async def signup(
    request: Request, services: ServicesDep, session: SessionDep, handle: Annotated[str, Form()],
    password: Annotated[str, Form()], display_name: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",  # noqa: A002
    birth_year: Annotated[str, Form()] = "",
) -> Response:
    context = {"form": {"handle": handle, "display_name": display_name, "birth_year": birth_year},
               "next": safe_next(next)}
    try:
        # Asked of everyone: a teen's account starts with the teen defaults (docs/app.md, "Teen accounts").
        year = parse_whole(birth_year)
        if year is None:
            raise InvalidRequest("Type the year you were born, e.g. 1990; teen accounts get safer defaults.",
                                 param="birth_year")
        request.app.state.web_limits.signup.hit(client_address(request))

        def create() -> str:
            account_flows.sign_up(session=session, handle=handle, password=password, display_name=display_name,
                                  birth_year=year)
            return accounts.sign_in(session=session, handle=handle, password=password,
                                    days=services.settings.web_session_days).token

        # Argon2 takes tens of milliseconds of CPU: off the event loop.
        token = await to_thread.run_sync(create)
    except LimitExceeded as error:
        error.message = f"Too many new accounts from this address; try again in {error.retry_after} seconds."
        return limited(request, "signup.html", context, error)
    except DomainError as error:
        return render(request, "signup.html", {**context, "error": error.message}, status_code=400)
    return _signed_in(request, token, next, services.settings.web_session_days)


@router.get("/signin")
def signin_page(request: Request, viewer: ViewerDep, next: str = "/") -> Response:  # noqa: A002
    if viewer.account:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "signin.html", {"next": safe_next(next), "form": {}})


@router.post("/signin", dependencies=[Csrf])
async def signin(
    request: Request, services: ServicesDep, session: SessionDep, handle: Annotated[str, Form()],
    password: Annotated[str, Form()], next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    """Sign in. Attempts count per address; wrong passwords count per handle *and* address, and only they do,
    so someone failing on purpose for a handle slows down themselves, never the handle's owner elsewhere."""
    limits = request.app.state.web_limits
    address = client_address(request)
    failures = f"{normalize_handle(handle)}|{address}"
    context = {"form": {"handle": handle}, "next": safe_next(next)}
    try:
        limits.signin.hit(address)
        limits.signin_failures.check(failures)
        try:
            signed = await to_thread.run_sync(lambda: accounts.sign_in(
                session=session, handle=handle, password=password, days=services.settings.web_session_days))
        except Unauthorized:
            limits.signin_failures.hit(failures)
            raise
    except LimitExceeded as error:
        error.message = f"Too many sign-in attempts; try again in {error.retry_after} seconds."
        return limited(request, "signin.html", context, error)
    except DomainError as error:
        return render(request, "signin.html", {**context, "error": error.message}, status_code=400)
    return _signed_in(request, signed.token, next, services.settings.web_session_days)


@router.post("/signout", dependencies=[Csrf])
def signout(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    if viewer.token:
        accounts.end_session(session=session, token=viewer.token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/settings")
def settings_index() -> Response:
    return RedirectResponse("/settings/profile", status_code=303)


@router.get("/settings/profile")
def profile_page(request: Request, account: AccountDep, session: SessionDep) -> Response:
    return render(request, "settings_profile.html", {"account": account}, session=session)


@router.post("/settings/profile", dependencies=[Csrf])
async def update_profile(
    request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
    display_name: Annotated[str, Form()], bio: Annotated[str, Form()] = "",
    avatar: Annotated[UploadFile | None, File()] = None,
) -> Response:
    data = await avatar.read() if avatar is not None and avatar.filename else None
    try:
        await to_thread.run_sync(lambda: accounts.update_profile(
            session=session, storage=services.storage, account=account, display_name=display_name, bio=bio,
            avatar=data))
    except DomainError as error:
        session.rollback()
        # What was typed stays in the form; the stored profile is unchanged.
        form = {"display_name": display_name, "bio": bio}
        return render(request, "settings_profile.html", {"account": account, "error": error.message, "form": form},
                      status_code=400, session=session)
    return RedirectResponse(f"/@{account.handle}", status_code=303)


def _account_page(request: Request, session: SessionDep, account: AccountDep, *, status_code: int = 200,
                  error: str | None = None) -> Response:
    keys = users.list_api_keys(session=session, user_id=account.user_id)
    return render(request, "settings_account.html", {"account": account, "keys": keys, "error": error},
                  status_code=status_code, session=session)


@router.get("/settings/account")
def account_page(request: Request, account: AccountDep, session: SessionDep) -> Response:
    return _account_page(request, session, account)


@router.post("/settings/account/keys/{key_id}/revoke", dependencies=[Csrf])
def revoke_key(key_id: str, session: SessionDep, account: AccountDep) -> Response:
    """Revoke one of the viewer's API keys; it is refused from its next request on."""
    users.revoke_api_key(session=session, key_id=key_id, user_id=account.user_id)
    session.commit()
    return RedirectResponse("/settings/account#keys", status_code=303)


@router.post("/settings/account/delete", dependencies=[Csrf])
async def delete_account(
    request: Request, services: ServicesDep, session: SessionDep, account: AccountDep,
    password: Annotated[str, Form()], confirm: Annotated[str, Form()] = "",
) -> Response:
    try:
        if confirm.strip().lstrip("@").lower() != account.handle:
            raise InvalidRequest(f"Type your handle ({account.handle}) to confirm.", param="confirm")
        await to_thread.run_sync(lambda: account_flows.delete_account(
            session=session, storage=services.storage, account=account, password=password))
    except DomainError as error:
        session.rollback()
        return _account_page(request, session, account, status_code=400, error=error.message)
    request.state.viewer = Viewer(account=None, token=None, anon=None)
    response = render(request, "goodbye.html", {})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/avatars/{user_id}/{name}")
def avatar(user_id: str, name: str, services: ServicesDep) -> Response:
    key = f"avatars/{user_id}/{name}"
    if "/" in name or ".." in name or not name.endswith(".webp") or not services.storage.exists(key):
        raise NotFound("No such picture.")
    # The name changes with every upload, so the picture can be cached for good.
    return Response(services.storage.get_bytes(key), media_type="image/webp",
                    headers={"cache-control": "public, max-age=31536000, immutable"})
