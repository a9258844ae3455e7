"""An ASGI middleware that refuses request bodies over the upload limit before reading them whole."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Multipart framing and the other form fields ride on top of the file itself.
FRAMING_SLACK = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from inside a body read that passed the limit (a chunked upload declares no length). An
    HTTPException, because FastAPI re-raises those from form parsing where it turns anything else into a
    400 "error parsing the body"; the API and the pages answer it as 413."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=413, detail=message)


class UploadLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, by_path: dict[str, int] | None = None) -> None:
        """`by_path` gives paths a limit of their own (a library archive is far larger than a clip)."""
        self.app = app
        self.max_bytes = max_bytes + FRAMING_SLACK
        self.by_path = {path: limit + FRAMING_SLACK for path, limit in (by_path or {}).items()}

    @staticmethod
    def _message(limit: int) -> str:
        return f"The request body is larger than the {limit - FRAMING_SLACK} byte upload limit; send a smaller file."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the route's body read, so the app's error handlers answer 413.
                    raise BodyTooLarge(self._message(limit))
            return message

        await self.app(scope, counting_receive, send)

    async def _reject(self, send: Send, limit: int) -> None:
        body = json.dumps(
            {"error": {"message": self._message(limit), "type": "invalid_request_error", "param": None,
                       "code": "payload_too_large"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
