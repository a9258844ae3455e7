"""Reading a request body that may be JSON or multipart (OpenAI's SDK sends multipart), uploads included."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from duetto.app.core.errors import PayloadTooLarge, UnsupportedMediaType
from duetto.app.core.parsing import parse_json_object


def _nest(fields: dict[str, Any], key: str, value: Any) -> None:
    # Multipart clients spell nested objects with brackets: `video[id]=...`.
    if "[" in key and key.endswith("]"):
        outer, _, inner = key[:-1].partition("[")
        target = fields.setdefault(outer, {})
        if isinstance(target, dict):
            target[inner] = value
            return
    fields[key] = value


async def read_body(request: Request, *, max_upload_bytes: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The body's fields and its uploaded files' bytes, whichever encoding the client used."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return parse_json_object(await request.body()), {}
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_part_size=max_upload_bytes)
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(max_upload_bytes + 1)
                if len(data) > max_upload_bytes:
                    raise PayloadTooLarge(f"{key} is larger than the {max_upload_bytes} byte upload limit.", param=key)
                files[key.removesuffix("[]")] = data
            else:
                _nest(fields, key, value)
        return fields, files
    raise UnsupportedMediaType(
        f"Content-Type {content_type or '(none)'} is not supported; send application/json or multipart/form-data."
    )
