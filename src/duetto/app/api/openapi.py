"""The OpenAPI description of what FastAPI cannot see by itself: request bodies that routes read themselves
(JSON or multipart), the error responses every route may give, and the bearer key they all need."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`."""

    error: ErrorDetail


_ERROR_TEXTS = {
    400: "Invalid input: the message says which field and what to send",
    401: "No API key, or an unknown or revoked one",
    403: "A character the caller may not use, or whose owner's rule refuses the prompt",
    404: "An unknown id, someone else's, a deleted or held video, content of an unfinished one",
    409: "An idempotency key reused with different parameters, a name already taken, or a library export or "
         "import already running",
    410: "A library export whose archive expired",
    413: "A body or an upload over the upload limit, or an image with too many pixels",
    415: "An upload that is not the media it must be, or a body that is neither JSON nor multipart",
    429: "The daily quota is spent or too many requests; Retry-After gives the seconds to wait",
}
#: The error responses of every /v1 route, for `APIRouter(responses=...)`.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in _ERROR_TEXTS.items()
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


# The models `request_body` named, added to the schema's components by `install`.
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def request_body(json: type[BaseModel], multipart: type[BaseModel] | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself: the JSON shape, and the multipart one (which
    OpenAI's SDK sends) when it differs."""
    multipart = multipart or json
    _BODY_MODELS.update({json.__name__: json, multipart.__name__: multipart})
    content = {"application/json": {"schema": _ref(json)}, "multipart/form-data": {"schema": _ref(multipart)}}
    return {"requestBody": {"required": True, "content": content}}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` add the self-read request bodies' models, the bearer security scheme, and drop
    FastAPI's 422 responses: this server answers invalid input with 400 and an OpenAI-shaped error."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {})
        models = components.setdefault("schemas", {})
        for name, model in _BODY_MODELS.items():
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            models.update(found.pop("$defs", {}))
            models[name] = found
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
                if path.startswith("/v1"):
                    operation["security"] = [{"apiKey": []}]
        for name in ("HTTPValidationError", "ValidationError"):
            models.pop(name, None)
        components["securitySchemes"] = {"apiKey": {
            "type": "http", "scheme": "bearer", "description": "An API key from `duetto keys create <user>`"}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
