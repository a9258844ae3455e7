"""Handles: the one shape of a name people and characters are called by (@handle, @name), the words no one may
take, and the one way a typed handle is normalised."""

from __future__ import annotations

import re

from duetto.app.core.errors import InvalidRequest

HANDLE_RE = re.compile(r"^[a-z][a-z0-9_]{2,29}$")
# Words a handle may not take: they would read as the site speaking, or collide with page paths.
RESERVED_HANDLES = frozenset({"admin", "moderator", "mod", "duetto", "support", "staff", "system", "root"})


def normalize_handle(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


def check_handle(handle: str) -> str:
    handle = normalize_handle(handle)
    if not HANDLE_RE.match(handle):
        raise InvalidRequest(
            "Handle must be 3–30 characters: letters, digits or _, starting with a letter.", param="handle"
        )
    if handle in RESERVED_HANDLES:
        raise InvalidRequest(f"The handle @{handle} is reserved; pick another.", param="handle")
    return handle
