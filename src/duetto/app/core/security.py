"""API keys and IDs: how keys are made, shown once, and kept only as hashes."""

from __future__ import annotations

import base64
import hashlib
import secrets

KEY_PREFIX = "dk-"


def new_id(prefix: str) -> str:
    """An opaque, URL-safe identifier such as `video_4f1c…` (OpenAI's id style)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys are long random strings, so one fast hash suffices (no password-style stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
