"""Where a character's files live in storage: its card (still and voice) and, for a person, the recordings of
their enrollment."""

from __future__ import annotations


def character_prefix(character_id: str) -> str:
    return f"characters/{character_id}/"


def enrollment_prefix(user_id: str) -> str:
    """Where the enrollment page keeps a person's recordings; deleting their person character purges it."""
    return f"enrollments/{user_id}/"
