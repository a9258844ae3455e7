"""Errors of the social domain that the shared errors module has no kind for."""

from __future__ import annotations

from duetto.app.core.errors import DomainError


class Forbidden(DomainError):
    """The viewer is known but may not do this (a block, someone else's content, not a moderator)."""

    code = "forbidden"
