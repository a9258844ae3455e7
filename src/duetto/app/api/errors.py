"""Turning domain errors and framework errors into OpenAI-shaped error bodies with the right status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from duetto.app.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)

STATUS = {
    InvalidRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    LimitExceeded: 429,
}


def error_body(message: str, *, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def status_for(exc: DomainError) -> int:
    """The HTTP status of a domain error (400 for kinds without their own)."""
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


def domain_error_response(exc: DomainError) -> JSONResponse:
    status = status_for(exc)
    headers = {}
    type_ = "invalid_request_error"
    if isinstance(exc, LimitExceeded):
        headers["Retry-After"] = str(exc.retry_after)
        type_ = "insufficient_quota" if exc.code == "quota_exceeded" else "rate_limit_error"
    if isinstance(exc, Unauthorized):
        type_ = "authentication_error"
    return JSONResponse(
        error_body(exc.message, type_=type_, code=exc.code, param=exc.param), status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = f"Invalid {param}: {first.get('msg')}." if param else f"Invalid request: {first.get('msg')}."
        return JSONResponse(error_body(message, type_="invalid_request_error", code="invalid_value", param=param), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code)
        return JSONResponse(
            error_body(message, type_="invalid_request_error", code=code), exc.status_code, headers=exc.headers
        )
