"""The library archive's format: one zip with `manifest.json` (versioned, checked by the JSON Schema beside this
module and documented in docs/export.md) and the media under `media/`. Writer and reader share these names."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

FORMAT = "duetto-library"
VERSION = 1
MANIFEST = "manifest.json"
MEDIA_TYPES = {"video/mp4": ".mp4", "image/webp": ".webp", "image/png": ".png", "image/jpeg": ".jpg",
               "audio/wav": ".wav"}


@functools.cache
def schema() -> dict[str, Any]:
    """The manifest's JSON Schema (draft 2020-12)."""
    return json.loads(resources.files(__package__).joinpath("manifest.schema.json").read_text())


def schema_errors(manifest: object, *, limit: int = 3) -> list[str]:
    """Where the manifest breaks the schema, each as `path: message`, at most `limit`; empty when it is valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))[:limit]
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message[:200]}" for error in errors]


def person(name: str, instance: str) -> str:
    """How an archive names someone: handle@instance."""
    return f"{name}@{instance}"


def video_media(video_id: str, name: str) -> str:
    return f"media/videos/{video_id}/{name}"


def character_media(character_id: str, name: str) -> str:
    return f"media/characters/{character_id}/{name}"
