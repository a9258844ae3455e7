"""Errors the services raise; the API layer maps each kind to an HTTP status and an OpenAI-shaped body."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller caused or must handle, with a one-line message that says what to do."""

    code: str = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(DomainError):
    code = "invalid_value"


class NotFound(DomainError):
    code = "not_found"


class Unauthorized(DomainError):
    code = "invalid_api_key"


class Forbidden(DomainError):
    """The caller is known but may not do this (a block, someone else's content, not a moderator)."""

    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class Gone(DomainError):
    """What was asked for existed and was removed on schedule (an expired export)."""

    code = "gone"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class LimitExceeded(DomainError):
    """A quota or rate limit; `retry_after` says in how many seconds trying again can succeed."""

    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))
