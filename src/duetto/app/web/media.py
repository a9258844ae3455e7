"""Sending media to browsers: byte ranges (video elements seek with them)."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response

# ASCII digits only: \d also matches "²", which int() refuses.
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)$")


def serve_bytes(request: Request, data: bytes, media_type: str, *, cache: str) -> Response:
    """The whole file, or the one byte range a `Range` header asks for (206), as browsers expect for video."""
    headers = {"accept-ranges": "bytes", "cache-control": cache}
    size = len(data)
    match = _RANGE.match(request.headers.get("range", "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        return Response(data, media_type=media_type, headers=headers)
    if match.group(1):
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    else:  # a suffix range: the last N bytes
        start, end = max(0, size - int(match.group(2))), size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={"content-range": f"bytes */{size}", **headers})
    headers["content-range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start:end + 1], status_code=206, media_type=media_type, headers=headers)
