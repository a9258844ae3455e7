"""`/v1/models`: the model names this server accepts, in OpenAI's list shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from duetto.app.api.deps import CurrentUser, ServicesDep
from duetto.app.api.openapi import ERRORS

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERRORS)


@router.get("")
def list_models(services: ServicesDep, _user: CurrentUser) -> dict[str, Any]:
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "duetto"} for name in services.catalog.names()]
    return {"object": "list", "data": data}
