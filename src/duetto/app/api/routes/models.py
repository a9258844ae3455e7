"""`/v1/models`: the model names this server accepts, in OpenAI's list shape, what each allows, and how long a
prompt is for one of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from duetto.app.api.deps import CurrentUser, ServicesDep
from duetto.app.api.openapi import ERRORS
from duetto.app.core.errors import NotFound
from duetto.app.videos import prompt_format
from duetto.app.videos.catalog import ModelInfo

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERRORS)


class CountTokens(BaseModel):
    """A prompt to measure, with its optional sound description (stored after `Audio:`, as the job would)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(max_length=100_000)
    audio_prompt: str | None = Field(default=None, max_length=100_000)


class TokenCount(BaseModel):
    object: str = "model.token_count"
    model: str
    tokens: int | None = Field(description="null when this server cannot count for the model (no tokenizer.json)")
    max_tokens: int
    fits: bool


def _model(services: Any, model: str) -> ModelInfo:
    if model not in services.catalog.names():
        raise NotFound(f"No model {model!r}; GET /v1/models lists the models there are.", param="model")
    return services.catalog.get(model)


def _describe(info: ModelInfo) -> dict[str, Any]:
    return {"id": info.name, "object": "model", "created": 0, "owned_by": "duetto",
            "sizes": list(info.sizes), "seconds": list(info.seconds_choices), "max_prompt_tokens": info.max_prompt_tokens}


@router.get("")
def list_models(services: ServicesDep, _user: CurrentUser) -> dict[str, Any]:
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "duetto"} for name in services.catalog.names()]
    return {"object": "list", "data": data}


@router.get("/{model}")
def retrieve_model(model: str, services: ServicesDep, _user: CurrentUser) -> dict[str, Any]:
    """One model, with what it allows: sizes, lengths and the text encoder's limit in tokens."""
    return _describe(_model(services, model))


@router.post("/{model}/tokens", response_model=TokenCount)
def count_tokens(model: str, body: CountTokens, services: ServicesDep, _user: CurrentUser) -> TokenCount:
    """How many of the model's `max_prompt_tokens` a prompt uses, counted from its tokenizer file alone."""
    info = _model(services, model)
    count = info.count_tokens(prompt_format.compose(body.prompt, body.audio_prompt))
    return TokenCount(model=info.name, tokens=count, max_tokens=info.max_prompt_tokens,
                      fits=count is None or count <= info.max_prompt_tokens)
