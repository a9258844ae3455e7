"""Mounting the web app on the FastAPI app: routers, static files, HTML error pages, security headers."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duetto.app.api.errors import domain_error_response, status_for
from duetto.app.core.config import Settings
from duetto.app.core.errors import (
    DomainError,
    LimitExceeded,
)
from duetto.app.infra.limits import RateLimiter
from duetto.app.web.deps import CsrfFailed, SignInRequired, render, secret_key, signin_url, wants_json
from duetto.app.web.routes import (
    accounts,
    characters,
    feed,
    library,
    messages,
    moderation,
    people,
    posts,
    provenance,
    stories,
    studio,
    wellbeing,
)
from duetto.app.web.templating import make_templates

_API_PATHS = ("/v1", "/healthz", "/openapi.json", "/docs", "/redoc")
# Pages load only this site's own scripts, styles and media; nothing may frame them.
_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


@dataclass(frozen=True)
class WebLimits:
    signin: RateLimiter  # sign-in attempts per client address
    signin_failures: RateLimiter  # wrong passwords per (handle, client address)
    signup: RateLimiter  # per client address
    enroll: RateLimiter  # liveness challenges, per user
    takedown: RateLimiter  # takedown requests per client address


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(_API_PATHS)


def error_page(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def install_web(app: FastAPI, settings: Settings) -> None:
    """Add the pages to an app whose API error handlers are already installed (they keep /v1 paths)."""
    app.state.web_secret = secret_key(settings)
    app.state.templates = make_templates()
    app.state.web_limits = WebLimits(
        signin=RateLimiter(settings.web_signin_rate, storage_uri=settings.resolved_rate_limit_storage),
        signin_failures=RateLimiter(settings.web_signin_failures, storage_uri=settings.resolved_rate_limit_storage),
        signup=RateLimiter(settings.web_signup_rate, storage_uri=settings.resolved_rate_limit_storage),
        enroll=RateLimiter(characters.CHALLENGES_PER_HOUR, storage_uri=settings.resolved_rate_limit_storage),
        takedown=RateLimiter(settings.web_takedown_rate, storage_uri=settings.resolved_rate_limit_storage),
    )
    app.mount("/static", StaticFiles(directory=str(resources.files("duetto.app.web") / "static")), name="static")
    favicon = (resources.files("duetto.app.web") / "static" / "favicon.ico").read_bytes()

    # Browsers ask every site for /favicon.ico on their own; answering it keeps a 404 out of every page load.
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon_ico() -> Response:
        return Response(favicon, media_type="image/x-icon", headers={"cache-control": "public, max-age=86400"})

    # Each domain's pages in one module. /characters/enroll is declared with the other /characters pages, and
    # their character pages match only character ids, so neither shadows the other.
    for module in (feed, accounts, library, studio, stories, posts, people, messages, moderation, characters,
                   provenance, wellbeing):
        app.include_router(module.router)

    api_http = app.exception_handlers.get(StarletteHTTPException)
    api_validation = app.exception_handlers.get(RequestValidationError)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if _is_api(request):
            return domain_error_response(exc)
        response = error_page(request, status_for(exc), exc.message)
        if isinstance(exc, LimitExceeded):
            response.headers["retry-after"] = str(exc.retry_after)
        return response

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "Sign in first."}, status_code=401)
        return RedirectResponse(signin_url(exc.next_url), status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        return error_page(request, 403, "This form expired or came from another site; reload the page and try again.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) and api_http is not None:
            return await api_http(request, exc)  # type: ignore[misc]
        texts = {404: "There is no page here.", 405: "That page cannot be used this way."}
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in texts else None
        return error_page(request, exc.status_code, detail or texts.get(exc.status_code, "Request failed."))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request) and api_validation is not None:
            return await api_validation(request, exc)  # type: ignore[misc]
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "form"
        return error_page(request, 400, f"Check the {field} field: {first.get('msg', 'it is invalid')}.")

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Adds the pages' security headers (a plain ASGI middleware, so streamed responses pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_API_PATHS):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", _CSP)
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
