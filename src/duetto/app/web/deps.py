"""What every page needs: the signed-in viewer from the session cookie, CSRF tokens, and rendering (with the
app's templates, see `web.templating`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from duetto.app.api.deps import Services, ServicesDep, SessionDep
from duetto.app.core.config import Settings
from duetto.app.core.errors import LimitExceeded
from duetto.app.db.models import Account, User
from duetto.app.social import messages
from duetto.app.users import accounts

SESSION_COOKIE = "duetto_session"
ANON_COOKIE = "duetto_anon"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

class SignInRequired(Exception):
    """The page needs a signed-in viewer; the handler sends the browser to sign in and come back."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfFailed(Exception):
    """A state-changing request without the page's CSRF token (or from another site)."""


def secret_key(settings: Settings) -> bytes:
    """The key that signs CSRF tokens: the setting, or a random key made once and kept in data_dir."""
    if settings.web_secret_key:
        return settings.web_secret_key.encode()
    path = Path(settings.data_dir) / "web_secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created exclusively so two server processes starting together agree on one key.
        try:
            with open(path, "x") as handle:
                handle.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text().strip().encode()


@dataclass
class Viewer:
    """The person looking at a page: an account and its browser session, or nobody."""

    account: Account | None
    token: str | None  # session cookie value, when signed in
    anon: str | None  # the anonymous visitor's cookie value, binding their CSRF token
    is_admin: bool = False
    new_anon: bool = False  # the anonymous cookie must be set on the response

    @property
    def user_id(self) -> str | None:
        return self.account.user_id if self.account else None


def _csrf_for(key: bytes, binding: str) -> str:
    return hmac.new(key, f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request, viewer: Viewer) -> str:
    binding = viewer.token or viewer.anon or ""
    return _csrf_for(request.app.state.web_secret, binding)


def is_admin(settings: Settings, account: Account | None) -> bool:
    """Moderators: accounts given the role (`duetto users create NAME --password --moderator`), and the handles
    in DUETTO_ADMIN_HANDLES."""
    if account is None:
        return False
    if account.is_moderator:
        return True
    admins = {h.strip().lstrip("@").lower() for h in settings.admin_handles.split(",") if h.strip()}
    return account.handle in admins


async def get_viewer(request: Request, services: ServicesDep) -> Viewer:
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    account = None
    if token:
        with services.sessions() as session:
            account = accounts.account_for_session(session=session, token=token)
    anon = request.cookies.get(ANON_COOKIE)
    viewer = Viewer(account=account, token=token if account else None, anon=anon,
                    is_admin=is_admin(services.settings, account))
    if account is None and not anon:
        viewer.anon, viewer.new_anon = secrets.token_urlsafe(24), True
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def _next_url(request: Request) -> str:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return target


async def require_account(request: Request, viewer: ViewerDep) -> Account:
    if viewer.account is None:
        # After signing in, a form's sender goes back to the page the form was on.
        back = _next_url(request) if request.method == "GET" else urlsplit(request.headers.get("referer", "/")).path
        raise SignInRequired(back or "/")
    return viewer.account


AccountDep = Annotated[Account, Depends(require_account)]


async def get_user(account: AccountDep, session: SessionDep) -> User:
    return accounts.get_user(session=session, account=account)


UserDep = Annotated[User, Depends(get_user)]


def _same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin, else Referer)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return True  # not a browser, or one that sends neither: the token alone decides
    if origin == "null":
        return False  # sandboxed frames and some cross-site redirects
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


async def check_csrf(request: Request, viewer: ViewerDep) -> None:
    """Every state-changing request carries the token of the page it came from, and comes from this site."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    expected = csrf_token(request, viewer)
    if not sent or not hmac.compare_digest(sent, expected) or not _same_origin(request):
        raise CsrfFailed()


Csrf = Depends(check_csrf)


def client_address(request: Request) -> str:
    """The address limits count per (the peer; behind a proxy, run uvicorn with --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def limited(request: Request, name: str, context: dict[str, Any], error: LimitExceeded) -> HTMLResponse:
    """A form page again, with what was typed, answering 429 with the seconds to wait in Retry-After."""
    response = render(request, name, {**context, "error": error.message}, status_code=429)
    response.headers["retry-after"] = str(error.retry_after)
    return response


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to: never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def signin_url(next_url: str) -> str:
    return "/signin?next=" + quote(safe_next(next_url), safe="/")


def set_anon_cookie(request: Request, response: Response, viewer: Viewer) -> None:
    if viewer.new_anon and viewer.anon:
        response.set_cookie(ANON_COOKIE, viewer.anon, httponly=True, samesite="lax", secure=cookie_secure(request),
                            max_age=30 * 86400, path="/")


def cookie_secure(request: Request) -> bool:
    setting = request.app.state.services.settings.web_cookie_secure
    if setting is not None:
        return setting
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           session: Session | None = None) -> HTMLResponse:
    """A page from a template, with the viewer, their CSRF token and their unread count filled in."""
    viewer: Viewer = getattr(request.state, "viewer", None) or Viewer(account=None, token=None, anon=None)
    services: Services = request.app.state.services
    unread = 0
    if viewer.account is not None:
        if session is not None:
            unread = messages.unread_count(session=session, viewer_id=viewer.account.user_id)
        else:
            with services.sessions() as own:
                unread = messages.unread_count(session=own, viewer_id=viewer.account.user_id)
    values = {"request": request, "viewer": viewer, "me": viewer.account, "csrf": csrf_token(request, viewer),
              "unread": unread, **(context or {})}
    response = request.app.state.templates.TemplateResponse(request, name, values, status_code=status_code)
    set_anon_cookie(request, response, viewer)
    # Pages show private data (drafts, DMs): shared caches must not keep them, nor other sites frame them.
    response.headers["cache-control"] = "no-store"
    return response
